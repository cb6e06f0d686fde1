"""The playground's page: one self-contained HTML document (inline CSS and JavaScript, nothing fetched).

Takes the server's token, the spec to open first (or None) and the served folder's name; gives the
page's HTML.  Left: the list of specs, the source in an editor (a textarea over a layer that
underlines each diagnostic's span, tints its lines and writes its message at the line's end; the
gutter marks the lines), and the diagnostics as ``agqc check`` prints them (a click jumps to the
line).  Right: the interactive drawing (``Spec.to_html()``, in a sandboxed iframe: its script runs
with no access to this page) and the summary table.  Typing re-checks the text after a pause;
nothing is written until Save (or Ctrl-S).  Every text from the server is put in as text, never as
HTML, except the drawing, which goes into the sandboxed iframe.
"""
from __future__ import annotations

import json

_STYLE = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font: 14px system-ui, sans-serif; color: #1d1d1f; background: #f4f4f6; }
header { height: 44px; display: flex; align-items: center; gap: 10px; padding: 0 12px; background: #23273a;
  color: #fff; }
header strong { font-weight: 600; margin-right: 8px; }
header select, header button { font: inherit; padding: 3px 8px; }
#status { margin-left: 8px; opacity: .9; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#status.dirty::before { content: "\\25cf  "; color: #ffb347; }
#status.refused { color: #ff9d9d; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); height: calc(100% - 44px); }
section { display: flex; flex-direction: column; min-height: 0; padding: 8px; gap: 8px; }
#editor { flex: 1; display: flex; min-height: 0; background: #fff; border: 1px solid #c9c9d2; }
#gutter, #code, #backdrop, #source { font: 13px/20px ui-monospace, "DejaVu Sans Mono", monospace; tab-size: 4; }
#gutter { width: 52px; overflow: hidden; background: #f0f0f3; color: #8a8a96; text-align: right;
  border-right: 1px solid #ddd; user-select: none; }
#numbers > div, #lines > div { height: 20px; white-space: pre; }
#numbers > div { padding-right: 8px; }
#numbers > div.error { background: #d93025; color: #fff; font-weight: 600; }
#numbers > div.warning { background: #f2a600; color: #fff; }
#numbers, #lines { padding-top: 6px; padding-bottom: 60px; }
#code { position: relative; flex: 1; overflow: hidden; }
#backdrop { position: absolute; inset: 0; margin: 0; overflow: hidden; color: transparent; }
#lines { padding-left: 8px; width: max-content; min-width: 100%; }
#lines > div.error { background: #fde8e6; }
#lines > div.warning { background: #fff5d6; }
#backdrop mark { color: transparent; background: none; text-decoration: underline wavy #d93025;
  text-decoration-skip-ink: none; text-underline-offset: 3px; }
#backdrop mark.warning { text-decoration-color: #c98a00; }
#backdrop .says { color: #b3261e; font-style: italic; padding-left: 3em; }
#backdrop .says.warning { color: #8a5d00; }
#source { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; border: 0; outline: none;
  resize: none; background: transparent; color: #1d1d1f; caret-color: #000; padding: 6px 8px 60px 8px;
  white-space: pre; overflow: auto; }
#problems { margin: 0; padding: 0; list-style: none; max-height: 30%; overflow: auto; }
#problems li { background: #fff; border-left: 4px solid #d93025; margin-bottom: 4px; padding: 4px 8px;
  cursor: pointer; }
#problems li.warning { border-left-color: #f2a600; }
#problems li.ok { border-left-color: #2e7d32; cursor: default; }
#problems pre { margin: 0; font: 12px/16px ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; }
h2 { margin: 0; font-size: 13px; font-weight: 600; color: #555; }
h2 span { font-weight: normal; margin-left: 6px; }
#drawing { flex: 1; min-height: 0; width: 100%; border: 1px solid #c9c9d2; background: #fff; }
#drawing.stale { opacity: .5; }
#summary { margin: 0; max-height: 35%; overflow: auto; background: #fff; border: 1px solid #c9c9d2;
  padding: 6px 8px; font: 12px/16px ui-monospace, "DejaVu Sans Mono", monospace; }
#summary.stale { opacity: .5; }
"""

_BODY = """
<header>
  <strong>agqc playground</strong>
  <label>spec <select id="spec" aria-label="spec to edit"></select></label>
  <button id="save" disabled title="write the text into the file (Ctrl-S)">Save</button>
  <button id="saveas" title="save the text as a new spec in the served folder">Save as&hellip;</button>
  <span id="status" role="status"></span>
</header>
<main>
  <section>
    <div id="editor">
      <div id="gutter" aria-hidden="true"><div id="numbers"></div></div>
      <div id="code"><div id="backdrop" aria-hidden="true"><div id="lines"></div></div>
        <textarea id="source" spellcheck="false" wrap="off" autocapitalize="off" autocomplete="off"
          aria-label="the spec's source"></textarea></div>
    </div>
    <ul id="problems" aria-label="diagnostics"></ul>
  </section>
  <section>
    <h2>drawing <span id="drawing-note"></span></h2>
    <iframe id="drawing" sandbox="allow-scripts" title="the drawing: click a block to open it"></iframe>
    <h2>summary</h2>
    <pre id="summary"></pre>
  </section>
</main>
"""

_SCRIPT = r"""
"use strict";
const config = JSON.parse(document.getElementById("config").textContent);
const $ = (id) => document.getElementById(id);
const source = $("source"), spec = $("spec"), status = $("status"), saveButton = $("save");
const state = {path: null, base: null, saved: "", force: false, asked: 0, shown: 0, busy: false, again: false,
               timer: null, diagnostics: []};

async function api(method, url, body) {
  const options = {method, headers: {"X-Agqc-Token": config.token}};
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const answer = await response.json();
  if (!response.ok) throw Object.assign(new Error(answer.error || response.statusText), {status: response.status});
  return answer;
}

function say(text, kind) {
  status.textContent = text;
  status.className = kind || "";
}

function dirty() { return source.value !== state.saved; }

function showDirty() {
  saveButton.disabled = !dirty();
  if (dirty()) say(state.path + ": not saved", "dirty");
}

function element(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

// The layer under the textarea: each line as text (transparent), its diagnostics underlined and said at its end.
function paint() {
  const lines = source.value.split("\n");
  const here = state.diagnostics.filter((d) => d.here && d.line > 0);
  const numbers = $("numbers"), layer = $("lines");
  numbers.replaceChildren();
  layer.replaceChildren();
  lines.forEach((text, i) => {
    const n = i + 1;
    const on = here.filter((d) => d.line <= n && n <= Math.max(d.line, d.end_line));
    const worst = on.some((d) => d.severity === "error") ? "error" : (on.length ? "warning" : "");
    const number = element("div", worst, String(n));
    if (on.length) number.title = on.map((d) => d.severity + "[" + d.code + "]: " + d.message).join("\n");
    numbers.append(number);
    const row = element("div", worst);
    row.dataset.line = n;
    let at = 0;
    const cuts = on.map((d) => [d.line === n ? d.col - 1 : 0,
                                d.end_line === n ? Math.max(d.end_col - 1, d.col) : text.length,
                                d.severity]).sort((a, b) => a[0] - b[0]);
    for (const [from, to, severity] of cuts) {
      const start = Math.max(from, at), end = Math.max(Math.min(to, text.length), start);
      row.append(text.slice(at, start));
      row.append(element("mark", severity, text.slice(start, end) || " "));
      at = end;
    }
    row.append(text.slice(at));
    const starting = on.filter((d) => d.line === n);
    if (starting.length) {
      row.append(element("span", "says " + worst,
                         starting.map((d) => d.severity + "[" + d.code + "]: " + d.message).join("  |  ")));
    }
    layer.append(row);
  });
  follow();
}

function follow() {
  $("lines").style.transform = `translate(${-source.scrollLeft}px, ${-source.scrollTop}px)`;
  $("numbers").style.transform = `translateY(${-source.scrollTop}px)`;
}

function goTo(line, col) {
  const lines = source.value.split("\n");
  let offset = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
  offset += Math.max(0, col - 1);
  source.focus();
  source.setSelectionRange(offset, offset);
  source.scrollTop = Math.max(0, (line - 5) * 20);
  follow();
}

function list(diagnostics) {
  const problems = $("problems");
  problems.replaceChildren();
  if (!diagnostics.length) problems.append(element("li", "ok", "no problems: " + state.path + " checks"));
  for (const d of diagnostics) {
    const item = element("li", d.severity);
    item.dataset.line = d.line;
    item.append(element("pre", "", d.text));
    if (d.here) item.addEventListener("click", () => goTo(d.line, d.col));
    problems.append(item);
  }
}

function show(result) {
  state.diagnostics = result.diagnostics;
  paint();
  list(result.diagnostics);
  const errors = result.diagnostics.some((d) => d.severity === "error");
  const drawing = $("drawing"), summary = $("summary"), note = $("drawing-note");
  if (result.drawing_html !== null && drawing.srcdoc !== result.drawing_html) drawing.srcdoc = result.drawing_html;
  if (result.drawing_html === null && !errors) drawing.srcdoc = "";
  if (result.summary !== null) summary.textContent = result.summary;
  if (result.summary === null && !errors) summary.textContent = "";
  drawing.classList.toggle("stale", errors);
  summary.classList.toggle("stale", errors);
  note.textContent = errors ? "(of the last version without errors)"
                            : (result.drawing_note || "click a block to open it");
}

async function check() {
  if (state.busy) { state.again = true; return; }
  state.busy = true;
  const asked = ++state.asked, path = state.path;
  try {
    const result = await api("POST", "/api/check", {path, text: source.value});
    if (asked > state.shown && path === state.path) { state.shown = asked; show(result); }
    if (!dirty()) say(path + ": saved");
  } catch (err) {
    say("not checked: " + err.message, "refused");
  } finally {
    state.busy = false;
    if (state.again) { state.again = false; check(); }
  }
}

function later() {
  clearTimeout(state.timer);
  state.timer = setTimeout(check, 300);
}

async function open(path) {
  if (dirty() && state.path && !confirm("Discard the changes to " + state.path + "?")) {
    spec.value = state.path;
    return;
  }
  try {
    const answer = await api("GET", "/api/spec?path=" + encodeURIComponent(path));
    Object.assign(state, {path, base: answer.sha256, saved: answer.text, force: false, diagnostics: []});
    source.value = answer.text;
    spec.value = path;
    history.replaceState(null, "", "#" + encodeURIComponent(path));
    document.title = path + " - agqc playground";
    source.scrollTop = 0;
    paint();
    showDirty();
    say(path);
    check();
  } catch (err) {
    say("cannot open " + path + ": " + err.message, "refused");
  }
}

async function save(create) {
  let path = state.path;
  if (create) {
    path = prompt("Save as (a path in the served folder, ending in .agq):", path.replace(/\.agq$/, "_copy.agq"));
    if (!path) return;
  }
  const text = source.value;
  try {
    const body = {path, text, create: !!create};
    if (!create && !state.force) body.base = state.base;
    const answer = await api("POST", "/api/save", body);
    Object.assign(state, {path, base: answer.sha256, saved: text, force: false});
    if (create) { await loadList(); spec.value = path; history.replaceState(null, "", "#" + encodeURIComponent(path)); }
    say(path + ": saved at " + new Date().toLocaleTimeString());
    saveButton.disabled = !dirty();
    if (create) check();
  } catch (err) {
    if (err.status === 409 && !create) state.force = true;
    say("not saved: " + err.message, "refused");
  }
}

async function loadList() {
  const answer = await api("GET", "/api/specs");
  spec.replaceChildren(...answer.specs.map((p) => { const o = element("option", "", p); o.value = p; return o; }));
  return answer.specs;
}

source.addEventListener("input", () => { showDirty(); paint(); later(); });
source.addEventListener("scroll", follow);
source.addEventListener("keydown", (e) => {
  if (e.key === "Tab" && !e.ctrlKey && !e.altKey && !e.metaKey && !e.shiftKey) {
    e.preventDefault();
    document.execCommand("insertText", false, "    ");
  }
});
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") { e.preventDefault(); if (dirty()) save(false); }
});
saveButton.addEventListener("click", () => save(false));
$("saveas").addEventListener("click", () => save(true));
spec.addEventListener("change", () => open(spec.value));
window.addEventListener("beforeunload", (e) => { if (dirty()) e.preventDefault(); });

(async () => {
  const specs = await loadList();
  const wanted = decodeURIComponent(location.hash.slice(1)) || config.first;
  const first = specs.includes(wanted) ? wanted : specs[0];
  if (first) open(first); else say("no .agq files under " + config.folder, "refused");
})();
"""


def page(token: str, first: str | None, folder: str) -> str:
    config = json.dumps({"token": token, "first": first, "folder": folder}).replace("<", "\\u003c")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>agqc playground</title>\n"
            f"<style>{_STYLE}</style>\n</head><body>{_BODY}"
            f"<script type=\"application/json\" id=\"config\">{config}</script>\n"
            f"<script>{_SCRIPT}</script>\n</body></html>\n")
