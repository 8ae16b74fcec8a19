#!/usr/bin/env bash
# The whole-cluster simulation's mutation check: each patch in scripts/sim-mutations/ puts back a
# bug the simulation must catch (a write re-proposed and applied twice, a quorum read answered
# before its ReadIndex is applied, TTLs expired on a member's own clock). Each is applied to a
# copy of the tree and the simulation runs on seeds [START, START+SEEDS) until one fails.
# Prints, per mutation, whether it was caught and at which seed; exits 1 if one was not.
# Usage: scripts/sim-mutations.sh [SEEDS=300] [START=0]
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-300}
start=${START:-0}
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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
  result=$(cd "$copy" && SEEDS=$seeds START=$start STOP_AT_FAILURE=1 node_modules/.bin/node test/sim/sim-cli.ts 2>&1 || true)
  first=$(grep -m1 -o '^FAIL seed [0-9]*' <<<"$result" | grep -o '[0-9]*$' || true)
  seconds=$(( $(date +%s) - started ))
  if [[ -n $first ]]; then
    why=$(grep -A1 -m1 '^FAIL seed' <<<"$result" | tail -1 | cut -c1-200)
    echo "$name: caught at seed $first (${seconds} s):$why"
  else
    echo "$name: NOT caught in seeds $start..$((start + seeds - 1)) (${seconds} s)"
    missed=1
  fi
done
exit $missed
