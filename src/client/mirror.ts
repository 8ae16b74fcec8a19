import type { V2Event, V2Node } from '../api/wire.ts';
import { forEachConcurrently } from './concurrently.ts';
import { isTransientError } from './errors.ts';
import type { ExportedNode } from './export-format.ts';
import { isAtOrBelow } from './export-format.ts';
import { readSubtree } from './export.ts';
import { rebaseKey } from './import.ts';
import type { KeysClient } from './keys-client.ts';
import { OrderedApplier } from './ordered-applier.ts';
import type { NodeToWrite } from './tree-writer.ts';
import { TreeWriter } from './tree-writer.ts';
import { TtlKeeper } from './ttl-keeper.ts';
import { PollWindow } from './poll-window.ts';
import { HistoryClearedError, isRemoval, sleep } from './watcher.ts';

export interface MirrorOptions {
  /** The source key whose tree is mirrored. */
  readonly key: string;
  /** Where it lands in the target. */
  readonly toPrefix: string;
  /** Target writes in flight at once (writes to related keys wait for each other). */
  readonly concurrency: number;
  /** Stops the mirror: run() then resolves with the summary. */
  readonly signal: AbortSignal;
  readonly now: () => number;
  /** Progress lines: each copy, and what the lag report prints. */
  readonly report: (line: string) => void;
  /** A failure the mirror retries. */
  readonly warn: (message: string) => void;
}

export interface MirrorProgress {
  /** The highest source index the mirror has seen. */
  readonly sourceIndex: number;
  /** Every source change up to this index is in the target. */
  readonly appliedIndex: number;
  /** Changes applied since the start (copies not counted). */
  readonly applied: number;
  readonly copies: number;
  readonly copiedNodes: number;
}

/** A copied TTL key is read again from the source this long before it would expire (refreshes are not events). */
const TTL_MARGIN_MS = 1500;

/** Whether some segment of `key` below `root` starts with "_": what the API never lists, so never copied. */
function isHiddenBelow(key: string, root: string): boolean {
  const rest = root === '/' ? key : key.slice(root.length);
  return rest.includes('/_');
}

function nodeToWrite(node: V2Node | ExportedNode): NodeToWrite {
  const expiration = node.expiration !== undefined ? { expiration: node.expiration } : {};
  return node.dir ? { dir: true, ...expiration } : { value: node.value ?? '', ...expiration };
}

function sameContent(a: ExportedNode, b: ExportedNode): boolean {
  return a.dir === b.dir && a.value === b.value && a.expiration === undefined && b.expiration === undefined;
}

/**
 * Copies a tree from a source cluster into a target, then applies every later change of the source
 * in order (a recursive watch from the copied index + 1), until stopped. A lost connection is
 * retried from the last change applied; when the source's history no longer reaches back that far
 * (etcd error 401), the tree is copied again, removing what the source no longer has. Copies of
 * TTL keys are extended while their source keys are refreshed (TtlKeeper).
 */
export class Mirror {
  private readonly source: Pick<KeysClient, 'get' | 'watch'>;
  private readonly target: Pick<KeysClient, 'get' | 'set' | 'delete' | 'refresh'>;
  private readonly writer: TreeWriter;
  private readonly options: MirrorOptions;
  private readonly applier: OrderedApplier;
  private readonly keeper: TtlKeeper;
  private sourceIndex = 0;
  private applied = 0;
  private copies = 0;
  private copiedNodes = 0;

  constructor(source: Pick<KeysClient, 'get' | 'watch'>, target: Pick<KeysClient, 'get' | 'set' | 'delete' | 'refresh'>, options: MirrorOptions) {
    this.source = source;
    this.target = target;
    this.writer = new TreeWriter(target);
    this.options = options;
    this.applier = new OrderedApplier(options.concurrency);
    this.keeper = new TtlKeeper(source, target, { marginMs: TTL_MARGIN_MS, now: options.now, warn: options.warn });
  }

  progress(): MirrorProgress {
    return { sourceIndex: this.sourceIndex, appliedIndex: this.applier.appliedIndex, applied: this.applied, copies: this.copies, copiedNodes: this.copiedNodes };
  }

  /** Copies and follows until the signal aborts; resolves with where it stopped. */
  async run(): Promise<MirrorProgress> {
    const keepAlive = setInterval(() => void this.keeper.extendDue(), TTL_MARGIN_MS / 6);
    try {
      for (;;) {
        const copiedIndex = await this.copy();
        this.applier.restartAt(copiedIndex);
        const ended = await this.follow(copiedIndex);
        if (ended === 'stopped') return this.progress();
        this.options.warn(`the source's event history has moved past index ${this.applier.appliedIndex + 1}: copying the tree again`);
      }
    } catch (error) {
      if (this.options.signal.aborted) return this.progress();
      throw error;
    } finally {
      clearInterval(keepAlive);
    }
  }

  /** Makes the target's tree equal to the source's at one index, and returns that index. */
  private async copy(): Promise<number> {
    const { key, toPrefix } = this.options;
    const source = await this.retrying(() => readSubtree(this.source, key));
    const wanted = new Map(source.nodes.filter((node) => !isHiddenBelow(node.key, key)).map((node) => [rebaseKey(node.key, key, toPrefix), node]));
    const present = await this.retrying(() => readSubtree(this.target, toPrefix));
    const current = new Map(present.nodes.map((node) => [node.key, node]));
    await this.removeExtra(present.nodes, wanted);
    const changed = [...wanted].filter(([target, node]) => target !== '/' && !(current.has(target) && sameContent(current.get(target)!, node)));
    const write = ([target, node]: [string, ExportedNode]): Promise<void> => this.retrying(async () => void (await this.writer.write(target, nodeToWrite(node), 'replace', this.options.now())));
    // Directories first, parents before children, so that each keeps its own TTL.
    for (const entry of changed) if (entry[1].dir) await write(entry);
    await forEachConcurrently(changed.filter(([, node]) => !node.dir), this.options.concurrency, write, this.options.signal);
    this.keeper.clear();
    for (const [target, node] of wanted) this.keeper.track(target, node.key, !node.dir, node.expiration);
    this.sourceIndex = Math.max(this.sourceIndex, source.index);
    this.copies++;
    this.copiedNodes += changed.length;
    this.options.report(`mirror: copied ${key} at source index ${source.index} to ${toPrefix} (${wanted.size} nodes, ${changed.length} written); following changes`);
    return source.index;
  }

  /** Removes target nodes the source does not have, or has as the other kind (file or directory). */
  private async removeExtra(present: readonly ExportedNode[], wanted: ReadonlyMap<string, ExportedNode>): Promise<void> {
    let removed: string | undefined;
    for (const node of present) {
      if (removed !== undefined && isAtOrBelow(node.key, removed)) continue;
      const source = wanted.get(node.key);
      if (node.key === '/' || (source !== undefined && source.dir === node.dir)) continue;
      await this.retrying(() => this.writer.remove(node.key));
      removed = node.key;
    }
  }

  /** Applies the source's changes after `afterIndex` until stopped ('stopped') or out of history ('cleared'). */
  private async follow(afterIndex: number): Promise<'stopped' | 'cleared'> {
    const changes = new PollWindow(this.source, afterIndex, this.options.concurrency, { key: this.options.key, recursive: true, retryRounds: Infinity, signal: this.options.signal, warn: this.options.warn });
    try {
      for (;;) {
        const event = await changes.next();
        const node = event.node!;
        const index = node.modifiedIndex!;
        this.sourceIndex = Math.max(this.sourceIndex, changes.serverIndex, index);
        // The history answers changes of hidden keys that live watches leave out: never copied, never followed.
        if (isHiddenBelow(node.key!, this.options.key)) {
          this.applier.skip(index);
          continue;
        }
        const target = rebaseKey(node.key!, this.options.key, this.options.toPrefix);
        await this.applier.add(index, target, () => this.apply(event, target));
      }
    } catch (error) {
      if (error instanceof HistoryClearedError) {
        await this.applier.drain();
        return 'cleared';
      }
      if (!this.options.signal.aborted) throw error;
      await this.applier.drain().catch(() => undefined);
      return 'stopped';
    } finally {
      changes.close();
    }
  }

  private async apply(event: V2Event, target: string): Promise<void> {
    const node = event.node!;
    await this.retrying(async () => {
      if (isRemoval(event)) await this.writer.remove(target);
      else await this.writer.write(target, nodeToWrite(node), 'replace', this.options.now());
    });
    if (isRemoval(event)) this.keeper.forget(target);
    else this.keeper.track(target, node.key!, !node.dir, node.expiration);
    this.applied++;
  }

  /** Sends again, after a pause, until the cluster answers or the mirror is stopped. */
  private async retrying<T>(send: () => Promise<T>): Promise<T> {
    for (let round = 1; ; round++) {
      try {
        return await send();
      } catch (error) {
        if (!isTransientError(error) || this.options.signal.aborted) throw error;
        const delayMs = Math.min(5000, 250 * 2 ** (round - 1));
        this.options.warn(`${(error as Error).message}; trying again in ${delayMs} ms`);
        await sleep(delayMs, this.options.signal);
      }
    }
  }
}
