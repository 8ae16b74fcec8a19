import assert from 'node:assert/strict';
import { seededRandom } from '../../src/raft/rand.ts';
import { PERMANENT } from '../../src/store/node.ts';
import type { SlicedRead } from '../../src/store/sliced-read.ts';
import { Store, expireTimeFor } from '../../src/store/store.ts';
import { StoreError } from '../../src/store/store-error.ts';

const T0 = Date.UTC(2026, 10, 30, 7, 0, 0);
const permanent = { expireTime: PERMANENT };

/** Every slice of a read, in order, with `between` run after each one but the last. */
function slices(read: SlicedRead, budget: number, between: () => void = () => {}): string[] {
  const out: string[] = [];
  for (;;) {
    out.push(read.next(budget));
    if (read.done) break;
    between();
  }
  read.close();
  return out;
}

/** A tree with what a listing must get right: hidden keys, TTLs, empty and nested directories, escapes. */
function variedStore(): Store {
  const store = new Store();
  store.set('/a/b/c', false, 'deep', permanent, T0);
  store.set('/a/b/d', false, 'quote " and \\ and \n and ключ ✓ 😀', permanent, T0);
  store.set('/a/_hidden', false, 'h', permanent, T0);
  store.set('/a/_hdir/x', false, 'hx', permanent, T0);
  store.set('/a/empty', true, '', permanent, T0);
  store.set('/a/onlyhidden/_h', false, '', permanent, T0);
  store.set('/a/ttl', false, 'soon', { expireTime: expireTimeFor(30, T0 - 1500) }, T0);
  store.set('/a/ttldir', true, '', { expireTime: expireTimeFor(5, T0) }, T0);
  store.set('/a/expired', false, 'awaiting its sweep', { expireTime: T0 - 1 }, T0);
  for (const name of ['z', 'é', 'A', '10', '9', '\u{e000}', '😀']) store.set(`/a/order/${name}`, false, name, permanent, T0);
  store.create('/queue', false, 'first', true, permanent, T0);
  store.create('/queue', false, 'second', true, permanent, T0);
  store.set('/a/b/c', false, 'replaced', permanent, T0);
  store.update('/a/b/d', 'updated', permanent, T0);
  store.set('/top', false, '', permanent, T0);
  return store;
}

describe('store: a get in slices (SlicedRead)', () => {
  const keys = ['/', '/a', '/a/b', '/a/order', '/a/empty', '/a/onlyhidden', '/a/ttldir', '/a/ttl', '/a/_hidden', '/a/_hdir', '/queue', '/top', '/a/expired'];

  it('writes exactly what JSON.stringify writes of the get, whatever the slice budget', () => {
    const store = variedStore();
    for (const key of keys) {
      for (const recursive of [false, true]) {
        for (const sorted of [false, true]) {
          const expected = JSON.stringify(store.get(key, recursive, sorted, T0).node);
          for (const budget of [1, 7, 100, Number.POSITIVE_INFINITY]) {
            const read = store.read(key, recursive, sorted, T0);
            assert.equal(slices(read, budget).join(''), expected, `${key} recursive=${recursive} sorted=${sorted} budget=${budget}`);
          }
        }
      }
    }
  });

  it('cuts a listing into slices of about the budget, never inside a node', () => {
    const store = new Store();
    for (let i = 0; i < 100; i++) store.set(`/many/k${i}`, false, `value ${i}`, permanent, T0);
    const parts = slices(store.read('/many', true, false, T0), 200);
    assert.ok(parts.length > 10, `${parts.length} slices`);
    for (const part of parts.slice(0, -1)) assert.ok(part.length >= 200 && part.length < 300, `a slice of ${part.length}`);
    assert.equal(slices(store.read('/many', true, false, T0), Number.POSITIVE_INFINITY).length, 1);
  });

  it('shows the tree at the index it began, whatever is written between its slices', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const random = seededRandom(seed);
      const store = new Store();
      const names = ['a', 'b', 'c', '_h', 'd'];
      const randomPath = (depth: number) => Array.from({ length: 1 + Math.floor(random() * depth) }, () => names[Math.floor(random() * names.length)]).join('/');
      const ttl = () => (random() < 0.3 ? { expireTime: T0 + Math.floor(random() * 10_000) } : permanent);
      const existingPath = () => {
        const paths = [...store.nodes()].map(([path]) => path);
        return paths.length === 0 ? '/a' : paths[Math.floor(random() * paths.length)]!;
      };
      const write = () => {
        const path = random() < 0.5 ? existingPath() : `/${randomPath(4)}`;
        const roll = random();
        try {
          if (roll < 0.3) store.set(path, random() < 0.1, `v${store.index}`, ttl(), T0);
          else if (roll < 0.4) store.create(path, false, `q${store.index}`, true, ttl(), T0);
          else if (roll < 0.55) store.update(path, random() < 0.5 ? `u${store.index}` : '', ttl(), T0);
          else if (roll < 0.65) store.compareAndSwap(path, '', 0, `s${store.index}`, ttl(), T0);
          else if (roll < 0.75) store.set(path, false, '', { expireTime: T0 + 1000, refresh: true }, T0);
          else if (roll < 0.9) store.delete(path, true, true, T0);
          else store.deleteExpiredKeys(T0 + Math.floor(random() * 10_000));
        } catch (error) {
          if (!(error instanceof StoreError)) throw error;
        }
      };
      for (let i = 0; i < 150; i++) write();
      const key = random() < 0.5 ? '/' : `/${names[Math.floor(random() * 3)]}`;
      const [recursive, sorted] = [random() < 0.8, random() < 0.5];
      let expected: string;
      try {
        expected = JSON.stringify(store.get(key, recursive, sorted, T0).node);
      } catch {
        continue;
      }
      const read = store.read(key, recursive, sorted, T0);
      assert.equal(read.index, store.index);
      const got = slices(read, 1 + Math.floor(random() * 40), () => {
        for (let i = Math.floor(random() * 4); i > 0; i--) write();
      }).join('');
      assert.equal(got, expected, `seed ${seed}: ${key} recursive=${recursive} sorted=${sorted}`);
    }
  });

  it('fails as a get does, and counts as a get', () => {
    const store = variedStore();
    const before = store.stats.getsSuccess;
    assert.throws(() => store.read('/nope/x', true, false, T0), (error: unknown) => error instanceof StoreError && error.errorCode === 100);
    slices(store.read('/a', false, false, T0), 10);
    assert.deepEqual([store.stats.getsSuccess - before, store.stats.getsFail], [1, 1]);
  });
});
