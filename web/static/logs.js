// The live log tail: reads the management API's log stream (server-sent events) with the
// filters of the form; keeps the last 1000 lines.
"use strict";
(function () {
  var KEEP = 1000;
  var source = null, paused = false;

  function line(data) {
    try {
      var o = JSON.parse(data);
      if (o && typeof o === "object") {
        return [o.time || o.timestamp || "", (o.level || "").toUpperCase(), o.service || o.target || "",
          o.session ? "[" + o.session + "]" : "", o.message || o.line || data].join(" ").trim();
      }
    } catch (e) { /* plain text */ }
    return data;
  }

  function connect(form) {
    if (source) { source.close(); }
    var params = new URLSearchParams();
    ["service", "level", "session"].forEach(function (n) {
      var v = form.elements[n].value.trim();
      if (v) { params.set(n, v); }
    });
    var out = document.getElementById("log-lines");
    var state = document.getElementById("log-state");
    source = new EventSource(form.getAttribute("data-stream") + "?" + params.toString());
    source.onopen = function () { state.textContent = "live"; };
    source.onerror = function () { state.textContent = "disconnected; retrying"; };
    source.onmessage = function (ev) {
      if (paused) { return; }
      out.appendChild(document.createTextNode(line(ev.data) + "\n"));
      while (out.childNodes.length > KEEP) { out.removeChild(out.firstChild); }
      out.scrollTop = out.scrollHeight;
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("log-filters");
    if (!form) { return; }
    form.addEventListener("submit", function (ev) { ev.preventDefault(); connect(form); });
    var pause = document.getElementById("log-pause");
    pause.addEventListener("click", function () {
      paused = !paused;
      pause.setAttribute("aria-pressed", paused ? "true" : "false");
      pause.textContent = paused ? "Resume" : "Pause";
    });
    connect(form);
  });
})();
