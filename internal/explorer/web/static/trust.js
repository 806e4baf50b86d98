// The chain-of-trust page's script: it fetches the provenance bundle
// from the node's own JSON-RPC (hemi_getProvenance, same origin), loads
// the verifier compiled to WebAssembly (Go's wasm_exec.js defines Go;
// the verifier's verifier.js defines installVerifyBundle, which makes
// verifyBundle(json, options) over the started module), checks the
// bundle and marks each link verified, failed or not reached. It also
// checks a bundle file the user picks. The page reads without it.
(function () {
  "use strict";
  var root = document.getElementById("trust");
  if (!root) return;
  var status = document.getElementById("trust-status");
  var statement = document.getElementById("trust-statement");
  var notes = document.getElementById("trust-notes");
  var bundleLink = document.getElementById("bundle-link");
  var kind = root.dataset.kind, what = root.dataset.what;
  var fetched = null; // the node's bundle text, once fetched

  function setStatus(state, text) {
    status.dataset.state = state;
    status.textContent = text;
    root.dataset.state = state;
  }

  var verifier = null;
  function loadVerifier() {
    if (verifier) return verifier;
    verifier = (async function () {
      if (typeof Go !== "function") throw new Error("Go's wasm_exec.js did not load");
      if (typeof installVerifyBundle !== "function") throw new Error("the verifier's verifier.js did not load");
      var go = new Go();
      var res = await fetch(root.dataset.wasm);
      if (!res.ok) throw new Error("the verifier: HTTP " + res.status);
      var inst;
      if (WebAssembly.instantiateStreaming) {
        inst = (await WebAssembly.instantiateStreaming(res, go.importObject)).instance;
      } else {
        inst = (await WebAssembly.instantiate(await res.arrayBuffer(), go.importObject)).instance;
      }
      go.run(inst); // starts Go's runtime; main waits
      return installVerifyBundle(inst);
    })();
    verifier.catch(function () { verifier = null; });
    return verifier;
  }

  function readFile(input) {
    return new Promise(function (resolve, reject) {
      var f = input && input.files && input.files[0];
      if (!f) { resolve(null); return; }
      var r = new FileReader();
      r.onload = function () { resolve(String(r.result)); };
      r.onerror = function () { reject(r.error); };
      r.readAsText(f);
    });
  }

  // options: the identity the user chose (verify.Input's fields).
  async function options() {
    var choice = document.querySelector("input[name=identity]:checked");
    var v = choice ? choice.value : "pinned";
    if (v === "node") {
      var res = await fetch(root.dataset.genesis, { cache: "no-cache" });
      if (!res.ok) throw new Error("this node's genesis file: HTTP " + res.status);
      return { genesis: await res.text() };
    }
    if (v === "file") {
      var g = await readFile(document.getElementById("genesis-file"));
      if (!g) throw new Error("choose your genesis file first");
      return { genesis: g };
    }
    return {};
  }

  function show(r) {
    var failed = r.ok ? "" : r.failedLink;
    var proved = {};
    (r.proved || []).forEach(function (p) { proved[p.link] = (proved[p.link] ? proved[p.link] + "; " : "") + p.what; });
    var reached = true;
    document.querySelectorAll("#links li").forEach(function (li) {
      var link = li.dataset.link, state, detail = "";
      if (link === failed) {
        state = "failed"; detail = r.error || "failed"; reached = false;
      } else if (proved[link] !== undefined || (link === "bundle" && (r.ok || failed !== "bundle"))) {
        state = reached ? "ok" : "skipped"; detail = proved[link] || "";
      } else {
        state = "skipped";
      }
      li.dataset.state = state;
      li.querySelector(".state").textContent = state === "ok" ? "verified" : state === "failed" ? "FAILED" : "not reached";
      li.querySelector(".detail").textContent = detail;
    });
    if (r.ok) {
      setStatus("verified", "Verified: every link of the chain of trust holds.");
      statement.textContent = r.statement || "";
    } else {
      setStatus("failed", "Not verified: the " + failed + " link failed: " + (r.error || ""));
      statement.textContent = "";
    }
    root.dataset.failedLink = failed;
    notes.textContent = (r.notes || []).join(" ");
  }

  async function check(text) {
    setStatus("running", "Loading the verifier…");
    var verify = await loadVerifier();
    var opts = await options();
    setStatus("running", "Checking…");
    await new Promise(function (ok) { setTimeout(ok, 0); }); // paint first
    show(verify(text, opts));
  }

  async function fetchBundle() {
    var res = await fetch("/", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "hemi_getProvenance", params: [what] })
    });
    var body = await res.json();
    if (body.error) throw new Error(body.error.message);
    if (!body.result) throw new Error("the node answered no bundle");
    // JSON numbers in a bundle are heights, indexes and the chain id:
    // all well inside what a double holds exactly.
    var text = JSON.stringify(body.result, null, 1);
    if (bundleLink) {
      // The download is now the very bytes checked here.
      bundleLink.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      bundleLink.download = "provenance-" + what.replace(":", "-") + ".json";
    }
    return text;
  }

  async function run() {
    try {
      if (fetched === null) {
        setStatus("running", "Fetching the bundle from this node…");
        fetched = await fetchBundle();
      }
      await check(fetched);
    } catch (e) {
      setStatus("error", "Could not check: " + (e && e.message ? e.message : e));
    }
  }

  var opts = document.getElementById("trust-options");
  if (opts) opts.addEventListener("submit", function (e) { e.preventDefault(); if (kind) run(); });
  document.getElementById("trust-file").addEventListener("submit", async function (e) {
    e.preventDefault();
    setStatus("running", "Reading the file…"); // at once: a result shown before is not this file's
    try {
      var text = await readFile(document.getElementById("bundle-file"));
      if (!text) { setStatus("error", "Choose a bundle file first."); return; }
      await check(text);
    } catch (err) {
      setStatus("error", "Could not check the file: " + (err && err.message ? err.message : err));
    }
  });
  if (kind) run();
})();
