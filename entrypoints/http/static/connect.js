// The connect page shows what the QR stream says; no rule of its own beyond that.
(function () {
  "use strict";
  var root = document.getElementById("connect");
  var text = JSON.parse(document.getElementById("connect-text").textContent);
  var el = function (id) { return document.getElementById(id); };
  var source = null, ticker = null, expiresAt = 0;
  // Measured by the browser tests: when each QR event arrived and when its image was painted.
  window.wachannelQrPaints = [];

  function show(id, visible) { el(id).hidden = !visible; }
  function setState(label) { el("state").textContent = label; }

  function tick() {
    var left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    el("seconds-left").textContent = String(left);
  }

  function onQr(event) {
    var arrived = performance.now();
    var qr = JSON.parse(event.data);
    var img = el("qr");
    img.src = qr.base64;
    img.dataset.code = qr.code;
    expiresAt = Date.parse(qr.expires_at);
    show("qr", true); show("qr-waiting", false); show("expiry", true); show("problem", false);
    el("pairing-code").textContent = qr.pairing_code || "";
    show("pairing", Boolean(qr.pairing_code));
    tick();
    if (!ticker) { ticker = setInterval(tick, 1000); }
    img.decode().catch(function () {}).then(function () {
      requestAnimationFrame(function () {
        window.wachannelQrPaints.push({ code: qr.code, arrived: arrived, painted: performance.now() });
      });
    });
  }

  function stop() {
    if (source) { source.close(); source = null; }
    if (ticker) { clearInterval(ticker); ticker = null; }
  }

  function problem(message) {
    stop();
    show("qr", false); show("expiry", false); show("pairing", false);
    el("problem-text").textContent = message;
    show("problem", true);
    el("retry").focus();
  }

  function onState(event) {
    var data = JSON.parse(event.data);
    if (data.state_reason === "qr_limit_reached") { problem(text.qr_limit); return; }
    setState(text[data.state] || data.state);
  }

  function onConnected() {
    stop();
    setState(text.connected);
    show("qr-panel", false); show("problem", false);
    if (el("steps")) { show("steps", false); }
    show("success", true);
    el("success").focus();
  }

  function open() {
    show("problem", false);
    setState(text.waiting);
    source = new EventSource(root.dataset.stream);
    source.addEventListener("qr", onQr);
    source.addEventListener("state", onState);
    source.addEventListener("connected", onConnected);
    source.addEventListener("timeout", function () { problem(text.timeout); });
    source.addEventListener("error", function (event) {
      if (event.data) { problem(text.unavailable); return; }  // the stream's own error event
      // A refused or broken connection: EventSource gives up only when it is CLOSED.
      if (source && source.readyState === EventSource.CLOSED) { problem(text.unavailable); }
    });
  }

  el("retry").addEventListener("click", open);
  open();
}());
