// The crash test's writer: appends entries (four in flight at a time, so that group commit is
// exercised) with a hard state committing each, and prints "<index> <term>" once each is durable.
// Each life takes a new term. The parent kill -9s it at random moments.
import { DiskStorage } from '../../src/storage/disk-storage.ts';
import { payloadFor } from './crash-payload.ts';

const storage = await DiskStorage.open(process.argv[2]!);
let index = storage.lastIndex();
const term = storage.initialState().hardState.term + 1;
process.stdout.write(`ready ${index}\n`);
for (;;) {
  const inFlight: Array<Promise<number>> = [];
  for (let k = 0; k < 4; k++) {
    const entry = { index: ++index, term, type: 'normal' as const, data: payloadFor(index, term) };
    inFlight.push(storage.persist({ entries: [entry], hardState: { term, vote: 1, commit: entry.index }, sync: true }).then(() => entry.index));
  }
  for (const acknowledged of inFlight) process.stdout.write(`${await acknowledged} ${term}\n`);
}
