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
// does, over several hundred calls: the fastest call of successive
// batches of 100 went 1.32, 0.82, 0.84, 0.79, 0.74, 0.74, 0.75 ms (a
// transfer's bundle). So warm-up repeats batches of RUNS calls until
// three batches in a row are no more than 2% faster than the fastest
// before them (at most 40 batches), and the timed calls run optimized
// code (stopping at the first batch within 10% of the one before, as
// it did before, stopped at 0.84 ms there). The fastest call is the one
// the machine's other load did not interrupt: on a shared machine it is
// the figure that measures the code (the median measures the load too).
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
    let best = batch().min;
    let warm = runs;
    for (let i = 1, stale = 0; i < 40 && stale < 3; i++) {
      const b = batch();
      warm += runs;
      if (b.min < 0.98 * best) {
        best = b.min;
        stale = 0;
      } else {
        stale++;
      }
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
