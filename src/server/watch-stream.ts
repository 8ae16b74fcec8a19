import type http from 'node:http';
import type { StoreEvent } from '../store/event.ts';
import { chunkOf, directSocket } from './chunked.ts';
import type { KeysWatchAnswer } from './keys-service.ts';
import { StreamBacklog } from './stream-backlog.ts';

/** How far (bytes unflushed) a watch stream's client may fall behind before its stream is ended. */
const WATCH_BACKLOG_LIMIT = 1 << 20;

/** An event as watchers receive it, serialised once however many watchers it goes to. */
const eventLines = new WeakMap<StoreEvent, string>();
function serialised(event: StoreEvent): string {
  let line = eventLines.get(event);
  if (line === undefined) {
    line = `${JSON.stringify(event)}\n`;
    eventLines.set(event, line);
  }
  return line;
}

/**
 * An event as one chunk of a chunked response, framed once for all the streams it goes to and
 * written straight to their sockets: the HTTP layer's per-write framing and corking had made the
 * fan-out to 10,000 streams half again as slow.
 */
const eventChunks = new WeakMap<StoreEvent, Buffer>();
function framedChunk(event: StoreEvent): Buffer {
  let chunk = eventChunks.get(event);
  if (chunk === undefined) {
    chunk = chunkOf(serialised(event));
    eventChunks.set(event, chunk);
  }
  return chunk;
}

/**
 * Answers a watch over HTTP as etcd does: the headers at once (the index at registration), then
 * the event, or every event of a stream. A stream whose client falls too far behind is closed at
 * once, which frees what was buffered for it (the client re-watches from the index after its
 * last event), and `onSlowStream` is told.
 */
export function streamWatch(req: http.IncomingMessage, res: http.ServerResponse, answer: KeysWatchAnswer, onSlowStream: (key: string, backlogBytes: number) => void): void {
  const { watch } = answer;
  const socket = req.socket;
  // A client gone while the request was checked (auth, its body) sent its 'close' and 'end'
  // already: none would come to take the watcher out of the hub.
  if (socket.destroyed || socket.readableEnded) return void watch.close();
  // etcd flushes the head at once, for the client that waits for it. An answer from the history
  // needs no wait: its head goes out with the event, in one socket write instead of two.
  const headFlushed = watch.live;
  let finished = false;
  const finish = (): void => {
    if (finished) return;
    finished = true;
    watch.close();
    socket.off('end', finish);
    if (!res.writableEnded && !res.destroyed) res.end();
  };
  const backlog = watch.stream ? new StreamBacklog(res, WATCH_BACKLOG_LIMIT) : undefined;
  const deliver = (event: StoreEvent): void => {
    if (finished) return;
    if (backlog?.exceeded() === true) {
      const backlogBytes = backlog.bytes;
      res.destroy();
      finish();
      return onSlowStream(watch.key, backlogBytes);
    }
    // A head only stored (`headersSent` already says true) goes out with the first write through the response.
    const direct = headFlushed ? directSocket(res) : undefined;
    if (direct === undefined) {
      res.write(serialised(event));
      if (!watch.stream) finish();
    } else if (watch.stream) {
      direct.write(framedChunk(event));
    } else {
      // A long poll's event and the end of its body leave in one socket write.
      direct.cork();
      direct.write(framedChunk(event));
      finish();
      direct.uncork();
    }
  };
  res.writeHead(answer.status, answer.headers);
  if (headFlushed) res.flushHeaders();
  // The watcher leaves the hub when the client goes away first: its connection closes (the
  // response's 'close' follows), or it half-closes it (FIN), which etcd takes as gone too
  // while other requests are answered. A kept-alive socket serves many watches: its listener
  // goes with the watch.
  res.on('close', finish);
  socket.on('end', finish);
  watch.listen(deliver, finish);
  backlog?.replayed();
  if (!watch.live) finish();
}
