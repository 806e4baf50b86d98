#!/usr/bin/env bash
# Installs the peer binaries the tests need into .tools/bin (project-local),
# so a fresh machine needs nothing but Go. Safe to run again: it skips what
# is already there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
BTCD_VERSION=v0.26.2
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
