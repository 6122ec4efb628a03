// Ferrymail dashboard: behaviour shared by every page (no inline script: the CSP forbids it).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The collapsible navigation on narrow screens.
  var toggle = document.getElementById("nav-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
  // Forms that destroy something ask first.
  document.querySelectorAll("form.confirm").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) {
        ev.preventDefault();
      }
    });
  });
  // The queue page's "tick all" box.
  var all = document.getElementById("tick-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll("#queue-records input[name=id]").forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
});
