// The knowledge base on the employee page: 常见问题 (published articles by
// category, a search, an article with "did this help?"), and the articles
// matching a new request as it is written, offered once more on submit so
// that an answer already written can spare the employee the wait
// (deflection). Nothing here may stand between an employee and a request:
// a search that fails offers nothing, and the request goes as it would.

import { enc } from "/shared/api.js";
import { $, el, setText, show } from "/shared/dom.js";
import { renderMarkdown } from "/shared/markdown.js";

// searchDelay is the pause in typing after which a search runs: a search
// per keystroke would flicker and load the server for nothing.
const searchDelay = 300;
// maxQuery is the server's longest search or deflection query, in characters.
const maxQuery = 200;
// suggestLimit is how many articles a new request is offered: a phone
// shows three without scrolling the form away.
const suggestLimit = 3;
// maxOffered is how many articles a request may carry (the server's limit).
const maxOffered = 10;
// settleWithin bounds the wait on submit for the search of the last words
// typed; past it the request goes with what was found before.
const settleWithin = 2000;
// listLimit is the most articles one list request returns (the server's
// limit); a page that is not full means the list is complete.
const listLimit = 200;
const pageSize = 30;
const latestShown = 10;
// builtInCategories stand in until the desk's list arrives.
const builtInCategories = ["account", "network", "hardware", "software", "other"];

/** queryOf joins texts into one query of at most maxQuery characters on one line. */
export function queryOf(...texts) {
  const q = texts.join(" ").replace(/\s+/g, " ").trim();
  return Array.from(q).slice(0, maxQuery).join("").trim();
}

// highlighted is a search snippet with its matches marked; the server
// counts highlights in characters (code points), not UTF-16 units.
function highlighted(snippet, spans) {
  const chars = Array.from(snippet || "");
  const out = [];
  let at = 0;
  for (const s of [...(spans || [])].sort((a, b) => a.start - b.start)) {
    if (s.start < at || s.end <= s.start) continue;
    if (s.start > at) out.push(chars.slice(at, s.start).join(""));
    out.push(el("mark", { text: chars.slice(s.start, s.end).join("") }));
    at = s.end;
  }
  if (at < chars.length) out.push(chars.slice(at).join(""));
  return out;
}

/**
 * createKB wires the FAQ and article screens and the suggestions of the
 * new-request form. deps: i18n, cats (shared/categories.js), api() (the
 * signed-in client's REST calls), go(hash), toast, errorText(err),
 * onOpen(id) (open an article offered with a request) and onAsk() (the
 * employee wants a person after all).
 */
export function createKB({ i18n, cats, api, go, toast, errorText, onOpen, onAsk }) {
  const t = i18n.t;

  const articleItem = (a, testid, open) => el("li", {},
    el("button", { type: "button", class: "kb-item", dataset: { testid, id: a.id }, on: { click: () => open(a.id) } },
      el("span", { class: "kb-item-title", text: a.title }),
      a.snippet ? el("span", { class: "kb-item-snippet" }, ...highlighted(a.snippet, a.highlights)) : null,
      a.category ? cats.chip(el, a.category) : null));
  const openFromFaq = (id) => go(`#/kb/a/${enc(id)}`);

  // --- 常见问题: categories, the latest articles, a category, a search ---------

  let category = ""; // the category browsed, or "" on the FAQ's front
  let articles = null; // the front's list of published articles, newest change first
  let complete = false; // whether articles holds every published article
  let cursor = ""; // the next page of the category browsed
  let listSeq = 0, searchSeq = 0, searchTimer = 0;
  let results = null; // the last search's hits, for the query in the box
  const query = () => queryOf($("#faq-search").value);

  function renderFaq() {
    const searching = query() !== "";
    show($("#faq-home"), !searching && !category);
    show($("#faq-category"), !searching && Boolean(category));
    show($("#faq-results"), searching && Boolean(results && results.length));
    let empty = "";
    if (searching && results && !results.length) empty = t("faq.noResults");
    else if (!searching && !category && articles && !articles.length) empty = t("faq.none");
    setText($("#faq-empty"), empty);
    show($("#faq-empty"), empty !== "");
    if (!searching && !category) renderFront();
    if (category) setText($("#faq-category-title"), cats.name(category));
  }

  // renderFront draws the category tiles (with their counts once the list
  // is in, and only the categories holding articles when it is complete)
  // and the latest articles.
  function renderFront() {
    const counts = new Map();
    for (const a of articles || []) counts.set(a.category, (counts.get(a.category) || 0) + 1);
    const keys = cats.active().map((c) => c.key);
    if (!keys.length) keys.push(...builtInCategories);
    for (const k of counts.keys()) if (!keys.includes(k)) keys.push(k);
    const shown = articles && complete ? keys.filter((k) => counts.has(k)) : keys;
    $("#faq-cats").replaceChildren(...shown.map((key) => {
      const name = cats.name(key);
      const mark = el("span", { class: "faq-cat-mark", "aria-hidden": "true", text: Array.from(name)[0] || "?" });
      const color = cats.color(key);
      if (color) mark.style.backgroundColor = color; // the CSSOM: the CSP forbids style attributes
      return el("li", {}, el("button", {
        type: "button", class: "faq-cat", dataset: { testid: "kb-category", category: key },
        on: { click: () => go(`#/kb/cat/${enc(key)}`) },
      }, mark, el("span", { class: "faq-cat-name", text: name }),
      counts.has(key) ? el("span", { class: "faq-cat-count muted", text: t("faq.count", { n: counts.get(key) }) }) : null));
    }));
    const latest = (articles || []).slice(0, latestShown);
    $("#faq-latest").replaceChildren(...latest.map((a) => articleItem(a, "kb-item", openFromFaq)));
    show($("#faq-latest-block"), latest.length > 0);
  }

  async function loadFront() {
    const seq = ++listSeq;
    try {
      const page = await api().get(`/api/kb/articles?limit=${listLimit}`);
      if (seq !== listSeq) return;
      articles = page.articles || [];
      complete = !page.next_cursor;
    } catch (err) {
      if (seq === listSeq && !articles) toast(errorText(err), "error");
      return;
    }
    renderFaq();
  }

  async function loadCategory(more) {
    const seq = ++listSeq;
    const list = $("#faq-category-list");
    const p = new URLSearchParams({ category, limit: String(pageSize) });
    if (more && cursor) p.set("cursor", cursor);
    else list.replaceChildren();
    show($("#faq-more"), false);
    try {
      const page = await api().get(`/api/kb/articles?${p}`);
      if (seq !== listSeq) return;
      list.append(...(page.articles || []).map((a) => articleItem({ ...a, category: "" }, "kb-item", openFromFaq)));
      cursor = page.next_cursor || "";
      show($("#faq-more"), cursor !== "");
      const none = !list.children.length;
      if (!query()) {
        setText($("#faq-empty"), none ? t("faq.noArticles") : "");
        show($("#faq-empty"), none);
      }
    } catch (err) {
      if (seq === listSeq) toast(errorText(err), "error");
    }
  }
  $("#faq-more").addEventListener("click", () => loadCategory(true));

  async function search() {
    clearTimeout(searchTimer);
    const q = query();
    const seq = ++searchSeq;
    if (!q) {
      results = null;
      renderFaq();
      return;
    }
    try {
      const found = (await api().get(`/api/kb/search?q=${enc(q)}&limit=20`)).results || [];
      if (seq !== searchSeq) return;
      results = found;
      $("#faq-results").replaceChildren(...found.map((h) => articleItem(h, "kb-result", openFromFaq)));
    } catch (err) {
      if (seq !== searchSeq) return;
      results = null;
      toast(errorText(err), "error");
    }
    renderFaq();
  }
  $("#faq-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    if (!query()) search(); // cleared: back to browsing at once
    else searchTimer = setTimeout(search, searchDelay);
  });
  $("#faq-search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    search();
    $("#faq-search").blur(); // the phone's keyboard away, the results in view
  });
  $("#faq-ask").addEventListener("click", onAsk);

  // --- an article ----------------------------------------------------------

  let article = null; // the article on screen: {id, rated}
  let articleSeq = 0;

  function renderArticleMeta(a) {
    $("#article-category").replaceChildren(a.category ? cats.chip(el, a.category) : "");
    setText($("#article-updated"), t("kb.updated", { when: i18n.time(a.published_at || a.updated_at) }));
  }

  async function openArticle(id) {
    const seq = ++articleSeq;
    article = null;
    setText($("#article-title"), "");
    $("#article-category").replaceChildren();
    setText($("#article-updated"), "");
    $("#article-body").replaceChildren();
    show($("#article"), true);
    show($("#article-missing"), false);
    show($("#article-feedback"), false);
    show($("#article-ask"), false);
    let a;
    try {
      a = await api().get(`/api/kb/articles/${enc(id)}`); // counts a view
    } catch (err) {
      if (seq !== articleSeq) return;
      show($("#article"), false);
      setText($("#article-missing"), err.status === 404 ? t("kb.missing") : errorText(err));
      show($("#article-missing"), true);
      return;
    }
    if (seq !== articleSeq) return;
    article = { ...a, rated: false };
    if (!read.includes(a.id)) read.push(a.id);
    document.title = a.title;
    setText($("#article-title"), a.title);
    renderArticleMeta(a);
    $("#article-body").replaceChildren(renderMarkdown(a.body, { images: a.images }));
    // One rating per reading: the buttons come back the next time it is opened.
    show($("#article-feedback"), true);
    show($("#article-feedback-actions"), true);
    show($("#article-thanks"), false);
    for (const b of [$("#article-helped"), $("#article-not-helped")]) b.disabled = false;
  }

  async function rate(helped) {
    const a = article;
    if (!a || a.rated) return;
    const buttons = [$("#article-helped"), $("#article-not-helped")];
    for (const b of buttons) b.disabled = true;
    try {
      await api().post(`/api/kb/articles/${enc(a.id)}/feedback`, { helped });
    } catch (err) {
      for (const b of buttons) b.disabled = false;
      toast(errorText(err), "error");
      return;
    }
    a.rated = true;
    if (article !== a) return;
    show($("#article-feedback-actions"), false);
    setText($("#article-thanks"), t(helped ? "kb.thanks" : "kb.thanksNotHelped"));
    show($("#article-thanks"), true);
    show($("#article-ask"), !helped);
  }
  $("#article-helped").addEventListener("click", () => rate(true));
  $("#article-not-helped").addEventListener("click", () => rate(false));
  $("#article-ask-btn").addEventListener("click", onAsk);

  // --- beside a new request ------------------------------------------------

  let hits = []; // the articles listed under the form now
  let hitsFor = null; // the query they answer
  let opened = []; // the articles opened from the form or the question, in order
  let read = []; // every article read since the last request, the FAQ's too
  const known = new Map(); // id → {id, title, category}: what was offered
  let suggestTimer = 0, suggestSeq = 0;
  let answered = false; // the employee said they need a person after all

  const newQuery = () => queryOf($("#new-subject").value, $("#new-body").value);

  // suggest searches for the words in the form now; a failure offers
  // nothing, and the request goes as usual.
  async function suggest() {
    clearTimeout(suggestTimer);
    const q = newQuery();
    if (q === hitsFor) return;
    const seq = ++suggestSeq;
    let found = [];
    if (q) {
      try {
        found = (await api().get(`/api/kb/search?q=${enc(q)}&limit=${suggestLimit}`)).results || [];
      } catch {
        found = [];
      }
    }
    if (seq !== suggestSeq) return;
    hits = found;
    hitsFor = q;
    for (const h of hits) known.set(h.id, h);
    $("#new-suggest-list").replaceChildren(...hits.map((h) => articleItem(h, "kb-suggestion", openOffered)));
    show($("#new-suggest"), hits.length > 0);
  }
  for (const input of [$("#new-subject"), $("#new-body")]) {
    input.addEventListener("input", () => {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(suggest, searchDelay);
    });
  }

  function openOffered(id) {
    if (!opened.includes(id)) opened.push(id);
    onOpen(id);
  }

  // offered lists the articles put before the employee for this request:
  // those listed now, then those they opened.
  const offered = () => [...new Set([...hits.map((h) => h.id), ...opened])].slice(0, maxOffered);

  function asking(on) {
    show($("#new-form"), !on);
    show($("#deflect"), on);
  }

  return {
    /** openFaq shows the FAQ's front, or one category's articles. */
    openFaq(key) {
      category = key || "";
      cursor = "";
      renderFaq();
      if (category) loadCategory(false);
      else loadFront();
    },
    openArticle,
    /** rerender redraws what depends on the language or the categories. */
    rerender() {
      renderFaq();
      if (article) renderArticleMeta(article);
    },

    /** resetRequest forgets the offers made to the last request. */
    resetRequest() {
      clearTimeout(suggestTimer);
      suggestSeq++;
      hits = [];
      hitsFor = null;
      opened = [];
      read = [];
      answered = false;
      known.clear();
      $("#new-suggest-list").replaceChildren();
      show($("#new-suggest"), false);
      asking(false);
    },
    /** editRequest shows the form again instead of the question. */
    editRequest: () => asking(false),
    /**
     * offerBeforeSending runs the search of the last words typed (at most
     * settleWithin) and, when articles were offered and the employee has
     * not yet said they need a person, asks whether they solve it; it
     * reports whether it asked.
     */
    async offerBeforeSending() {
      await Promise.race([suggest(), new Promise((resolve) => setTimeout(resolve, settleWithin))]);
      const ids = offered();
      if (answered || !ids.length) return false;
      $("#deflect-list").replaceChildren(...ids.map((id) => articleItem(known.get(id) || { id, title: id }, "deflect-article", openOffered)));
      asking(true);
      return true;
    },
    /**
     * answer records what the employee said (resolved: the articles settled
     * it) and returns the articles offered; the record is best effort.
     */
    answer(resolved) {
      const ids = offered();
      answered = !resolved;
      const q = newQuery();
      if (ids.length && q) api().post("/api/kb/deflections", { query: q, article_ids: ids, resolved }).catch(() => {});
      return ids;
    },
    /**
     * articleIDs are the articles the request goes with: those offered, once
     * the employee said they need a person anyway, and those they read.
     */
    articleIDs: () => [...new Set([...(answered ? offered() : []), ...read])].slice(0, maxOffered),
  };
}
