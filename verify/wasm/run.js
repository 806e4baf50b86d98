// run.js runs the WebAssembly verifier under Node.js:
//
//   node run.js WASM_EXEC_JS VERIFY_WASM CASES.json [RUNS]
//
// CASES.json is [{"bundle": "<bundle JSON text>", "options": {...}}, ...].
// It prints the array of verifyBundle results as JSON on stdout. With
// RUNS > 0 it also times the first case and prints one line on stderr:
//
//   wasm_cold_ms= wasm_verify_ms= wasm_median_ms= warmup_calls=
//
// cold: from compiling and instantiating the module (Go's runtime and
// package initialisation included) through the first call's return, as a
// page that verifies one bundle waits for it. warm: the fastest and the
// median wall time of one call over RUNS calls, after warm-up. V8 first
// runs WebAssembly from a baseline compiler and recompiles the hot
// functions with its optimizing compiler in the background, as a browser
// does; warm-up repeats batches of RUNS calls until a batch's fastest
// call is within 10% of the batch's before (at most 20 batches), so the
// timed calls run optimized code. The fastest call is the one the
// machine's other load did not interrupt: on a shared machine it is the
// figure that measures the code (the median measures the load too).
"use strict";
const fs = require("fs");
const path = require("path");
const [wasmExec, wasmPath, casesPath, runsArg] = process.argv.slice(2);
require(wasmExec); // defines globalThis.Go
require(path.join(__dirname, "verifier.js")); // defines globalThis.installVerifyBundle

(async () => {
  const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
  const bytes = fs.readFileSync(wasmPath);
  const t0 = performance.now();
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
  go.run(instance); // starts Go's runtime; main waits
  const verifyBundle = installVerifyBundle(instance);
  const call = (c) => verifyBundle(c.bundle, c.options || {});
  const results = cases.slice(0, 1).map(call);
  const coldMS = performance.now() - t0;
  results.push(...cases.slice(1).map(call));
  const runs = Number(runsArg || 0);
  if (runs > 0 && cases.length > 0) {
    const c = cases[0];
    const batch = () => {
      const walls = [];
      for (let i = 0; i < runs; i++) {
        const w0 = performance.now();
        call(c);
        walls.push(performance.now() - w0);
      }
      walls.sort((a, b) => a - b);
      return { min: walls[0], median: walls[Math.floor(walls.length / 2)] };
    };
    let prev = batch();
    let warm = runs;
    for (let i = 1; i < 20; i++) {
      const b = batch();
      warm += runs;
      const settled = Math.abs(b.min - prev.min) <= 0.1 * prev.min;
      prev = b;
      if (settled) break;
    }
    const m = batch();
    process.stderr.write(
      `wasm_cold_ms=${coldMS.toFixed(3)} wasm_verify_ms=${m.min.toFixed(3)} wasm_median_ms=${m.median.toFixed(3)} warmup_calls=${warm}\n`,
    );
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0);
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + "\n");
  process.exit(2);
});
