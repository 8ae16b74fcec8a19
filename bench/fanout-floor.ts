// The floor for watch delivery on this machine: three processes that do only what a member's
// fan-out must do (hold the watch streams, frame each event once, write it to every stream), with
// writes passed between them over IPC instead of Raft: no store, no log, no fsync. `make bench`
// drives it with the same `kvctl bench watch` as kvd and etcd, so its delivery latency is what the
// machine itself allows (sockets, loopback TCP, the generator on the same cores), the bound under
// any store's figure.
//
// It answers just enough of the v2 API for the watch load: PUT /v2/keys/<key> with a form value
// (answered once every member has the event), GET ...?wait=true&stream=true (a chunked stream
// of the events written from then on) and GET ...?wait=true&waitIndex=N (a long poll answered
// with event N from the last HISTORY events, or with the next event when N is still to come).
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type net from 'node:net';
import { chunkOf } from '../src/server/chunked.ts';

/** How many of the last events a long poll can still be answered from, as etcd's history. */
const HISTORY = 1000;

interface PutMessage {
  readonly put: string;
  readonly value: string;
  readonly id: number;
}

interface EventMessage {
  readonly line: string;
  /** The member that received the write, and its request id there: it answers once it fanned out. */
  readonly origin: number;
  readonly id: number;
}

/** Three fan-out processes on 127.0.0.1 (ephemeral ports); `endpoints` for kvctl. */
export class FanoutFloor {
  private readonly children: readonly ChildProcess[];
  readonly endpoints: string;

  private constructor(children: readonly ChildProcess[], endpoints: string) {
    this.children = children;
    this.endpoints = endpoints;
  }

  static async start(members = 3): Promise<FanoutFloor> {
    const children = Array.from({ length: members }, (_, n) => fork(import.meta.filename, ['member', String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    let index = 0;
    const started = Promise.all(
      children.map(
        (child, origin) =>
          new Promise<number>((resolve, reject) => {
            child.once('error', reject);
            child.once('exit', (code, signal) => reject(new Error(`fan-out member ${origin} exited (${signal ?? code}) before listening`)));
            child.on('message', (message: { port?: number } & Partial<PutMessage>) => {
              if (message.port !== undefined) return resolve(message.port);
              // One order for every member: the index is given here, as a leader would.
              index++;
              const line = `${JSON.stringify({ action: 'set', node: { key: message.put, value: message.value, modifiedIndex: index, createdIndex: index } })}\n`;
              const event: EventMessage = { line, origin, id: message.id! };
              for (const each of children) each.send(event);
            });
          }),
      ),
    );
    const floor = new FanoutFloor(children, '');
    let ports: number[];
    try {
      ports = await started;
    } catch (error) {
      // One member failing leaves none of the others running.
      await floor.stop();
      throw error;
    }
    return new FanoutFloor(children, ports.map((port) => `http://127.0.0.1:${port}`).join(','));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map((child) => {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
        return new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        });
      }),
    );
  }
}

/** One fan-out process: holds streams, writes each event it is sent to all of them. */
function member(self: number): void {
  const streams = new Set<net.Socket>();
  const answers = new Map<number, http.ServerResponse>();
  /** Long polls waiting for an event still to come. */
  let polls = new Set<http.ServerResponse>();
  const history = new Map<number, string>();
  let nextId = 0;
  let index = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://floor');
    if (req.method === 'GET' && url.searchParams.get('wait') === 'true') {
      // As etcd: the headers at once, the event when there is one.
      res.writeHead(200, { 'content-type': 'application/json', 'x-etcd-index': String(index) });
      res.flushHeaders();
      if (url.searchParams.get('stream') === 'true') {
        const socket = res.socket!;
        streams.add(socket);
        socket.on('close', () => streams.delete(socket));
        return;
      }
      const past = history.get(Number(url.searchParams.get('waitIndex') ?? index + 1));
      if (past !== undefined) return void res.end(past);
      polls.add(res);
      res.on('close', () => polls.delete(res));
      return;
    }
    if (req.method !== 'PUT') {
      res.writeHead(404).end();
      return;
    }
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const id = nextId++;
      answers.set(id, res);
      const message: PutMessage = { put: url.pathname.replace(/^\/v2\/keys/, ''), value: new URLSearchParams(Buffer.concat(parts).toString()).get('value') ?? '', id };
      process.send!(message);
    });
  });
  process.on('message', (event: EventMessage) => {
    index++;
    history.set(index, event.line);
    history.delete(index - HISTORY);
    const chunk = chunkOf(event.line);
    for (const socket of streams) socket.write(chunk);
    const answered = polls;
    polls = new Set();
    for (const res of answered) res.end(event.line);
    if (event.origin !== self) return;
    const res = answers.get(event.id);
    answers.delete(event.id);
    res?.writeHead(200, { 'content-type': 'application/json' }).end(event.line);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as net.AddressInfo).port }));
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[2] === 'member') member(Number(process.argv[3]));
