#!/usr/bin/env bash
# Installs what the tests need into project-local folders, so a fresh
# machine needs nothing but Go (and the Node.js it ships): btcd and btcctl
# into .tools/bin, solc-js into .tools/npm. Safe to run again: it skips
# what is already there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
BTCD_VERSION=v0.26.2
SOLC_VERSION=0.8.28
bin="$PWD/.tools/bin"
mkdir -p "$bin"
stamp="$bin/.btcd-$BTCD_VERSION"
if [ ! -x "$bin/btcd" ] || [ ! -x "$bin/btcctl" ] || [ ! -f "$stamp" ]; then
	echo "install-tools: btcd and btcctl $BTCD_VERSION -> .tools/bin"
	GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$bin" go install \
		"github.com/btcsuite/btcd@$BTCD_VERSION" \
		"github.com/btcsuite/btcd/cmd/btcctl@$BTCD_VERSION"
	touch "$stamp"
fi

npmdir="$PWD/.tools/npm"
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -f "$npmdir/node_modules/solc/package.json" ] ||
		[ "$(node -p "require('$npmdir/node_modules/solc/package.json').version")" != "$SOLC_VERSION" ]; then
		echo "install-tools: npm solc@$SOLC_VERSION -> .tools/npm"
		npm install --silent --no-audit --no-fund --prefix "$npmdir" "solc@$SOLC_VERSION"
	fi
else
	echo "install-tools: node/npm not found: the Solidity predeploy check (scripts/gen-predeploys.sh --check) will skip" >&2
fi
