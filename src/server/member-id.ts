import { createHash } from 'node:crypto';

/**
 * Member and cluster ids, derived as etcd does from what identifies them (the peer URLs and the
 * cluster token), so that every member computes the same ids from the same flags. kvd keeps them
 * to 52 bits so that they are exact in JavaScript numbers; they print as etcd's do (Go's `%x`: hex,
 * no zero padding), and parse with or without it.
 */
function hash52(text: string): number {
  const digest = createHash('sha256').update(text).digest();
  const id = (digest.readUInt32BE(0) & 0xfffff) * 0x1_0000_0000 + digest.readUInt32BE(4);
  return id === 0 ? 1 : id;
}

export function memberIdFor(peerUrls: readonly string[], clusterToken: string): number {
  return hash52(`member:${[...peerUrls].sort().join(',')}:${clusterToken}`);
}

export function clusterIdFor(memberIds: readonly number[], clusterToken: string): number {
  return hash52(`cluster:${[...memberIds].sort((a, b) => a - b).join(',')}:${clusterToken}`);
}

export function formatId(id: number): string {
  return id.toString(16);
}

export function parseId(text: string): number | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return undefined;
  const id = parseInt(text, 16);
  return Number.isSafeInteger(id) && id > 0 ? id : undefined;
}
