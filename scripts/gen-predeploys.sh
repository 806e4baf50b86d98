#!/usr/bin/env bash
# Compiles the Solidity predeploys in contracts/ with solc-js (npm "solc",
# pinned in scripts/install-tools.sh, installed into .tools/npm) and writes each contract's
# runtime bytecode as hex to internal/chain/genesis/bytecode/<Name>.hex and
# its ABI to <Name>.abi.json, which the genesis package embeds. Every
# contracts/*.sol is a source of each compilation, so a contract may import
# another ("./TunnelBase.sol"). The output is reproducible: no metadata
# hash or CBOR trailer, fixed optimizer settings and EVM version.
#
#   scripts/gen-predeploys.sh          regenerate the .hex and .abi.json files
#   scripts/gen-predeploys.sh --check  compile and fail if one differs
#
# Needs node and npm; the genesis tests run --check when node is present.
set -euo pipefail
cd "$(dirname "$0")/.."
CONTRACTS=(HVMState HBTC Tunnel)
npmdir="$PWD/.tools/npm"
out="internal/chain/genesis/bytecode"
./scripts/install-tools.sh >&2 # pins and installs solc-js into .tools/npm

check=0
[ "${1:-}" = "--check" ] && check=1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for name in "${CONTRACTS[@]}"; do
	SOLC_DIR="$npmdir/node_modules/solc" SRC="contracts/$name.sol" NAME="$name" OUT="$tmp/$name" node -e '
const solc = require(process.env.SOLC_DIR);
const fs = require("fs");
const src = process.env.SRC, name = process.env.NAME;
const sources = {};
for (const f of fs.readdirSync("contracts").filter((f) => f.endsWith(".sol")).sort()) {
  sources["contracts/" + f] = { content: fs.readFileSync("contracts/" + f, "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { [src]: { [name]: ["evm.deployedBytecode.object", "abi"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errs = (out.errors || []).filter((e) => e.severity === "error");
if (errs.length) { for (const e of errs) console.error(e.formattedMessage); process.exit(1); }
const c = out.contracts[src][name];
fs.writeFileSync(process.env.OUT + ".hex", c.evm.deployedBytecode.object + "\n");
fs.writeFileSync(process.env.OUT + ".abi.json", JSON.stringify(c.abi) + "\n");
'
	for ext in hex abi.json; do
		if [ "$check" = 1 ]; then
			if ! cmp -s "$tmp/$name.$ext" "$out/$name.$ext"; then
				echo "gen-predeploys: $out/$name.$ext is stale: run scripts/gen-predeploys.sh" >&2
				exit 1
			fi
		else
			cp "$tmp/$name.$ext" "$out/$name.$ext"
			echo "gen-predeploys: wrote $out/$name.$ext ($(wc -c <"$out/$name.$ext") chars)" >&2
		fi
	done
done
