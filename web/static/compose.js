// Compose (webmail): attachments uploaded in 1 MiB chunks, and the draft saved every 10 s
// while the form changes. Without this script the form still sends, saves drafts and
// removes attachments by posting itself.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  if (!form) { return; }
  var csrf = form.querySelector('input[name="csrf"]').value;
  var cid = form.getAttribute("data-cid");
  var CHUNK = 1024 * 1024;
  var list = document.getElementById("attachments");
  var status = document.getElementById("upload-status");
  var saved = document.getElementById("autosave-status");
  var draftRef = document.getElementById("draft-ref");
  var jsOnly = form.querySelector(".js-only");
  if (jsOnly) { jsOnly.hidden = false; }

  function nextIndex() {
    var n = 0;
    list.querySelectorAll("li[data-n]").forEach(function (li) {
      n = Math.max(n, parseInt(li.getAttribute("data-n"), 10) + 1);
    });
    return n;
  }

  function addItem(n, name, size) {
    var li = document.createElement("li");
    li.setAttribute("data-n", String(n));
    var span = document.createElement("span");
    span.className = "att-name";
    span.textContent = name;
    var muted = document.createElement("span");
    muted.className = "muted";
    muted.textContent = " " + Math.round(size / 1024) + " KiB ";
    var remove = document.createElement("button");
    remove.type = "submit";
    remove.name = "action";
    remove.value = "remove-" + n;
    remove.formNoValidate = true;
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", "Remove " + name);
    li.appendChild(span);
    li.appendChild(muted);
    li.appendChild(remove);
    list.appendChild(li);
  }

  async function upload(file) {
    var n = nextIndex();
    // Reserve the number while the chunks go.
    var placeholder = document.createElement("li");
    placeholder.setAttribute("data-n", String(n));
    placeholder.textContent = file.name + " …";
    list.appendChild(placeholder);
    var offset = 0;
    try {
      do {
        var chunk = file.slice(offset, offset + CHUNK);
        var url = "/compose/" + cid + "/upload/" + n +
          "?offset=" + offset +
          "&name=" + encodeURIComponent(file.name) +
          "&type=" + encodeURIComponent(file.type || "application/octet-stream");
        var res = await fetch(url, {
          method: "PUT",
          headers: { "X-CSRF-Token": csrf },
          body: chunk,
          credentials: "same-origin"
        });
        if (!res.ok) { throw new Error((await res.text()).trim() || res.statusText); }
        offset += chunk.size;
        status.textContent = file.name + ": " + Math.round(100 * offset / Math.max(file.size, 1)) + "%";
      } while (offset < file.size);
      placeholder.remove();
      addItem(n, file.name, file.size);
      status.textContent = file.name + " attached.";
      dirty = true;
    } catch (e) {
      placeholder.remove();
      fetch("/compose/" + cid + "/upload/" + n, {
        method: "DELETE", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin"
      });
      status.textContent = file.name + " not attached: " + e.message;
    }
  }

  var files = document.getElementById("files");
  if (files) {
    files.addEventListener("change", async function () {
      var chosen = Array.prototype.slice.call(files.files);
      files.value = "";
      for (var i = 0; i < chosen.length; i++) { await upload(chosen[i]); }
    });
  }

  // Autosave: every 10 s when something changed; never once sending has started.
  var dirty = false;
  var busy = false;
  var leaving = false;
  var pending = null;
  form.addEventListener("input", function () { dirty = true; });
  // A button pressed while a save is under way waits for it, so the form then names the
  // draft that save made (sending or discarding removes it).
  form.addEventListener("submit", function (ev) {
    if (busy) { ev.preventDefault(); pending = ev.submitter || null; return; }
    leaving = true;
  });
  async function autosave() {
    if (!dirty || busy || leaving) { return; }
    busy = true;
    dirty = false;
    var data = new URLSearchParams(new FormData(form));
    data.set("action", "save");
    data.set("ajax", "1");
    try {
      var res = await fetch("/compose", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
        body: data.toString(),
        credentials: "same-origin"
      });
      if (!res.ok) { throw new Error((await res.text()).trim() || res.statusText); }
      var answer = await res.json();
      if (!leaving) {
        draftRef.value = answer.draft;
        saved.hidden = false;
        saved.textContent = "Draft saved at " + new Date().toLocaleTimeString();
      }
    } catch (e) {
      dirty = true;
      saved.hidden = false;
      saved.textContent = "Draft not saved: " + e.message;
    }
    busy = false;
    if (pending !== null) {
      var button = pending;
      pending = null;
      form.requestSubmit(button);
    }
  }
  setInterval(autosave, 10000);
}());
