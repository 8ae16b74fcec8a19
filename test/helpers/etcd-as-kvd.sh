#!/usr/bin/env bash
# Stands in for `etcd` in etcd's own e2e tests (tests/e2e, run with -bin-dir pointing here): starts
# `$KVD_BIN serve` with etcd's flags, less those kvd does not have (v2 is always on; the others are
# v3's or tuning), and prints the two lines the tests wait for once kvd has published its client
# URLs (as etcd prints them: other members then list them). `exec` makes
# kvd the process the tests signal; its output goes through the filter on the way to theirs.
set -u
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --enable-v2 | --enable-v2=* | --force-new-cluster | --experimental-initial-corrupt-check | --strict-reconfig-check=*) shift ;;
    --experimental-enable-v2v3 | --quota-backend-bytes | --auth-token | --max-concurrent-streams | --listen-metrics-urls | --cipher-suites | --client-crl-file) shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
announce_ready() {
  local said=
  while IFS= read -r line; do
    printf '%s\n' "$line"
    case $line in
      *'published this member'*) if [ -z "$said" ]; then printf 'enabled capabilities for version 3.4\npublished\n'; said=1; fi ;;
    esac
  done
}
exec "${KVD_BIN:?KVD_BIN names the kvd executable}" serve "${args[@]}" > >(announce_ready) 2>&1
