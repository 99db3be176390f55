# Build, lint and test pgtier. CI runs `make test`, then `make fuzz` (see .ci/run).

SHELL := bash
GO ?= go
GOBIN_DIR := $(shell $(GO) env GOPATH | cut -d: -f1)/bin
export PATH := $(GOBIN_DIR):$(PATH)

# One package at a time: the integration tests share the machine's 2 cores
# with the servers they start.
TEST_TIMEOUT ?= 25m
TEST_FLAGS ?=

.PHONY: all build install fmt-check vet lint test fuzz demo bench clean

all: build

## build: backupd and backupctl into ./bin
build:
	$(GO) build -o bin/ ./cmd/backupd ./cmd/backupctl

## install: PostgreSQL, MinIO, age, zstd, promtool, golangci-lint (skips what is there;
## SKIP_INSTALL=1 skips the step, for callers that ran it already)
install:
ifeq ($(SKIP_INSTALL),)
	test/install.sh
endif

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt: not formatted (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## lint: golangci-lint with .golangci.yml
lint:
	golangci-lint run --allow-serial-runners ./...

## test: gofmt, go vet, golangci-lint, then every test against real servers
test: install fmt-check vet lint
	@mkdir -p bin; rc=0; \
	set -o pipefail; \
	$(GO) test -p 1 -count=1 -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./... 2>&1 | tee bin/test.log || rc=$$?; \
	echo "== go test summary"; \
	grep -E '^(ok|FAIL|--- FAIL|panic:)' bin/test.log || true; \
	exit $$rc

## fuzz: every fuzz target for FUZZTIME each, one after another (FUZZ=regexp
## picks targets by name); a failing input stays under <pkg>/testdata/fuzz/
FUZZTIME ?= 12s
FUZZ ?= .
fuzz:
	FUZZTIME=$(FUZZTIME) FUZZ='$(FUZZ)' GO=$(GO) test/fuzz.sh

## demo: back up a throwaway database to a throwaway MinIO and restore it
demo: install
	$(GO) test -count=1 -v -run '^TestDemo$$' ./test/e2e

## bench: time backupd against pg_dump and a hand-made pipeline (see bench/README.md)
SIZE ?= 2GB
bench: install
	bench/setup.sh
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 2h ./bench -args -size $(SIZE)

clean:
	rm -rf bin
