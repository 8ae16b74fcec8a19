#!/usr/bin/env bash
# Starts a three-member kvd cluster on this machine (clients on 127.0.0.1:2379, 22379, 32379;
# peers on 2380, 22380, 32380; data under ./local-cluster/). Ctrl-C stops all three.
#   scripts/local-cluster.sh            then, in another shell:
#   bin/kvctl --endpoints http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379 put a b
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KVDEXE=${KVDEXE:-$ROOT/bin/kvd}
[ -x "$KVDEXE" ] || { echo "$KVDEXE is missing: run make first" >&2; exit 1; }
CLUSTER="one=http://127.0.0.1:2380,two=http://127.0.0.1:22380,three=http://127.0.0.1:32380"
mkdir -p local-cluster
pids=()
for spec in one:2379:2380 two:22379:22380 three:32379:32380; do
  IFS=: read -r name client peer <<<"$spec"
  "$KVDEXE" serve --name "$name" --data-dir "local-cluster/$name.kvd" \
    --listen-client-urls "http://127.0.0.1:$client" --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$CLUSTER" 2>"local-cluster/$name.log" &
  pids+=($!)
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM EXIT
echo "three members running (logs in local-cluster/*.log); Ctrl-C stops them"
wait
