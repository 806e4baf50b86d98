// run.js runs the WebAssembly verifier under Node.js:
//
//   node run.js WASM_EXEC_JS VERIFY_WASM CASES.json [REPEAT]
//
// CASES.json is [{"bundle": "<bundle JSON text>", "options": {...}}, ...].
// It prints the array of verifyBundle results as JSON on stdout and, with
// REPEAT > 1, the mean time of one call on the first case in milliseconds
// ("wasm_verify_ms=...") on stderr, measured over REPEAT calls after
// REPEAT warm-up calls (V8 compiles WebAssembly with a baseline compiler
// first and optimizes the functions that run hot, as a browser does).
"use strict";
const fs = require("fs");
const [wasmExec, wasmPath, casesPath, repeatArg] = process.argv.slice(2);
require(wasmExec); // defines globalThis.Go
(async () => {
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(fs.readFileSync(wasmPath), go.importObject);
  go.run(instance); // main installs verifyBundle, then waits
  const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
  const results = cases.map((c) => globalThis.verifyBundle(c.bundle, c.options || {}));
  const repeat = Number(repeatArg || 1);
  if (repeat > 1 && cases.length > 0) {
    const c = cases[0];
    for (let i = 0; i < repeat; i++) globalThis.verifyBundle(c.bundle, c.options || {});
    const t0 = performance.now();
    for (let i = 0; i < repeat; i++) globalThis.verifyBundle(c.bundle, c.options || {});
    process.stderr.write(`wasm_verify_ms=${((performance.now() - t0) / repeat).toFixed(3)}\n`);
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0);
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + "\n");
  process.exit(2);
});
