// solc.mjs is the solc that forge runs (foundry.toml: solc = a shell
// script exec'ing node on this file): solc-js (npm solc, WebAssembly)
// behind the two commands forge uses, `--version` and `--standard-json`
// (input JSON on stdin, output JSON on stdout). Other flags forge passes
// (--allow-paths, --base-path, --include-path) are ignored: forge inlines
// every source into the input. The solc package is looked up in
// $HEMI_ETHERS_DIR/node_modules (.tools/npm, installed by make test).
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const dir = process.env.HEMI_ETHERS_DIR;
if (!dir) {
  process.stderr.write("solc.mjs: HEMI_ETHERS_DIR (the folder holding node_modules/solc) is not set\n");
  process.exit(2);
}
const solc = createRequire(dir + "/")("solc");
const args = process.argv.slice(2);
if (args.includes("--version")) {
  // Native solc's format, which forge parses: the version is on the last line.
  process.stdout.write("solc, the solidity compiler commandline interface\nVersion: " + solc.version() + "\n");
} else if (args.includes("--standard-json")) {
  const input = readFileSync(0, "utf8");
  process.stdout.write(solc.compile(input));
} else {
  process.stderr.write("solc.mjs: only --version and --standard-json are supported, got: " + args.join(" ") + "\n");
  process.exit(2);
}
