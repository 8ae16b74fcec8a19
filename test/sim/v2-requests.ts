// The simulated clients' way into a member: etcd's v2 keys requests answered by the keys service
// (src/server/keys-service.ts), the same handling the HTTP layer uses, without the HTTP.
import type { StoreEvent } from '../../src/store/event.ts';
import type { KeysMethod } from '../../src/server/keys-request.ts';
import { successBody, wholeGetBody } from '../../src/server/keys-response.ts';
import type { KeysCall, KeysHost } from '../../src/server/keys-service.ts';
import { answerKeys } from '../../src/server/keys-service.ts';

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

function call(request: V2Request, now: number): KeysCall {
  return { method: request.method, keyPath: request.key, query: request.query, contentType: 'application/x-www-form-urlencoded', body: request.body ?? '', now, allowed: () => Promise.resolve(true) };
}

/** A keys request that is not a watch: a write through Raft, or a get (quorum or local). */
export async function keysRequest(member: KeysHost, request: V2Request, now: number): Promise<V2Answer> {
  const answer = await answerKeys(member, call(request, now));
  if (answer.kind === 'reply') return { status: answer.status, body: answer.body };
  if (answer.kind === 'read') return { status: answer.status, body: wholeGetBody(answer.read) };
  answer.watch.close();
  throw new Error('keysRequest: a watch goes through watchRequest');
}

/** A long-poll watch (`wait=true`, optional `waitIndex`): answered by its first event. */
export function watchRequest(member: KeysHost, request: V2Request, now: number): V2Watch {
  let cancelled = false;
  let close = (): void => {};
  const answer = answerKeys(member, call(request, now)).then((started) => {
    if (started.kind === 'reply') return { status: started.status, body: started.body };
    if (started.kind !== 'watch') throw new Error('watchRequest: not a watch');
    const watch = started.watch;
    close = () => watch.close();
    if (cancelled) close();
    return new Promise<V2Answer>((resolve) => {
      const finish = (result: V2Answer): void => {
        watch.close();
        resolve(result);
      };
      // A snapshot replacing the store ends the watch with no event, as the HTTP layer ends it.
      watch.listen((event: StoreEvent) => finish({ status: 200, body: successBody(event, false) }), () => finish({ status: 200, body: '' }));
    });
  });
  return {
    answer,
    cancel: () => {
      cancelled = true;
      close();
    },
  };
}
