import { parseNonNegativeInteger } from '../api/numbers.ts';
import { UsageError } from './errors.ts';

/**
 * A key's or directory's --ttl: whole seconds, at least 1. 0 is refused because it means two
 * things: etcdctl reads it as "no TTL", while the v2 API deletes such a key at once.
 */
export function parseKeyTtl(value: string): number {
  const ttl = parseNonNegativeInteger('--ttl', value);
  if (ttl === 0) throw new UsageError('--ttl 0: a TTL is at least 1 second; leave --ttl out for a key that never expires');
  return ttl;
}
