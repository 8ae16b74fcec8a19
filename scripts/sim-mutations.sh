#!/usr/bin/env bash
# The whole-cluster simulation's mutation check: each patch in scripts/sim-mutations/ puts back a
# bug the simulation must catch (a write re-proposed and applied twice, a quorum read answered
# before its ReadIndex is applied, TTLs expired on a member's own clock). Each is applied to a
# copy of the tree and the simulation runs on seeds [START, START+SEEDS) until one fails that
# passes without the patch (a seed that fails either way says nothing about the mutation).
# Prints, per mutation, whether it was caught and at which seed; exits 1 if one was not.
# Usage: [SEEDS=300] [START=0] scripts/sim-mutations.sh
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-300}
start=${START:-0}
end=$((start + seeds))
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The first seed in [from, end) on which the tree in $1 fails, or nothing.
first_failure() {
  (cd "$1" && SEEDS=$((end - $2)) START=$2 STOP_AT_FAILURE=1 node_modules/.bin/node test/sim/sim-cli.ts 2>&1 || true) | grep -m1 -o '^FAIL seed [0-9]*' | grep -o '[0-9]*$' || true
}

passes() {
  SEED=$1 node_modules/.bin/node test/sim/sim-cli.ts > /dev/null 2>&1
}

missed=0
for patch in scripts/sim-mutations/*.patch; do
  name=$(basename "$patch" .patch)
  copy="$work/$name"
  mkdir -p "$copy"
  tar -C "$root" --exclude=./node_modules --exclude=./.git --exclude=./dist --exclude=./bin -cf - . | tar -C "$copy" -xf -
  ln -s "$root/node_modules" "$copy/node_modules"
  if ! patch -s -p1 -d "$copy" < "$patch"; then
    echo "$name: the patch no longer applies (regenerate it against src/server)"
    missed=1
    continue
  fi
  started=$(date +%s)
  from=$start
  caught=''
  while [[ -z $caught && $from -lt $end ]]; do
    seed=$(first_failure "$copy" "$from")
    [[ -z $seed ]] && break
    if passes "$seed"; then caught=$seed; else from=$((seed + 1)); fi
  done
  seconds=$(( $(date +%s) - started ))
  if [[ -n $caught ]]; then
    why=$(cd "$copy" && SEED=$caught node_modules/.bin/node test/sim/sim-cli.ts 2>&1 | grep -A1 -m1 '^FAIL seed' | tail -1 | cut -c1-160 || true)
    echo "$name: caught at seed $caught (${seconds} s):$why"
  else
    echo "$name: NOT caught in seeds $start..$((end - 1)) (${seconds} s)"
    missed=1
  fi
done
exit $missed
