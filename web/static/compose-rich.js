// Compose (webmail): the rich-text editor. A toolbar (bold, italic, underline, lists,
// quote, link, remove formatting) over a contenteditable box, and a plain/rich switch whose
// choice the server remembers (POST /compose action=mode). In rich mode the editor's HTML
// goes in the hidden `html` field with mode=rich; the server sanitises it and sends
// multipart/alternative. Without this script the textarea is the whole story.
(function () {
  "use strict";
  var form = document.getElementById("compose");
  if (!form) { return; }
  var textarea = document.getElementById("body");
  var htmlField = document.getElementById("compose-html");
  var modeField = document.getElementById("compose-mode");
  var csrf = form.querySelector('input[name="csrf"]').value;
  if (!textarea || !htmlField || !modeField) { return; }
  // With a script, files go up in chunks (compose.js): the form's own file input, for
  // browsers without one, goes.
  var noJsFiles = document.getElementById("no-js-files");
  if (noJsFiles) { noJsFiles.remove(); }

  // Plain text as editor lines (as the server's compose_rich::from_text writes them).
  function fromText(text) {
    var box = document.createElement("div");
    text.replace(/\r\n/g, "\n").split("\n").forEach(function (line) {
      var div = document.createElement("div");
      if (line === "") { div.appendChild(document.createElement("br")); } else { div.textContent = line; }
      box.appendChild(div);
    });
    return box.innerHTML;
  }

  var wrap = document.createElement("div");
  wrap.className = "rich";
  var switchLabel = document.createElement("label");
  switchLabel.className = "check rich-switch";
  var toggle = document.createElement("input");
  toggle.type = "checkbox";
  toggle.id = "rich-toggle";
  switchLabel.appendChild(toggle);
  switchLabel.appendChild(document.createTextNode(" Rich text (formatting)"));

  var bar = document.createElement("div");
  bar.className = "rich-toolbar";
  bar.setAttribute("role", "toolbar");
  bar.setAttribute("aria-label", "Formatting");
  bar.setAttribute("aria-controls", "rich-editor");

  var editor = document.createElement("div");
  editor.id = "rich-editor";
  editor.className = "rich-editor";
  editor.contentEditable = "true";
  editor.setAttribute("role", "textbox");
  editor.setAttribute("aria-multiline", "true");
  editor.setAttribute("aria-label", "Message (rich text)");
  editor.tabIndex = 0;

  function exec(command, value) {
    editor.focus();
    document.execCommand(command, false, value);
    sync();
  }

  var buttons = [
    ["Bold", "B", "Ctrl+B", function () { exec("bold"); }],
    ["Italic", "I", "Ctrl+I", function () { exec("italic"); }],
    ["Underline", "U", "Ctrl+U", function () { exec("underline"); }],
    ["Bulleted list", "• List", "", function () { exec("insertUnorderedList"); }],
    ["Numbered list", "1. List", "", function () { exec("insertOrderedList"); }],
    ["Quote", "❝ Quote", "", function () { exec("formatBlock", "blockquote"); }],
    ["Link", "Link", "Ctrl+K", function () {
      var url = window.prompt("Link address (https://…, mailto:…)", "https://");
      if (url && /^(https?:|mailto:)/i.test(url.trim())) { exec("createLink", url.trim()); }
    }],
    ["Remove formatting", "Clear", "", function () { exec("removeFormat"); exec("unlink"); }]
  ];
  buttons.forEach(function (b) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = b[1];
    button.setAttribute("aria-label", b[0]);
    button.title = b[0] + (b[2] ? " (" + b[2] + ")" : "");
    button.setAttribute("data-command", b[0].toLowerCase().replace(/ /g, "-"));
    button.addEventListener("click", b[3]);
    bar.appendChild(button);
  });

  // Ctrl+K for a link; Ctrl+B/I/U are the browser's own in a contenteditable.
  editor.addEventListener("keydown", function (ev) {
    if ((ev.ctrlKey || ev.metaKey) && (ev.key === "k" || ev.key === "K")) {
      ev.preventDefault();
      buttons[6][3]();
    }
  });

  wrap.appendChild(bar);
  wrap.appendChild(editor);
  var label = form.querySelector('label[for="body"]');
  form.insertBefore(switchLabel, label);
  textarea.parentNode.insertBefore(wrap, textarea.nextSibling);

  var rich = false;
  function sync() {
    if (rich) {
      htmlField.value = editor.innerHTML;
      textarea.value = editor.innerText;
    }
  }
  editor.addEventListener("input", sync);

  function show(on) {
    rich = on;
    wrap.hidden = !on;
    textarea.hidden = on;
    modeField.value = on ? "rich" : "plain";
    toggle.checked = on;
  }

  toggle.addEventListener("change", function () {
    if (toggle.checked) {
      editor.innerHTML = fromText(textarea.value);
      show(true);
      sync();
    } else {
      textarea.value = editor.innerText;
      htmlField.value = "";
      show(false);
    }
    // Remembered for the next compose, as the other settings are (best effort).
    var data = new URLSearchParams();
    data.set("action", "mode");
    data.set("mode", toggle.checked ? "rich" : "plain");
    fetch("/compose", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: data.toString(),
      credentials: "same-origin"
    });
  });
  form.addEventListener("submit", sync, true);

  if (form.getAttribute("data-mode") === "rich") {
    // The server's sanitised HTML (a quote, a draft) or the text as lines.
    editor.innerHTML = htmlField.value || fromText(textarea.value);
    show(true);
    sync();
  } else {
    show(false);
  }
}());
