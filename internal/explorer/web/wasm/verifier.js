// verifier.js is the provenance verifier's JavaScript face. Load it
// (a <script> in a page, require() in Node.js) beside Go's wasm_exec.js;
// once the module runs (go.run(instance)), installVerifyBundle(instance)
// defines and returns
//
//   verifyBundle(bundleJSON, options) -> the result object
//
// the same result as `hemi verify --json` prints. options are optional:
// {genesis, headers, checkpoints, minDepositConfs, minKeystoneConfs}.
//
// It calls the module's exports (go:wasmexport, verify/wasm/main.go)
// directly: the bundle's UTF-8 bytes and a frame describing the options
// (verify/inputframe.go) are written into the module's memory, and the
// result's JSON read back from it. JavaScript reports only what each
// option holds; the verifier checks it, with the messages `hemi verify`
// would give.
(function (g) {
  "use strict";
  var TAG_ABSENT = 0, TAG_STRING = 1, TAG_NUMBER = 2, TAG_ARRAY = 3, TAG_OTHER = 4, TAG_OBJECT = 5;
  var FIELDS = ["genesis", "headers", "checkpoints", "minDepositConfs", "minKeystoneConfs"];
  var enc = new TextEncoder(), dec = new TextDecoder();

  function u32(n) {
    var b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    return b;
  }

  function typeName(v) { return v === null ? "null" : typeof v; }

  // value appends v's frame encoding to out (an array of byte chunks).
  // Only the options object's own fields may be absent or an array.
  function value(v, field, out) {
    if (field && (v === undefined || v === null)) {
      out.push(Uint8Array.of(TAG_ABSENT));
    } else if (typeof v === "string") {
      var b = enc.encode(v);
      out.push(Uint8Array.of(TAG_STRING), u32(b.length), b);
    } else if (typeof v === "number") {
      var f = new Uint8Array(9);
      f[0] = TAG_NUMBER;
      new DataView(f.buffer).setFloat64(1, v, true);
      out.push(f);
    } else if (field && Array.isArray(v)) {
      out.push(Uint8Array.of(TAG_ARRAY), u32(v.length));
      for (var i = 0; i < v.length; i++) value(v[i], false, out);
    } else {
      var t = enc.encode(typeName(v));
      out.push(Uint8Array.of(TAG_OTHER), u32(t.length), t);
    }
  }

  function optionsFrame(o) {
    var out = [];
    if (o === undefined || o === null) {
      out.push(Uint8Array.of(TAG_ABSENT));
    } else if (typeof o !== "object") {
      value(o, false, out);
    } else {
      out.push(Uint8Array.of(TAG_OBJECT));
      for (var i = 0; i < FIELDS.length; i++) value(o[FIELDS[i]], true, out);
    }
    return out;
  }

  function installVerifyBundle(instance) {
    var x = instance && instance.exports;
    if (!x || typeof x.hemiVerifyRun !== "function") {
      throw new Error("this WebAssembly module is not the provenance verifier (no hemiVerifyRun export)");
    }
    function verifyBundle(json, options) {
      var bundle = typeof json === "string" ? enc.encode(json) : new Uint8Array(0);
      var chunks = optionsFrame(options);
      var n = bundle.length;
      for (var i = 0; i < chunks.length; i++) n += chunks[i].length;
      var at = x.hemiVerifyInput(n) >>> 0;
      var mem = new Uint8Array(x.mem.buffer); // after the call: memory may have grown
      mem.set(bundle, at);
      at += bundle.length;
      for (var j = 0; j < chunks.length; j++) {
        mem.set(chunks[j], at);
        at += chunks[j].length;
      }
      var len = x.hemiVerifyRun(typeof json === "string" ? bundle.length : -1);
      var out = x.hemiVerifyOutput() >>> 0;
      return JSON.parse(dec.decode(new Uint8Array(x.mem.buffer, out, len)));
    }
    g.verifyBundle = verifyBundle;
    return verifyBundle;
  }

  g.installVerifyBundle = installVerifyBundle;
})(globalThis);
