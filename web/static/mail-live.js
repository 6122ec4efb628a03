// The open message list follows its folder: the server-sent events of
// /mail/{folder}/events (src/http/webmail/live.rs) insert new messages at the top of the
// first page, update a row's flags, remove expunged rows and update the unread counts of
// the folder tree. A `resync` event (changes were missed while disconnected, or the
// stream fell behind) reloads the page. Also "select all on page" for the bulk form,
// which works without this script.
"use strict";
(function () {
  var live = document.getElementById("live");
  if (!live) { return; }
  var folder = live.getAttribute("data-folder");
  var firstPage = live.getAttribute("data-page") === "1";

  function status(text) {
    live.textContent = text;
    live.hidden = !text;
  }

  function csrf() {
    var f = document.querySelector("input[name=csrf]");
    return f ? f.value : "";
  }

  function rowOf(uid) {
    return document.querySelector("#messages tbody tr[data-uid=\"" + uid + "\"]");
  }

  function cell(cls) {
    var td = document.createElement("td");
    td.className = cls;
    return td;
  }

  function badge(cls, title, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.title = title;
    s.textContent = text;
    return s;
  }

  function button(action, label, subject) {
    var b = document.createElement("button");
    b.type = "submit";
    b.name = "action";
    b.value = action;
    b.textContent = label;
    b.setAttribute("aria-label", ({
      seen: "Mark read", unseen: "Mark unread", flag: "Flag", unflag: "Unflag", "delete": "Delete"
    })[action] + ": " + subject);
    return b;
  }

  function hidden(name, value) {
    var i = document.createElement("input");
    i.type = "hidden";
    i.name = name;
    i.value = value;
    return i;
  }

  // The flag cell and the read/flag buttons of a row, as the template draws them.
  function paint(tr, seen, flagged) {
    tr.className = seen ? "seen" : "unseen";
    tr.setAttribute("data-seen", seen ? "1" : "0");
    tr.setAttribute("data-flagged", flagged ? "1" : "0");
    var flags = tr.querySelector("td.flags");
    if (flags) {
      flags.textContent = "";
      if (!seen) { flags.appendChild(badge("badge", "unread", "new")); }
      if (flagged) { flags.appendChild(badge("badge flagged", "flagged", "\u2605")); }
    }
    var form = tr.querySelector("td.actions form");
    if (!form) { return; }
    var subject = tr.getAttribute("data-subject") || "";
    var read = form.querySelector("button[value=seen], button[value=unseen]");
    var star = form.querySelector("button[value=flag], button[value=unflag]");
    if (read) { form.replaceChild(button(seen ? "unseen" : "seen", seen ? "Unread" : "Read", subject), read); }
    if (star) { form.replaceChild(button(flagged ? "unflag" : "flag", flagged ? "Unflag" : "Flag", subject), star); }
  }

  function added(m) {
    // Only the plain list's first page shows new mail at the top (data-page is 0 for a
    // sorted or searched list or conversations, where it may belong elsewhere).
    if (!firstPage || rowOf(m.uid)) { return; }
    var tbody = document.querySelector("#messages tbody");
    if (!tbody) { window.location.reload(); return; }
    var tr = document.createElement("tr");
    tr.setAttribute("data-uid", String(m.uid));
    tr.setAttribute("data-subject", m.subject);
    var sel = cell("select");
    var box = document.createElement("input");
    box.type = "checkbox";
    box.name = "uid";
    box.value = String(m.uid);
    box.id = "select-" + m.uid;
    box.setAttribute("form", "bulk");
    var label = document.createElement("label");
    label.htmlFor = box.id;
    label.className = "visually-hidden";
    label.textContent = "Select: " + m.subject;
    sel.appendChild(box);
    sel.appendChild(label);
    tr.appendChild(sel);
    tr.appendChild(cell("flags"));
    var from = cell("from");
    from.textContent = m.from;
    tr.appendChild(from);
    var subject = cell("subject");
    var a = document.createElement("a");
    a.href = "/mail/" + folder + "/" + m.uid;
    a.textContent = m.subject;
    subject.appendChild(a);
    tr.appendChild(subject);
    var date = cell("date");
    date.textContent = m.date;
    tr.appendChild(date);
    var size = cell("size");
    size.textContent = m.size;
    tr.appendChild(size);
    var actions = cell("actions");
    var form = document.createElement("form");
    form.method = "post";
    form.action = "/mail/" + folder + "/" + m.uid;
    form.className = "inline";
    form.appendChild(hidden("csrf", csrf()));
    form.appendChild(hidden("back", "list"));
    form.appendChild(hidden("page", "1"));
    form.appendChild(button("seen", "Read", m.subject));
    form.appendChild(button("flag", "Flag", m.subject));
    form.appendChild(button("delete", "Delete", m.subject));
    actions.appendChild(form);
    tr.appendChild(actions);
    paint(tr, m.seen, m.flagged);
    tbody.insertBefore(tr, tbody.firstChild);
  }

  function unread(u) {
    var a = document.querySelector("nav.folders a[href=\"/mail/" + u.folder + "\"]");
    if (!a) { return; }
    var badgeEl = a.querySelector(".unread");
    if (u.unseen > 0) {
      if (!badgeEl) {
        badgeEl = document.createElement("span");
        badgeEl.className = "unread";
        a.appendChild(document.createTextNode(" "));
        a.appendChild(badgeEl);
      }
      badgeEl.textContent = String(u.unseen);
      badgeEl.setAttribute("aria-label", u.unseen + " unread");
    } else if (badgeEl) {
      badgeEl.remove();
    }
  }

  function data(e) {
    try { return JSON.parse(e.data); } catch (_) { return null; }
  }

  // Rows drawn by the template carry their subject for the buttons' labels.
  Array.prototype.forEach.call(document.querySelectorAll("#messages tbody tr"), function (tr) {
    var a = tr.querySelector("td.subject a");
    if (a) { tr.setAttribute("data-subject", a.textContent); }
  });

  if (window.EventSource) {
    var source = new EventSource(live.getAttribute("data-events"));
    source.addEventListener("open", function () {
      live.setAttribute("data-state", "open");
      status("");
    });
    source.addEventListener("error", function () {
      live.setAttribute("data-state", source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
      status(source.readyState === EventSource.CLOSED
        ? "Live updates stopped: reload the page (you may need to log in again)."
        : "Live updates paused: reconnecting\u2026");
    });
    source.addEventListener("resync", function () {
      source.close();
      window.location.reload();
    });
    source.addEventListener("new", function (e) { var m = data(e); if (m) { added(m); } });
    source.addEventListener("flags", function (e) {
      var m = data(e);
      var tr = m && rowOf(m.uid);
      if (tr) { paint(tr, m.seen, m.flagged); }
    });
    source.addEventListener("expunged", function (e) {
      var m = data(e);
      if (!m) { return; }
      m.uids.forEach(function (uid) {
        var tr = rowOf(uid);
        if (tr) { tr.remove(); }
      });
    });
    source.addEventListener("unread", function (e) { var u = data(e); if (u) { unread(u); } });
  }

  // "Select all on this page": shown only when this script runs.
  var all = document.getElementById("select-all");
  if (all) {
    all.hidden = false;
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(
        document.querySelectorAll("#messages tbody input[name=uid]"),
        function (box) { box.checked = all.checked; });
    });
  }
}());
