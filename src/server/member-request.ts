/** A members POST or PUT body that passed the checks: origins of the peer URLs, and whether a learner is asked for. */
export interface MemberRequest {
  readonly peerURLs: string[];
  readonly isLearner: boolean;
}

/** Why a members body was refused, in etcd's words (the API answers it as 400 {"message": ...}). */
export interface MemberRequestRefusal {
  readonly message: string;
}

/** The JSON type name Go's encoding/json puts in its "cannot unmarshal" errors. */
function goJsonType(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

const cannot = (value: unknown, into: string): MemberRequestRefusal => ({ message: `json: cannot unmarshal ${goJsonType(value)} into ${into}` });

/**
 * Checks one peer URL as etcd's types.NewURLs does (in its order: the scheme, then host:port, then
 * no path), and returns its origin. unix:// is etcd's too, but kvd's peers speak HTTP(S) only.
 */
function peerOrigin(raw: string): string | MemberRequestRefusal {
  const text = raw.trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  if (scheme === 'unix' || scheme === 'unixs') return { message: `URL scheme must be http or https (kvd's peers do not listen on unix sockets): ${text}` };
  if (scheme !== 'http' && scheme !== 'https') return { message: `URL scheme must be http, https, unix, or unixs: ${text}` };
  const parts = /^[^:]+:\/\/([^/?#]*)([^?#]*)/.exec(text);
  if (parts === null || !/^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):\d+$/.test(parts[1]!)) return { message: `URL address does not have the form "host:port": ${text}` };
  if (parts[2] !== '') return { message: `URL must not contain a path: ${text}` };
  try {
    return new URL(text).origin;
  } catch {
    return { message: `parse "${text}": not a URL` };
  }
}

/**
 * Reads a parsed members body `{"peerURLs": [...], "isLearner": bool}` as etcd's v2 API does: a
 * value of the wrong JSON type gets Go's unmarshal error, missing or empty peerURLs "no valid URLs
 * given", `null` counts as absent. isLearner is kvd's (etcd 3.4's v2 API ignores it); anything but
 * a boolean is refused, since taking "yes" for false would add a voter to a cluster asked for a learner.
 */
export function parseMemberRequest(body: unknown): MemberRequest | MemberRequestRefusal {
  if (body !== null && (typeof body !== 'object' || Array.isArray(body))) return cannot(body, 'Go value of type struct { PeerURLs []string "json:\\"peerURLs\\"" }');
  const { peerURLs, isLearner } = (body ?? {}) as { peerURLs?: unknown; isLearner?: unknown };
  if (peerURLs !== undefined && peerURLs !== null && !Array.isArray(peerURLs)) return cannot(peerURLs, 'Go struct field .peerURLs of type []string');
  const urls: unknown[] = Array.isArray(peerURLs) ? peerURLs : [];
  const wrong = urls.find((u) => u !== null && typeof u !== 'string');
  if (wrong !== undefined) return cannot(wrong, 'Go struct field .peerURLs of type string');
  if (isLearner !== undefined && isLearner !== null && typeof isLearner !== 'boolean') return cannot(isLearner, 'Go struct field .isLearner of type bool');
  if (urls.length === 0) return { message: 'no valid URLs given' };
  const origins: string[] = [];
  for (const url of urls) {
    const origin = peerOrigin((url as string | null) ?? '');
    if (typeof origin !== 'string') return origin;
    origins.push(origin);
  }
  return { peerURLs: origins, isLearner: isLearner === true };
}
