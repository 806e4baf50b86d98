#!/usr/bin/env bash
# Compiles the Solidity predeploys in contracts/ with solc-js (npm "solc",
# pinned in scripts/install-tools.sh, installed into .tools/npm) and writes each contract's
# runtime bytecode as hex to internal/chain/genesis/bytecode/<Name>.hex,
# which the genesis package embeds. The output is reproducible: no metadata
# hash or CBOR trailer, fixed optimizer settings and EVM version.
#
#   scripts/gen-predeploys.sh          regenerate the .hex files
#   scripts/gen-predeploys.sh --check  compile and fail if a .hex differs
#
# Needs node and npm; the genesis tests run --check when node is present.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each entry is contracts/<path>.sol:<output dir>[:abi]; the contract's
# name is the file's base name. The output is <Name>.hex (runtime
# bytecode) or, with :abi, <Name>.abi.json (the ABI, for Go bindings of an
# abstract contract). Test-only contracts (contracts/test) go to their
# package's testdata, never into the genesis.
CONTRACTS=(
	"HVMState:internal/chain/genesis/bytecode"
	"HBTC:internal/chain/genesis/bytecode"
	"HBTC:internal/chain/genesis/bytecode:abi"
	"Tunnel:internal/chain/genesis/bytecode"
	"Tunnel:internal/chain/genesis/bytecode:abi"
	"TunnelWithdrawals:internal/tunnel:abi"
	"test/TunnelWithdrawalsHarness:internal/tunnel/testdata"
)
npmdir="$PWD/.tools/npm"
./scripts/install-tools.sh >&2 # pins and installs solc-js into .tools/npm

check=0
[ "${1:-}" = "--check" ] && check=1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for entry in "${CONTRACTS[@]}"; do
	IFS=: read -r path out kind <<<"$entry"
	name="$(basename "$path")"
	ext=hex
	[ "$kind" = abi ] && ext=abi.json
	SOLC_DIR="$npmdir/node_modules/solc" SRC="contracts/$path.sol" NAME="$name" KIND="$kind" node -e '
const solc = require(process.env.SOLC_DIR);
const fs = require("fs");
const src = process.env.SRC, name = process.env.NAME;
const input = {
  language: "Solidity",
  sources: { [src]: { content: fs.readFileSync(src, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["evm.deployedBytecode.object", "abi"] } },
  },
};
// Imports are resolved by solc to paths from the repository root.
const findImports = (p) => {
  try { return { contents: fs.readFileSync(p, "utf8") }; } catch (e) { return { error: "not found: " + p }; }
};
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errs = (out.errors || []).filter((e) => e.severity === "error");
if (errs.length) { for (const e of errs) console.error(e.formattedMessage); process.exit(1); }
const c = out.contracts[src][name];
process.stdout.write(process.env.KIND === "abi" ? JSON.stringify(c.abi, null, 1) + "\n" : c.evm.deployedBytecode.object + "\n");
' >"$tmp/$name.$ext"
	if [ "$check" = 1 ]; then
		if ! cmp -s "$tmp/$name.$ext" "$out/$name.$ext"; then
			echo "gen-predeploys: $out/$name.$ext is stale: run scripts/gen-predeploys.sh" >&2
			exit 1
		fi
	else
		cp "$tmp/$name.$ext" "$out/$name.$ext"
		echo "gen-predeploys: wrote $out/$name.$ext" >&2
	fi
done
