// The overview's live figures and charts: one snapshot from the page, then one every two
// seconds from the server-sent event stream; the charts keep the last 60 points.
"use strict";
(function () {
  var KEEP = 60;
  var root, charts = {}, last = null;

  function total(obj) {
    var n = 0;
    Object.keys(obj || {}).forEach(function (k) { n += obj[k]; });
    return n;
  }

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = String(value); }
  }

  function makeChart(id) {
    var el = document.getElementById(id);
    var names = el.getAttribute("data-series").split(",");
    var palette = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#be185d"];
    var series = [{}];
    names.forEach(function (n, i) {
      series.push({ label: n, stroke: palette[i % palette.length], width: 2 });
    });
    var data = [[]];
    names.forEach(function () { data.push([]); });
    var width = Math.max(260, Math.min(el.clientWidth || 600, 900));
    var plot = new uPlot({ width: width, height: 200, series: series, scales: { x: { time: true } } }, data, el);
    charts[id] = { names: names, data: data, plot: plot, el: el };
  }

  function push(id, t, values) {
    var c = charts[id];
    if (!c) { return; }
    c.data[0].push(t);
    c.names.forEach(function (n, i) {
      var v = values[n];
      c.data[i + 1].push(v === null ? null : (v || 0));
    });
    if (c.data[0].length > KEEP) {
      c.data.forEach(function (s) { s.shift(); });
    }
    c.plot.setData(c.data);
  }

  function apply(s) {
    text("messages-in", s.messages_in);
    text("messages-out", s.messages_out);
    text("messages-delivered", s.messages_delivered);
    text("sessions-open", total(s.sessions));
    text("queued", total(s.queues));
    text("failed-logins", s.failed_logins);
    text("bans", s.bans);
    var t = s.time / 1000;
    if (last && s.time > last.time) {
      // Per minute, from the counters' growth since the previous snapshot.
      var per = 60000 / (s.time - last.time);
      push("chart-messages", t, {
        in: Math.max(0, (s.messages_in - last.messages_in) * per),
        out: Math.max(0, (s.messages_out - last.messages_out) * per)
      });
      push("chart-security", t, {
        "failed logins": Math.max(0, (s.failed_logins - last.failed_logins) * per),
        bans: s.bans
      });
      var a = s.latency, b = last.latency;
      var mean = function (sum, count, sum0, count0) {
        return count > count0 ? (sum - sum0) / (count - count0) : null;
      };
      push("chart-latency", t, {
        local: mean(a.local_sum, a.local_count, b.local_sum, b.local_count),
        remote: mean(a.remote_sum, a.remote_count, b.remote_sum, b.remote_count)
      });
    }
    push("chart-queues", t, s.queues);
    push("chart-sessions", t, s.sessions);
    last = s;
  }

  function resize() {
    Object.keys(charts).forEach(function (id) {
      var c = charts[id];
      var width = Math.max(260, Math.min(c.el.clientWidth || 600, 900));
      c.plot.setSize({ width: width, height: 200 });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    root = document.getElementById("overview");
    if (!root) { return; }
    if (typeof uPlot !== "undefined") {
      ["chart-messages", "chart-queues", "chart-sessions", "chart-security", "chart-latency"].forEach(makeChart);
      window.addEventListener("resize", resize);
    }
    try { apply(JSON.parse(root.getAttribute("data-snapshot"))); } catch (e) { /* no first snapshot */ }
    var source = new EventSource(root.getAttribute("data-events"));
    source.onopen = function () { text("live-state", "on"); };
    source.onerror = function () { text("live-state", "reconnecting"); };
    source.onmessage = function (ev) {
      try { apply(JSON.parse(ev.data)); } catch (e) { /* a malformed event is skipped */ }
    };
  });
})();
