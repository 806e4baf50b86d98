// The explorer's one script. Every page reads without it; it adds:
// "/" focuses the search box, copy buttons, relative times, "Add to
// wallet" (EIP-3085) and, on the home page, live blocks over the node's
// own WebSocket (eth_subscribe newHeads).
(function () {
  "use strict";
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (e.key === "/" && !(t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable))) {
      e.preventDefault();
      var q = document.getElementById("q");
      if (q) q.focus();
    }
  });
  document.querySelectorAll("button.copy").forEach(function (b) {
    if (!navigator.clipboard) return;
    b.hidden = false;
    b.addEventListener("click", function () {
      navigator.clipboard.writeText(b.dataset.copy).then(function () { b.textContent = "copied"; });
    });
  });
  function ago(s) {
    if (s < 60) return Math.max(0, Math.floor(s)) + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var at = Date.parse(t.getAttribute("datetime")) / 1000;
      if (!t.title) t.title = t.textContent;
      t.textContent = ago(now - at);
    });
  }
  tick();
  setInterval(tick, 1000);
  var w = document.querySelector("button.wallet");
  if (w && window.ethereum) {
    w.hidden = false;
    w.addEventListener("click", function () {
      window.ethereum.request({ method: "wallet_addEthereumChain", params: [{
        chainId: w.dataset.chainId, chainName: w.dataset.name,
        nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
        rpcUrls: [w.dataset.rpc], blockExplorerUrls: [w.dataset.explorer] }] });
    });
  }
  var head = document.getElementById("head");
  var body = document.querySelector("#blocks tbody");
  if (!head || !body || !window.WebSocket) return;
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function connect() {
    var ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/");
    ws.onopen = function () {
      ws.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_subscribe", params: ["newHeads"] }));
    };
    ws.onmessage = function (m) {
      var msg = JSON.parse(m.data);
      if (msg.id === 1 && msg.result) document.body.dataset.live = "1"; // subscribed
      if (!msg.params || !msg.params.result) return;
      var h = msg.params.result, n = parseInt(h.number, 16), t = parseInt(h.timestamp, 16);
      head.textContent = n;
      head.href = "/block/" + n;
      var tr = document.createElement("tr");
      tr.innerHTML = '<td><a href="/block/' + n + '">' + n + "</a></td>" +
        '<td class="mono">' + esc(h.hash.slice(0, 10)) + "…" + esc(h.hash.slice(-6)) + "</td>" +
        '<td><time datetime="' + new Date(t * 1000).toISOString() + '"></time></td><td>…</td><td>' +
        parseInt(h.gasUsed, 16) + '</td><td><span class="badge pending">pending</span></td>';
      body.insertBefore(tr, body.firstChild);
      while (body.children.length > 20) body.removeChild(body.lastChild);
      tick();
    };
    ws.onclose = function () { delete document.body.dataset.live; setTimeout(connect, 2000); };
  }
  connect();
})();
