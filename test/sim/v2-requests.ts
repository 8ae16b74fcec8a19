// The simulated clients' way into a member: etcd's v2 keys requests, handled as the HTTP layer
// (client-api.ts) handles them, without the HTTP. The one file to change when the keys service
// (src/server/keys-service.ts) takes that handling out of client-api.ts.
import type { StoreEvent } from '../../src/store/event.ts';
import { StoreError } from '../../src/store/store-error.ts';
import { FormError, parseForm } from '../../src/server/form.ts';
import { commandFor } from '../../src/server/keys-command.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import { parseKeysRequest } from '../../src/server/keys-request.ts';
import { errorStatus, eventStatus, successBody } from '../../src/server/keys-response.ts';
import type { Member } from '../../src/server/member.ts';

/** A keys request as a client sends it: `/v2/keys<key>?<query>`, with a form body for writes. */
export interface V2Request {
  readonly method: KeysMethod;
  readonly key: string;
  readonly query: string;
  readonly body?: string;
}

/** What the HTTP layer would answer: the status and the JSON body. */
export interface V2Answer {
  readonly status: number;
  readonly body: string;
}

/** A long-poll watch: its answer (the first event, or an empty 200 when the watch ends), and how to give up. */
export interface V2Watch {
  readonly answer: Promise<V2Answer>;
  cancel(): void;
}

type KeysMember = Pick<Member, 'proposeKeys' | 'linearizableRead' | 'store' | 'storeReplacedListeners'>;

const FORM_TYPE = 'application/x-www-form-urlencoded';

function errorAnswer(error: StoreError): V2Answer {
  return { status: errorStatus(error.errorCode), body: `${JSON.stringify(error.toJSON())}\n` };
}

function parse(request: V2Request): ReturnType<typeof parseKeysRequest> {
  try {
    const { form, error } = parseForm(request.method, request.query, FORM_TYPE, request.body ?? '');
    if (error !== undefined) throw new StoreError(210, error.message, 0);
    return parseKeysRequest(request.method, request.key, form);
  } catch (error) {
    if (error instanceof FormError) throw new StoreError(210, error.message, 0);
    throw error;
  }
}

/** A keys request that is not a watch: a write through Raft, or a get (quorum or local). */
export async function keysRequest(member: KeysMember, request: V2Request, now: number): Promise<V2Answer> {
  try {
    const parsed = parse(request);
    if (parsed.wait) throw new Error('keysRequest: a watch goes through watchRequest');
    if (parsed.method === 'GET' || parsed.method === 'HEAD') {
      if (parsed.quorum) await member.linearizableRead();
      const read = member.store.read(parsed.key, parsed.recursive, parsed.sorted, now);
      let node = '';
      while (!read.done) node += read.next(Infinity);
      read.close();
      return { status: 200, body: `{"action":"get","node":${node}}\n` };
    }
    const applied = await member.proposeKeys(commandFor(parsed, now));
    return { status: eventStatus(applied.event), body: successBody(applied.event, parsed.noValueOnSuccess) };
  } catch (error) {
    if (error instanceof StoreError) return errorAnswer(error);
    throw error;
  }
}

/** A long-poll watch (`wait=true`, optional `waitIndex`) on the member's store, as client-api.ts registers one. */
export function watchRequest(member: KeysMember, request: V2Request): V2Watch {
  let settle: (answer: V2Answer) => void = () => {};
  const answer = new Promise<V2Answer>((resolve) => (settle = resolve));
  let finished = false;
  let watcher: { remove(): void } | null = null;
  const finish = (result: V2Answer): void => {
    if (finished) return;
    finished = true;
    watcher?.remove();
    member.storeReplacedListeners.delete(ended);
    settle(result);
  };
  // A snapshot replacing the store ends the watch with no event, as the HTTP layer ends it.
  const ended = (): void => finish({ status: 200, body: '' });
  try {
    const parsed = parse(request);
    const start = member.store.watch(parsed.key, parsed.recursive, false, parsed.waitIndex, (event: StoreEvent) => finish({ status: 200, body: successBody(event, false) }));
    watcher = start.watcher;
    member.storeReplacedListeners.add(ended);
    for (const event of start.events) finish({ status: 200, body: successBody(event, false) });
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    finish(errorAnswer(error));
  }
  return { answer, cancel: () => finish({ status: 0, body: '' }) };
}
