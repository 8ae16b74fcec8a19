// Replaces src/cli/programs.ts in the executable's main script (scripts/build.mjs). kvctl's and
// kvd's command trees travel as a second script, an SEA asset with its own V8 code cache, that is
// compiled only when a command needs it: `--version` and kvctl's quick path never compile its
// ~2 MB. The asset names are build.mjs's.
let programs;

/** Compiles and runs the second script, once: an async function that resolves to { kvctl, kvd }. */
function load() {
  if (programs === undefined) {
    // Not imported at the top: an import of node:sea (no bare name, so the build leaves it an import) runs at start-up.
    const { getAsset, getRawAsset } = process.getBuiltinModule('node:sea');
    const { Script } = process.getBuiltinModule('node:vm');
    const script = new Script(getAsset('programs.js', 'utf8'), { filename: 'kvd-programs.js', cachedData: new Uint8Array(getRawAsset('programs.cache')) });
    // Its CommonJS modules need the main script's require (for Node's built-ins); yargs and ink read import.meta.
    programs = script.runInThisContext()(require, import.meta);
  }
  return programs;
}

export async function kvctl(args) {
  return (await load()).kvctl(args);
}

export async function kvd(args) {
  return (await load()).kvd(args);
}
