# The test command of the README and of CI. It installs the peers the
# integration tests need (btcd, btcctl, cast, ethers, solc-js) into .tools/
# first, so no integration test skips on a fresh machine.
GO ?= go
export GOTOOLCHAIN := local
export HEMI_BTCD := $(CURDIR)/.tools/bin/btcd
export HEMI_CAST := $(CURDIR)/.tools/npm/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
export HEMI_ETHERS_DIR := $(CURDIR)/.tools/npm
export HEMI_FORGE := $(CURDIR)/.tools/npm/node_modules/@foundry-rs/forge-linux-amd64/bin/forge
export HEMI_ANVIL := $(CURDIR)/.tools/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: test tools build vet fuzz bench-btc-index screenshots

test: tools vet
	$(GO) test -count=1 -timeout 40m ./...

tools:
	./scripts/install-tools.sh

build:
	$(GO) build -o hemi ./cmd/hemi

vet:
	$(GO) vet ./...

# Runs each fuzz target for a short while (the seeds run in `make test`).
fuzz:
	./scripts/fuzz.sh 20s

bench-btc-index: tools
	$(GO) run ./cmd/hemi bench btc-index

# Screenshots of the explorer's main pages (headless Chromium) for the
# README, under docs/screenshots. Not part of `make test`.
screenshots: tools
	HEMI_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^(TestScreenshots|TestDevnetTunnelPages)$$' ./internal/explorer/
