// The search page: ask the API, show the answer and passages, open a document at its citation.
// Document text is data: it only ever reaches the page through textContent, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const FILTERS = ["source", "date_from", "date_to"];

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

// Offsets from the API count Unicode code points; slice by code points, not UTF-16 units.
function marked(text, spans) {
  const chars = Array.from(text);
  const cuts = new Set([0, chars.length]);
  for (const s of spans) { cuts.add(Math.max(0, s.start)); cuts.add(Math.min(chars.length, s.end)); }
  const points = [...cuts].sort((a, b) => a - b);
  const out = document.createDocumentFragment();
  for (let i = 0; i + 1 < points.length; i++) {
    const [a, b] = [points[i], points[i + 1]];
    const piece = chars.slice(a, b).join("");
    const classes = spans.filter((s) => s.start <= a && b <= s.end).map((s) => s.cls);
    if (classes.length) {
      const mark = el("mark", { className: classes.join(" "), textContent: piece });
      if (classes.includes("cited") && !document.getElementById("cited")) mark.id = "cited";
      out.append(mark);
    } else {
      out.append(piece);
    }
  }
  return out;
}

function viewLink(item, query) {
  const params = new URLSearchParams({ id: item.doc_id, start: item.start, end: item.end, q: query });
  return "/view?" + params.toString();
}

function citation(item, query) {
  const parts = [el("a", { href: viewLink(item, query), textContent: item.title || item.doc_id })];
  for (const value of [item.number, item.section, item.article, item.date, item.source]) if (value) parts.push(el("span", { textContent: value }));
  parts.push(el("span", { textContent: `[${item.start}:${item.end}]` }));
  return el("div", { className: "cite" }, parts);
}

function answerSpan(answer, hit) {
  if (!answer || !answer.answered || answer.doc_id !== hit.doc_id) return null;
  if (hit.start <= answer.start && answer.end <= hit.end) {
    return { start: answer.start - hit.start, end: answer.end - hit.start, cls: "answer" };
  }
  return null;
}

// The answer sentence, with the date, number or name that answers the question in bold.
function answerSentence(answer) {
  const node = el("div", { className: "sentence", textContent: answer.text });
  if (answer.span_start === null || answer.span_start === undefined) return node;
  const chars = Array.from(answer.text);
  const [a, b] = [answer.span_start - answer.start, answer.span_end - answer.start];
  node.className = "sentence with-span";
  node.replaceChildren(chars.slice(0, a).join(""), el("strong", { textContent: chars.slice(a, b).join("") }), chars.slice(b).join(""));
  return node;
}

function formParams() {
  const params = new URLSearchParams({ q: $("q").value.trim() });
  const mode = document.querySelector("input[name=mode]:checked");
  if (mode) params.set("mode", mode.value);
  for (const name of FILTERS) if ($(name).value) params.set(name, $(name).value);
  return params;
}

async function api(path, params) {
  const response = await fetch(path + "?" + params.toString());
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

async function runSearch(params) {
  const query = params.get("q") || "";
  $("document").hidden = true;
  $("results").replaceChildren();
  $("answer").hidden = true;
  if (!query) { $("status").textContent = ""; return; }
  $("status").textContent = "检索中…";
  params.set("k", "5");
  const started = performance.now();
  let answer;
  try {
    answer = await api("/api/ask", params);
  } catch (err) {
    $("status").textContent = "出错了：" + err.message;
    return;
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(2);
  $("status").textContent = answer.passages.length ? `${answer.passages.length} 段结果，用时 ${seconds} 秒` : "没有找到相关段落";
  if (answer.answered) {
    $("answer").replaceChildren(
      el("div", { className: "muted", textContent: "答案" }),
      answerSentence(answer),
      citation(answer, query),
      el("div", { className: "muted", textContent: `可信度 ${answer.confidence.toFixed(2)}` }),
    );
    $("answer").hidden = false;
  } else if (answer.passages.length) {
    $("answer").replaceChildren(
      el("div", { className: "muted", textContent: "没有答案" }),
      el("p", { className: "no-answer", textContent: `没有哪一段足以回答这个问题（可信度 ${answer.confidence.toFixed(2)}），下面是最相近的段落。` }),
    );
    $("answer").hidden = false;
  }
  for (const hit of answer.passages) {
    const spans = hit.highlights.map(([start, end]) => ({ start, end, cls: "term" }));
    const span = answerSpan(answer, hit);
    if (span) spans.push(span);
    const passage = el("p", { className: "passage" }, [marked(hit.text, spans)]);
    $("results").append(el("li", {}, [citation(hit, query), passage]));
  }
}

async function showDocument(params) {
  const [start, end] = [Number(params.get("start")), Number(params.get("end"))];
  $("search").hidden = true;
  $("document").hidden = false;
  const back = new URLSearchParams({ q: params.get("q") || "" });
  $("back").href = "/?" + back.toString();
  // Long documents come in windows: ask for the one around the cited characters.
  const from = Number.isFinite(start) ? Math.max(0, start - 50000) : 0;
  let doc;
  try {
    doc = await fetch("/api/documents/" + encodeURIComponent(params.get("id") || "") + "?start=" + from).then(async (r) => {
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.statusText);
      return body;
    });
  } catch (err) {
    $("status").textContent = "出错了：" + err.message;
    return;
  }
  document.title = (doc.title || doc.id) + " · policysearch";
  $("doc-title").textContent = doc.title || doc.id;
  const shown = Array.from(doc.text).length;
  const part = doc.start > 0 || doc.start + shown < doc.length ? `第 ${doc.start + 1}–${doc.start + shown} 字，共 ${doc.length} 字` : "";
  $("doc-meta").textContent = [doc.date, doc.source, doc.path, part].filter(Boolean).join(" · ");
  const spans = Number.isFinite(start) && end > start ? [{ start: start - doc.start, end: end - doc.start, cls: "cited" }] : [];
  $("doc-text").replaceChildren(marked(doc.text, spans));
  const cited = $("cited");
  if (cited) cited.scrollIntoView({ block: "center" });
}

async function loadIndexInfo(params) {
  try {
    const info = await api("/api/health", new URLSearchParams());
    $("index-info").textContent = `${info.documents} 份文件 · ${info.passages} 段` + (info.model ? ` · ${info.model}` : "");
    for (const source of info.sources) $("source").append(el("option", { value: source, textContent: source }));
    for (const input of document.querySelectorAll("input[name=mode]")) {
      input.disabled = !info.modes.includes(input.value);
      input.checked = input.value === (params.get("mode") || info.default_mode);
    }
  } catch (err) {
    $("index-info").textContent = "索引不可用：" + err.message;
  }
  for (const name of FILTERS) if (params.get(name)) $(name).value = params.get(name);
  if (FILTERS.some((name) => params.get(name))) $("filters").open = true;
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (location.pathname === "/view") { showDocument(params); return; }
  await loadIndexInfo(params);
  $("q").value = params.get("q") || "";
  $("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const next = formParams();
    history.pushState(null, "", "/?" + next.toString());
    runSearch(next);
  });
  window.addEventListener("popstate", () => runSearch(new URLSearchParams(location.search)));
  runSearch(params);
}

document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (event.key === "/" && !typing) { event.preventDefault(); $("q").focus(); }
});

start();
