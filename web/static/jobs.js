// The jobs page and a job's page: each job's bar, state and result follow the server-sent
// event stream named by #jobs[data-events] (a JSON array of jobs on the list, one job on a
// job's page). The stream of one job ends when the job has finished; so does this script's
// EventSource (it would otherwise reconnect).
"use strict";
(function () {
  function el(id) { return document.getElementById(id); }

  function text(id, value) {
    var e = el(id);
    if (e) { e.textContent = value; }
  }

  function count(j) {
    if (j.total > 0) { return j.done + " of " + j.total; }
    if (j.state === "running" && j.done === 0) { return ""; }
    return String(j.done);
  }

  function block(id, value) {
    var e = el(id);
    if (!e) { return; }
    e.textContent = value || "";
    e.hidden = !value;
  }

  // Updates the card of job `j`; false when the page has no card for it.
  function apply(j) {
    var bar = el("job-" + j.id + "-bar");
    if (!bar) { return false; }
    if (j.total > 0) {
      bar.max = j.total;
      bar.value = Math.min(j.done, j.total);
    } else if (j.state !== "running") {
      bar.max = 1;
      bar.value = 1;
    } else {
      bar.removeAttribute("value");
    }
    bar.textContent = count(j);
    text("job-" + j.id + "-state", j.state);
    text("job-" + j.id + "-count", count(j));
    var card = bar.closest(".job");
    if (card) {
      var phase = card.querySelector(".job-phase");
      if (phase) { phase.textContent = j.phase ? ": " + j.phase : ""; }
      var ended = card.querySelector(".job-ended");
      if (ended && j.ended) { ended.textContent = ", ended " + new Date(j.ended * 1000).toISOString().replace(".000", ""); }
    }
    block("job-" + j.id + "-result", j.result);
    block("job-" + j.id + "-error", j.error);
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = el("jobs");
    if (!root || !window.EventSource) { return; }
    var source = new EventSource(root.getAttribute("data-events"));
    source.onopen = function () { text("jobs-live", "live"); };
    source.onerror = function () { text("jobs-live", "reconnecting"); };
    source.addEventListener("gone", function () {
      source.close();
      text("jobs-live", "this job is no longer kept");
    });
    source.onmessage = function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (Array.isArray(data)) {
        data.forEach(function (j) {
          if (!apply(j)) {
            var more = el("jobs-new");
            if (more) { more.hidden = false; }
          }
        });
      } else if (data && data.id !== undefined) {
        apply(data);
        if (data.state !== "running") {
          source.close();
          text("jobs-live", "finished");
        }
      }
    };
  });
})();
