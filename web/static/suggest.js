// Compose (webmail): recipients suggested from the account's contacts. Typing in To, Cc
// or Bcc asks /contacts/suggest for the address being typed (the text after the last
// comma) and offers the answers in the fields' datalist, each option the field's whole
// value with that address completed. Without this script the datalist keeps the recent
// recipients and compose works the same.
(function () {
  "use strict";
  var list = document.getElementById("recent");
  if (!list) { return; }
  var recent = Array.prototype.map.call(list.options, function (o) { return o.value; });
  var timer = null;
  var asked = 0;

  function fill(values, labels) {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    values.forEach(function (v, i) {
      var o = document.createElement("option");
      o.value = v;
      if (labels && labels[i]) { o.label = labels[i]; }
      list.appendChild(o);
    });
  }

  function lookup(input) {
    var text = input.value;
    var cut = text.lastIndexOf(",");
    var head = cut < 0 ? "" : text.slice(0, cut + 1) + " ";
    var word = text.slice(cut + 1).trim();
    if (word.length < 1) { fill(recent); return; }
    var mine = ++asked;
    fetch("/contacts/suggest?q=" + encodeURIComponent(word), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (found) {
      if (mine !== asked) { return; }
      fill(found.map(function (s) { return head + s.value; }),
        found.map(function (s) { return s.name + " <" + s.email + ">"; }));
      list.setAttribute("data-for", word);
    }).catch(function () { /* offline: keep what is there */ });
  }

  ["to", "cc", "bcc"].forEach(function (id) {
    var input = document.getElementById(id);
    if (!input) { return; }
    input.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(function () { lookup(input); }, 150);
    });
  });
}());
