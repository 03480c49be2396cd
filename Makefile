# etcq developer entry points. `make` alone prints the help, which is generated from the
# `## ` comments below: a full-line `## ` comment is printed as is, a `## ` after a target
# describes that target.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

## Usage: make <target> [VAR=value ...]
##
## Variables:
##   PKGS        packages for bench and fuzz (default ./...)
##   BENCH       benchmark name regexp for bench (default .)
##   BENCHTIME   -benchtime for bench (default 1s)
##   FUZZTIME    time each fuzz target runs (default 30s)
##   RACE_PKGS   packages tested with -race by test (default: those of storage, node,
##               quicpeer, quicclient that exist)
##   ARGS        extra flags for the daemon (run) or every member (cluster)
##   RUN_DIR     where run and cluster keep data and the generated PKI (default .run)
##   BENCH_SCALE bench-compare: multiplies the anchors' request totals (default 0.5; 1 = theirs)
##   CHAOS_ROUNDS, CHAOS_BUDGET, CHAOS_COUNT  chaos: fault rounds per run (default 60), time
##               budget per run (default 2m), runs, each with a new seed (default 2)
##   SCENARIOS   bench-compare: shapes to run (default a b c d e f m; m writes a million keys)
GO        ?= go
PKGS      ?= ./...
BENCH     ?= .
BENCHTIME ?= 1s
FUZZTIME  ?= 30s
ARGS      ?=
RUN_DIR   ?= .run
BENCH_SCALE ?= 0.5
SCENARIOS ?= a b c d e f m
CHAOS_ROUNDS ?= 60
CHAOS_BUDGET ?= 2m
CHAOS_COUNT ?= 2

# The core packages, where concurrency lives. Only the directories present are handed to
# `go list` (a missing one would make it fail); -e keeps a package that does not compile in
# the list, so that `go test -race` reports it instead of skipping it.
RACE_DIRS := storage node quicpeer quicclient
RACE_PKGS ?= $(shell $(GO) list -e $(foreach d,$(RACE_DIRS),$(if $(wildcard $(d)/.),./$(d)/...)) 2>/dev/null)

.PHONY: help build test test-short bench bench-compare chaos fuzz lint fmt-check fmt clean run cluster

##
## Targets:
help: ## print this help
	@awk 'BEGIN { FS = ":.*## " } \
	     /^[a-zA-Z0-9_-]+:.*## / { printf "  %-13s %s\n", $$1, $$2; next } \
	     /^##( |$$)/ { print substr($$0, 4) }' $(MAKEFILE_LIST)

build: ## compile: the binaries into bin/ once cmd/ has them, every package until then
	@if [ -n "$(wildcard cmd/*/*.go)" ]; then \
	  echo "$(GO) build -o bin/ ./cmd/..."; mkdir -p bin; $(GO) build -o bin/ ./cmd/...; \
	else \
	  echo "$(GO) build ./..."; $(GO) build ./...; \
	fi

test: fmt-check lint ## everything CI runs: fmt-check, lint, all tests, -race on RACE_PKGS
	$(GO) test -count=1 ./...
	@pkgs="$(strip $(RACE_PKGS))"; \
	if [ -n "$$pkgs" ]; then \
	  echo "$(GO) test -race -count=1 $$pkgs"; \
	  $(GO) test -race -count=1 $$pkgs; \
	else \
	  echo "race: none of $(RACE_DIRS) exists yet"; \
	fi

test-short: ## quick tests only (-short), no lint or race
	$(GO) test -short ./...

bench: ## benchmarks in PKGS matching BENCH, for BENCHTIME each, with allocations
	$(GO) test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem $(PKGS)

bench-compare: build ## etcq and etcd 3.4 side by side on the anchors' shapes, one table (about 25 minutes, most of it shape m)
	BENCH_SCALE=$(BENCH_SCALE) ./scripts/bench-compare.sh $(SCENARIOS)

chaos: ## the randomized fault suites at length, under -race: kills, partitions, loss, restarts (about 10 minutes)
	@mkdir -p $(RUN_DIR)
	@echo "full log: $(RUN_DIR)/chaos.log"
	ETCQ_CHAOS_ROUNDS=$(CHAOS_ROUNDS) ETCQ_CHAOS_BUDGET=$(CHAOS_BUDGET) \
		$(GO) test -race -run '^(TestRandomFaults|TestKill9)$$' -count=$(CHAOS_COUNT) -timeout=60m -v ./node/ \
		>$(RUN_DIR)/chaos.log 2>&1; rc=$$?; \
		grep -E '^(--- |PASS|FAIL|ok)|seed [0-9]|round [0-9]+: |_test.go:[0-9]+: ' $(RUN_DIR)/chaos.log | grep -v '^ *raft' ; exit $$rc

fuzz: ## run every Fuzz target in PKGS for FUZZTIME each, one after the other
	@n=0; \
	for pkg in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $(PKGS)); do \
	  names=$$($(GO) test -list '^Fuzz' "$$pkg"); \
	  for name in $$(grep '^Fuzz' <<<"$$names" || true); do \
	    n=$$((n + 1)); \
	    echo "== $$pkg $$name for $(FUZZTIME)"; \
	    $(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s "$$pkg"; \
	  done; \
	done; \
	echo "fuzz: ran $$n target(s)"

lint: ## go vet and staticcheck (pinned as a go tool in go.mod)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt-check: ## fail if gofmt would change a file or go.mod/go.sum are not tidy
	@unformatted=$$(find . -path ./.git -prune -o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
	  echo "gofmt would change these files (run make fmt):"; echo "$$unformatted"; exit 1; \
	fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy (run go mod tidy)"; exit 1; }

fmt: ## gofmt -w every Go file
	find . -path ./.git -prune -o -type f -name '*.go' -print0 | xargs -0 -r gofmt -w

clean: ## remove build output and the local run directory
	rm -rf bin $(RUN_DIR)

run: build ## start one local member (certificates generated in RUN_DIR/pki on first run)
	./bin/etcq --name default --data-dir $(RUN_DIR)/default --auto-tls --pki-dir $(RUN_DIR)/pki $(ARGS)

cluster: build ## start three local members on 127.0.0.1 sharing RUN_DIR/pki; Ctrl-C stops them
	./scripts/cluster.sh $(RUN_DIR) $(ARGS)
