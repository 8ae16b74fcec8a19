// JSON shapes of etcd's v2 keys API, as the server writes them and the client reads them.
// Field order matters for byte-exact answers: it is the order etcd's Go structs declare.

export interface V2Node {
  key?: string;
  value?: string;
  dir?: boolean;
  expiration?: string;
  ttl?: number;
  nodes?: V2Node[];
  modifiedIndex?: number;
  createdIndex?: number;
}

export type V2Action =
  | 'get'
  | 'set'
  | 'create'
  | 'update'
  | 'delete'
  | 'compareAndSwap'
  | 'compareAndDelete'
  | 'expire';

export interface V2Event {
  action: V2Action;
  node?: V2Node;
  prevNode?: V2Node;
}

export interface V2ErrorBody {
  errorCode: number;
  message: string;
  cause?: string;
  index: number;
}

export function isV2ErrorBody(value: unknown): value is V2ErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<string, unknown>;
  return typeof body.errorCode === 'number' && typeof body.message === 'string';
}

/** A member as /v2/members lists it; `isLearner` is kvd's extension (only when true). */
export interface V2Member {
  id: string;
  name: string;
  peerURLs: readonly string[];
  clientURLs: readonly string[];
  isLearner?: boolean;
}
