// run.js runs the WebAssembly verifier under Node.js:
//
//   node run.js WASM_EXEC_JS VERIFY_WASM CASES.json [RUNS]
//
// CASES.json is [{"bundle": "<bundle JSON text>", "options": {...}}, ...].
// It prints the array of verifyBundle results as JSON on stdout. With
// RUNS > 0 it also times the first case and prints one line on stderr:
//
//   wasm_cold_ms= wasm_cold_cpu_ms= wasm_verify_ms= wasm_verify_cpu_ms= warmup_calls=
//
// cold: from compiling and instantiating the module (Go's runtime and
// package initialisation included) through the first call's return, as a
// page that verifies one bundle pays it. warm: the median wall time and
// the mean CPU time (process.cpuUsage: every thread of the process, so
// V8's background compilers and GC are counted) of one call over RUNS
// calls, after warm-up. V8 first runs WebAssembly from a baseline
// compiler and recompiles the hot functions with its optimizing compiler
// in the background, as a browser does; warm-up repeats batches of RUNS
// calls until a batch's CPU time per call is within 10% of the one
// before (at most 20 batches), so the timed calls run optimized code.
"use strict";
const fs = require("fs");
const [wasmExec, wasmPath, casesPath, runsArg] = process.argv.slice(2);
require(wasmExec); // defines globalThis.Go

const cpuMS = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

(async () => {
  const cases = JSON.parse(fs.readFileSync(casesPath, "utf8"));
  const bytes = fs.readFileSync(wasmPath);
  const c0 = cpuMS();
  const t0 = performance.now();
  const go = new Go();
  const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
  go.run(instance); // main installs verifyBundle, then waits
  const call = (c) => globalThis.verifyBundle(c.bundle, c.options || {});
  const results = cases.slice(0, 1).map(call);
  const coldMS = performance.now() - t0;
  const coldCPU = cpuMS() - c0;
  results.push(...cases.slice(1).map(call));
  const runs = Number(runsArg || 0);
  if (runs > 0 && cases.length > 0) {
    const c = cases[0];
    const batch = () => {
      const walls = [];
      const b0 = cpuMS();
      for (let i = 0; i < runs; i++) {
        const w0 = performance.now();
        call(c);
        walls.push(performance.now() - w0);
      }
      walls.sort((a, b) => a - b);
      return { cpu: (cpuMS() - b0) / runs, wall: walls[Math.floor(walls.length / 2)] };
    };
    let prev = batch();
    let warm = runs;
    for (let i = 1; i < 20; i++) {
      const b = batch();
      warm += runs;
      const settled = Math.abs(b.cpu - prev.cpu) <= 0.1 * prev.cpu;
      prev = b;
      if (settled) break;
    }
    const m = batch();
    process.stderr.write(
      `wasm_cold_ms=${coldMS.toFixed(3)} wasm_cold_cpu_ms=${coldCPU.toFixed(3)} ` +
        `wasm_verify_ms=${m.wall.toFixed(3)} wasm_verify_cpu_ms=${m.cpu.toFixed(3)} warmup_calls=${warm}\n`,
    );
  }
  process.stdout.write(JSON.stringify(results) + "\n");
  process.exit(0);
})().catch((e) => {
  process.stderr.write(String((e && e.stack) || e) + "\n");
  process.exit(2);
});
