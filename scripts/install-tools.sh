#!/usr/bin/env bash
# Installs what the tests need into project-local folders, so a fresh
# machine needs nothing but Go (and the Node.js it ships): btcd and btcctl
# into .tools/bin; solc-js, Foundry (cast, forge, anvil), ethers and viem
# into .tools/npm; and, where it is missing, Debian's chromium (apt-get,
# as root) for the explorer's browser tests. Safe to run again: it skips
# what is already there at the pinned version.
set -euo pipefail
cd "$(dirname "$0")/.."
BTCD_VERSION=v0.26.2
SOLC_VERSION=0.8.28
FOUNDRY_VERSION=1.7.1
ETHERS_VERSION=6.17.0
VIEM_VERSION=2.40.0 # 2.57.x needs an ox release the registry does not serve
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
# npm_pin NAME VERSION installs one pinned npm package into .tools/npm
# unless that version is already there.
npm_pin() {
	local pj="$npmdir/node_modules/$1/package.json"
	if [ ! -f "$pj" ] || [ "$(node -p "require('$pj').version")" != "$2" ]; then
		echo "install-tools: npm $1@$2 -> .tools/npm"
		npm install --silent --no-audit --no-fund --prefix "$npmdir" "$1@$2"
	fi
}
if command -v node >/dev/null && command -v npm >/dev/null; then
	npm_pin solc "$SOLC_VERSION"
	for tool in cast forge anvil; do
		npm_pin "@foundry-rs/$tool-linux-amd64" "$FOUNDRY_VERSION"
	done
	npm_pin ethers "$ETHERS_VERSION"
	npm_pin viem "$VIEM_VERSION"
else
	echo "install-tools: node/npm not found: the Solidity, cast and ethers checks will skip" >&2
fi

# Chromium drives the explorer's browser tests (chromedp, headless). It is
# Debian's package: apt-get needs root and the network; without them the
# browser tests skip and say so (HEMI_CHROMIUM names another binary).
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && [ -z "${HEMI_CHROMIUM:-}" ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "install-tools: chromium (apt-get) for the explorer's browser tests"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
	else
		echo "install-tools: chromium not found and apt-get needs root: the explorer's browser tests will skip" >&2
	fi
fi
