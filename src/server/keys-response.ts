import type http from 'node:http';
import type { StoreEvent } from '../store/event.ts';
import type { SlicedRead } from '../store/sliced-read.ts';

/** etcd's v2 error code -> HTTP status; everything else is 400 (ETCD-V2-NOTES 6). */
const ERROR_STATUS: Readonly<Record<number, number>> = {
  100: 404,
  101: 412,
  102: 403,
  105: 412,
  108: 403,
  110: 401,
  300: 500,
  301: 500,
};

export function errorStatus(errorCode: number): number {
  return ERROR_STATUS[errorCode] ?? 400;
}

/** 201 for a creation (create, or set of a key that did not exist), else 200. */
export function eventStatus(event: StoreEvent): number {
  return event.action === 'create' || (event.action === 'set' && event.prevNode === undefined) ? 201 : 200;
}

/** The body of a successful keys reply: `{"action":...}` alone for writes with noValueOnSuccess. */
export function successBody(event: StoreEvent, noValueOnSuccess: boolean): string {
  const reduced = noValueOnSuccess && event.action !== 'get' && event.action !== 'delete' && event.action !== 'compareAndDelete' && event.action !== 'expire';
  return `${JSON.stringify(reduced ? { action: event.action } : event)}\n`;
}

/**
 * Characters of a get's JSON produced per turn of the event loop: a millisecond or two of work,
 * so that a big recursive read never delays heartbeats (a 16 MB tree in one piece held the
 * leader's loop for 2.5 s and cost it its leadership).
 */
const SLICE_CHARS = 64 * 1024;
const GET_HEAD = '{"action":"get","node":';
const GET_TAIL = '}\n';

/**
 * Answers a get from its SlicedRead, byte for byte the body `successBody` would give. One that
 * fits in a slice (nearly all) goes out whole with its length; a longer one is chunked, a slice
 * per turn of the event loop, each once the client has taken the previous (a HEAD counts its
 * length the same way). The read is closed however it ends.
 */
export async function writeGet(res: http.ServerResponse, read: SlicedRead, headers: http.OutgoingHttpHeaders, headOnly: boolean): Promise<void> {
  try {
    let slice = GET_HEAD + read.next(SLICE_CHARS);
    if (read.done || headOnly) {
      let length = Buffer.byteLength(slice) + GET_TAIL.length;
      while (!read.done) {
        await nextTurn();
        length += Buffer.byteLength(read.next(SLICE_CHARS));
      }
      res.writeHead(200, { ...headers, 'content-length': length }).end(headOnly ? undefined : slice + GET_TAIL);
      return;
    }
    let gone = false;
    res.once('close', () => (gone = true));
    res.writeHead(200, headers);
    while (!read.done) {
      await (res.write(slice) ? nextTurn() : drained(res));
      if (gone) return;
      slice = read.next(SLICE_CHARS);
    }
    res.end(slice + GET_TAIL);
  } finally {
    read.close();
  }
}

/**
 * A get's whole body at once, the bytes `writeGet` sends in slices: for a caller that answers
 * with no event loop to keep free (the simulation, tests). The read is closed.
 */
export function wholeGetBody(read: SlicedRead): string {
  try {
    let body = GET_HEAD;
    do body += read.next(SLICE_CHARS);
    while (!read.done);
    return body + GET_TAIL;
  } finally {
    read.close();
  }
}

/** Resolves after the event loop has turned once (timers and I/O included). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves once the response may be written again, or is closed. */
export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
