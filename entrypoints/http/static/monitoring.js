// The dashboard refreshes itself from /api/admin/monitoring/data; the token stays in its
// HttpOnly cookie, so this script never sees it. State changes carry the page's CSRF token.
(function () {
  "use strict";
  var DATA_URL = "/api/admin/monitoring/data";
  var SWITCH_URL = "/admin/monitoring/kill-switch";
  var root = document.getElementById("rollout");
  var interval = Math.max(1000, parseInt(root.dataset.intervalMs, 10) || 5000);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var status = document.getElementById("status");
  var charts = {};
  var flagOn = null;
  // Distinguishable in colour and in dash pattern, each above 4.5:1 on white.
  var COLOURS = ["#0b5c3b", "#8a1c1c", "#1d4ed8", "#6b21a8", "#92400e", "#374151", "#0e7490",
                 "#9d174d"];
  var DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3]];

  function say(text) {
    if (status.textContent !== text) { status.textContent = text; }
  }

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function fmt(v, unit) {
    if (v === null || v === undefined) { return "none"; }
    return (Math.round(v * 100) / 100) + (unit || "");
  }

  function plot(id, names, columns, unit) {
    var el = document.querySelector("#chart-" + id + " .plot");
    var key = names.join("|");
    var width = Math.max(260, el.clientWidth || 300);
    if (charts[id] && charts[id].key !== key) {
      charts[id].plot.destroy();
      delete charts[id];
    }
    if (!charts[id]) {
      var series = [{}];
      names.forEach(function (name, i) {
        series.push({label: name, stroke: COLOURS[i % COLOURS.length], width: 2,
                     dash: DASHES[i % DASHES.length], spanGaps: false,
                     value: function (u, v) { return fmt(v, unit); }});
      });
      charts[id] = {key: key, plot: new uPlot({width: width, height: 200, series: series,
                                               axes: [{}, {size: 60}]}, columns, el)};
    } else {
      charts[id].plot.setData(columns);
    }
    var latest = names.map(function (name, i) {
      var col = columns[i + 1];
      return name + " " + fmt(col.length ? col[col.length - 1] : null, unit);
    });
    var points = columns[0].length;
    text("chart-" + id + "-latest",
         points ? "Latest: " + latest.join(", ") + " (" + points + " points)" : "No data yet.");
    el.dataset.points = String(columns[1] ? columns[1].filter(function (v) {
      return v !== null;
    }).length : 0);
  }

  function render(d) {
    var s = d.series;
    plot("qr", ["p50", "p95"], [s.t, s.qr_p50_ms, s.qr_p95_ms], " ms");
    plot("webhook", ["p50", "p95"], [s.t, s.webhook_p50_ms, s.webhook_p95_ms], " ms");
    var percent = s.error_rate.map(function (v) { return v === null ? null : v * 100; });
    plot("errors", ["5xx %", "errors/min"], [s.t, percent, s.errors_per_min]);
    var states = [];
    s.instances.forEach(function (byState) {
      Object.keys(byState).forEach(function (k) {
        if (states.indexOf(k) < 0) { states.push(k); }
      });
    });
    states.sort();
    var columns = [s.t].concat(states.map(function (k) {
      return s.instances.map(function (byState) { return byState[k] || 0; });
    }));
    plot("instances", states.length ? states : ["none"],
         states.length ? columns : [s.t, s.t.map(function () { return 0; })]);
    plot("backlog", ["pending"], [s.t, s.inbox_pending]);

    text("inbox-pending", d.inbox.pending);
    text("inbox-processing", d.inbox.processing);
    text("inbox-dead", d.inbox.dead);
    var body = document.getElementById("instances-body");
    body.replaceChildren();
    var names = Object.keys(d.instances).sort();
    if (!names.length) { names = ["none"]; }
    names.forEach(function (name) {
      var row = document.createElement("tr");
      var a = document.createElement("td");
      var b = document.createElement("td");
      a.textContent = name;
      b.textContent = d.instances[name] || 0;
      row.append(a, b);
      body.append(row);
    });
    rows("alerts-body", d.alerts, ["rule", "severity", "state", "detail", "last_at"],
         "No alerts.");
    rows("dead-body", d.dead_letters,
         ["organization_id", "event", "attempts", "last_error", "received_at"],
         "No dead letters.");
    showFlag(d.flag, d.stage);
  }

  function rows(id, items, keys, empty) {
    var body = document.getElementById(id);
    body.replaceChildren();
    if (!items.length) {
      var none = document.createElement("tr");
      var cell = document.createElement("td");
      cell.colSpan = keys.length;
      cell.textContent = empty;
      none.append(cell);
      body.append(none);
      return;
    }
    items.forEach(function (item) {
      var row = document.createElement("tr");
      keys.forEach(function (key) {
        var cell = document.createElement("td");
        cell.textContent = item[key] === null || item[key] === undefined ? "" : item[key];
        row.append(cell);
      });
      body.append(row);
    });
  }

  function showFlag(flag, stage) {
    var button = document.getElementById("switch-open");
    if (!flag) {
      text("flag-state", "not configured");
      button.disabled = true;
      return;
    }
    var was = flagOn;
    flagOn = flag.enabled;
    text("flag-state", flag.enabled ? "on" : "off (kill switch)");
    text("flag-stage", flag.percentage + "%" + (stage && stage.index !== null ?
      " (stage " + (stage.index + 1) + " of " + stage.stages.length + ")" : ""));
    button.textContent = flag.enabled ? "Turn off (kill switch)" : "Turn back on";
    button.disabled = !csrf;
    document.getElementById("switch-title").textContent =
      (flag.enabled ? "Turn off " : "Turn back on ") + flag.name + "?";
    document.getElementById("switch-what").textContent = flag.enabled ?
      "Quick-create answers 403 for every clinic until it is turned back on. " +
      "The change is audited under your name." :
      "Clinics in the rollout's stage can quick-create again. The change is audited.";
    document.getElementById("switch-confirm").textContent =
      flag.enabled ? "Yes, turn it off" : "Yes, turn it on";
    if (was !== null && was !== flagOn) {
      say(flag.name + " is now " + (flagOn ? "on" : "off"));
    }
  }

  function refresh() {
    fetch(DATA_URL, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401 || r.status === 403) {
          window.location.assign("/admin/monitoring");
          throw new Error("logged out");
        }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (d) {
        render(d);
        say("Updated " + new Date(d.sampled_at * 1000).toLocaleTimeString() +
            "; refreshes every " + Math.round(interval / 1000) + " s.");
      })
      .catch(function (e) { say("Could not refresh: " + e.message); })
      .finally(function () { window.setTimeout(refresh, interval); });
  }

  var dialog = document.getElementById("switch-dialog");
  document.getElementById("switch-open").addEventListener("click", function () {
    dialog.showModal();
    document.getElementById("switch-cancel").focus();
  });
  document.getElementById("switch-cancel").addEventListener("click", function () {
    dialog.close();
  });
  document.getElementById("switch-confirm").addEventListener("click", function () {
    var enabled = !flagOn;
    dialog.close();
    fetch(SWITCH_URL, {method: "POST", credentials: "same-origin",
                       headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                       body: JSON.stringify({enabled: enabled})})
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (d) {
        showFlag(d.items[0], null);
        say(d.items[0].name + " is now " + (d.items[0].enabled ? "on" : "off"));
      })
      .catch(function (e) { say("The switch failed: " + e.message); });
  });
  refresh();
})();
