#!/usr/bin/env bash
# Starts a three-member kvd cluster on this machine, data and logs under ./local-cluster/, and
# prints the KVCTL_ENDPOINTS=... line to use once every member answers. Ctrl-C stops all three.
# It fails (exit 1, with the member's log) when a member does not start, and stops the others.
#   scripts/local-cluster.sh            then, in another shell:
#   export KVCTL_ENDPOINTS=...          (the line it printed) and: bin/kvctl put a b
# Ports (each a space-separated list of three):
#   LOCAL_CLUSTER_CLIENT_PORTS  default "2379 22379 32379"
#   LOCAL_CLUSTER_PEER_PORTS    default "2380 22380 32380"
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KVDEXE=${KVDEXE:-$ROOT/bin/kvd}
[ -x "$KVDEXE" ] || { echo "$KVDEXE is missing: run make first" >&2; exit 1; }
read -r -a client_ports <<<"${LOCAL_CLUSTER_CLIENT_PORTS:-2379 22379 32379}"
read -r -a peer_ports <<<"${LOCAL_CLUSTER_PEER_PORTS:-2380 22380 32380}"
[ "${#client_ports[@]}" -eq 3 ] && [ "${#peer_ports[@]}" -eq 3 ] ||
  { echo "LOCAL_CLUSTER_CLIENT_PORTS and LOCAL_CLUSTER_PEER_PORTS each name three ports" >&2; exit 1; }
names=(one two three)
cluster=""
endpoints=""
for i in 0 1 2; do
  cluster+="${cluster:+,}${names[$i]}=http://127.0.0.1:${peer_ports[$i]}"
  endpoints+="${endpoints:+,}http://127.0.0.1:${client_ports[$i]}"
done

mkdir -p local-cluster
pids=()
stop_all() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for i in 0 1 2; do
  "$KVDEXE" serve --name "${names[$i]}" --data-dir "local-cluster/${names[$i]}.kvd" \
    --listen-client-urls "http://127.0.0.1:${client_ports[$i]}" --listen-peer-urls "http://127.0.0.1:${peer_ports[$i]}" \
    --initial-cluster "$cluster" 2>"local-cluster/${names[$i]}.log" &
  pids+=($!)
done

# Each member answers /health (through kvctl, the same executable), or the script fails with its log.
for i in 0 1 2; do
  for ((try = 0; ; try++)); do
    "$KVDEXE" ctl --endpoints "http://127.0.0.1:${client_ports[$i]}" --timeout 1s endpoint health >/dev/null 2>&1 && break
    if ! kill -0 "${pids[$i]}" 2>/dev/null || ((try >= 300)); then
      echo "member ${names[$i]} did not start (log: local-cluster/${names[$i]}.log):" >&2
      tail -n 20 "local-cluster/${names[$i]}.log" >&2
      exit 1
    fi
    sleep 0.1
  done
done
echo "KVCTL_ENDPOINTS=$endpoints"
echo "three members running (logs in local-cluster/*.log); Ctrl-C stops them" >&2
# A member that stops stops the cluster script: it reports the failure.
if wait -n "${pids[@]}"; then status=0; else status=$?; fi
echo "a member exited (status $status); stopping the others (logs in local-cluster/*.log)" >&2
exit 1
