// The settings page: the configuration in force, secrets masked, as the management API
// builds it (GET /api/v1/settings); the page's own session authenticates the request.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var out = document.getElementById("effective-config");
  if (!out) { return; }
  fetch(out.getAttribute("data-source"), { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw new Error((body.error && body.error.message) || ("HTTP " + r.status)); }
        return body;
      });
    })
    .then(function (body) { out.textContent = JSON.stringify(body, null, 2); })
    .catch(function (e) { out.textContent = "The configuration could not be read: " + e.message; });
});
