// The employee H5 page: sign in, list my requests, start one, chat; read
// the knowledge base (kb.js).

import { ApiError, Session, enc, request } from "/shared/api.js";
import { Timeline, Typing, applyToParticipants, stars, bindConnState, bindUnseen, renderParticipants, renderStatus, bindComposer } from "/shared/chat.js";
import { createClient } from "/shared/client.js";
import { FileLinks, Viewer } from "/shared/files.js";
import { $, confirmAction, keepAtBottom, el, nearBottom, scrollToBottom, setText, show, toaster } from "/shared/dom.js";
import { createCategories } from "/shared/categories.js";
import { bindLangToggle, createI18n } from "/shared/i18n.js";
import { newClientMsgID } from "/shared/outbox.js";
import { loadMeta, takeTicket, weComSignIn } from "/shared/signin.js";
import { createKB } from "./kb.js";
import strings from "./strings.js";

const i18n = createI18n(strings);
const t = i18n.t;
const cats = createCategories(i18n);
const session = new Session("servicedesk.h5.session");
const toast = toaster($("#toasts"));

let ratingScore = 0; // the stars picked in the rating card
let ratingEditing = false; // changing a rating already given
let client = null;
let conversations = []; // the list, as last fetched
let current = null; // the open conversation: {id, view, timeline, readSent}
let newClientID = ""; // kept across retries of one new-conversation submit
const names = new Map(); // "role:id" → display name
const typing = new Typing($("#typing"), i18n);
const kb = createKB({
  i18n, cats, go, toast,
  api: () => client.api,
  errorText: (err) => i18n.error(err),
  onOpen: (id) => go(`#/kb/a/${enc(id)}`),
  onAsk: askForHelp,
});

// --- screens -------------------------------------------------------------

const screens = ["login", "list", "new", "chat", "faq", "article"];

function showScreen(name) {
  for (const s of screens) show($(`#view-${s}`), s === name);
  show($("#back"), name !== "login" && name !== "list");
  show($("#conn-state"), name !== "login");
  show($("#page-title"), name !== "login");
  // Signing in, the top bar would hold nothing but the language chip: hide
  // it and put the chip under the form instead.
  show($("#topbar"), name !== "login");
  const chip = $("#lang-toggle");
  const slot = name === "login" ? $("#login-lang") : $("#topbar");
  if (chip.parentElement !== slot) slot.append(chip);
  document.body.dataset.screen = name;
  updateTitle();
}

function screen() {
  return document.body.dataset.screen;
}

const screenTitles = { new: "new.title", faq: "faq.title", article: "faq.title" };

function updateTitle() {
  const title = screen() === "chat" && current && current.view ? current.view.subject : t("title");
  if (screen() !== "article") document.title = title; // an article's title is set by kb.js
  setText($("#page-title"), t(screenTitles[screen()] || "title"));
}

// errorText words a failure in the page's language (server codes, not its English).
const errorText = (err) => i18n.error(err);

// --- sign in ---------------------------------------------------------------

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const employeeID = $("#login-employee-id").value.trim();
  const name = $("#login-name").value.trim();
  const error = $("#login-error");
  if (!employeeID || !name) {
    setText(error, t("login.required"));
    show(error, true);
    return;
  }
  $("#login-submit").disabled = true;
  try {
    const res = await request("POST", "/api/h5/mock-login", { body: { employee_id: employeeID, name } });
    session.save({ token: res.token, id: res.employee_id, name });
    show(error, false);
    signedIn();
  } catch (err) {
    setText(error, t("login.failed", { message: errorText(err) }));
    show(error, true);
  } finally {
    $("#login-submit").disabled = false;
  }
});

function signedIn() {
  names.set(`employee:${session.id}`, session.name);
  client = createClient(session, {
    wsPath: `/ws/h5/${enc(session.id)}`,
    outboxKey: `servicedesk.h5.outbox.${session.id}`,
    authLost: () => signOut(t("login.expired")),
    apply: onEvent,
    other: onFrame,
    lost: () => {
      if (!client) return; // signed out meanwhile
      toast(t("chat.lost"), "error");
      closeConversation();
      go("#/", { replace: true });
    },
    refresh: () => loadList(),
    outboxChanged: (item) => {
      if (current && item.conversation_id === current.id) {
        const stick = nearBottom($("#chat-scroll"));
        current.timeline.pending(item);
        if (stick || item.status === "sending") scrollToBottom($("#chat-scroll"));
      }
    },
  });
  bindConnState($("#conn-state"), client.conn, i18n);
  client.conn.on("open", () => loadList().catch(() => {}));
  cats.load(client.api);
  client.start();
  route();
}

function signOut(message) {
  // The conversation first, while the client it unfollows still exists;
  // then the client, whose stop ends its pollers and retries for good.
  closeConversation();
  if (client) client.stop();
  client = null;
  session.clear();
  conversations = [];
  resetNew();
  const error = $("#login-error");
  setText(error, message || "");
  show(error, Boolean(message));
  showScreen("login");
}

$("#logout").addEventListener("click", async () => {
  const { token, id } = session;
  history.replaceState({ depth: 0 }, "", location.pathname);
  signOut();
  sessionStorage.removeItem(`servicedesk.h5.outbox.${id}`);
  try {
    await request("POST", "/api/logout", { token });
  } catch {
    // the token expires on its own
  }
});

// --- the list --------------------------------------------------------------

let listTimer = 0;

function openList() {
  closeConversation();
  showScreen("list");
  renderList();
  loadList().catch((err) => { if (!err.network) toast(errorText(err), "error"); });
}

async function loadList() {
  if (!client) return;
  const page = await client.api.get("/api/h5/conversations?limit=100");
  conversations = page.conversations;
  renderList();
}

// refreshListSoon coalesces the refreshes many events would cause.
function refreshListSoon() {
  clearTimeout(listTimer);
  listTimer = setTimeout(() => loadList().catch(() => {}), 300);
}

function renderList() {
  const list = $("#conv-list");
  list.replaceChildren(...conversations.map((c) => {
    const last = c.last_message;
    const preview = last ? (last.sender_type === "employee" ? "" : `${last.sender_name || ""}：`) + last.body : t("list.noMessage");
    return el("li", {
      class: `conv-item${c.unread ? " conv-unread" : ""}`, role: "button", tabindex: "0",
      dataset: { testid: "conv-item", conversationId: c.id },
      on: {
        click: () => go(`#/c/${c.id}`),
        keydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(`#/c/${c.id}`); } },
      },
    },
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      el("span", { class: `badge badge-${c.status}`, text: t(`status.${c.status}`) })),
    el("div", { class: "conv-row conv-row-sub" },
      el("span", { class: "conv-preview", text: preview }),
      el("time", { class: "conv-time", text: i18n.time(last ? last.created_at : c.updated_at) })),
    el("div", { class: "conv-row conv-row-sub" },
      cats.chip(el, c.category),
      c.unread ? el("span", { class: "unread", text: t("list.unread", { n: c.unread }) }) : null));
  }));
  show($("#list-empty"), conversations.length === 0);
  show(list, conversations.length > 0);
}

$("#new-conversation").addEventListener("click", askForHelp);
$("#faq-open").addEventListener("click", () => go("#/kb"));

// askForHelp opens the request form from anywhere, with what was already
// typed in it: the employee may have stepped out to read an article.
function askForHelp() {
  kb.editRequest();
  go("#/new");
}

function openNew() {
  closeConversation();
  show($("#new-error"), false);
  if (!newClientID) newClientID = newClientMsgID();
  showScreen("new");
  if (!$("#deflect").hidden) return; // back from an article the question offered
  $("#new-subject").focus();
}

// resetNew empties the form once its request is made (or made unnecessary).
function resetNew() {
  $("#new-form").reset();
  newClientID = "";
  kb.resetRequest();
}

function openFaq(category) {
  closeConversation();
  showScreen("faq");
  kb.openFaq(category);
}

function openArticle(id) {
  closeConversation();
  showScreen("article");
  kb.openArticle(id);
}

// --- navigation ------------------------------------------------------------
// Each screen has a hash (#/, #/new, #/c/{id}) on the history, so the
// phone's back button in WeCom's browser walks back through the screens
// instead of leaving the page, and a reload stays where it was.

function go(hash, { replace = false } = {}) {
  const depth = (history.state && history.state.depth) || 0;
  if (replace) history.replaceState({ depth }, "", hash);
  else history.pushState({ depth: depth + 1 }, "", hash);
  route();
}

function route() {
  if (!client) {
    showScreen("login");
    return;
  }
  const conv = location.hash.match(/^#\/c\/([\w.:-]{1,64})$/);
  const faq = location.hash.match(/^#\/kb(?:\/cat\/([\w-]{1,32}))?$/);
  const article = location.hash.match(/^#\/kb\/a\/([\w-]{1,64})$/);
  if (conv) {
    if (!current || current.id !== conv[1]) openConversation(conv[1]);
  } else if (location.hash === "#/new") {
    openNew();
  } else if (faq) {
    openFaq(faq[1] || "");
  } else if (article) {
    openArticle(article[1]);
  } else {
    openList();
  }
}

window.addEventListener("popstate", route);

// Back walks the history; with nothing behind (a link opened the page on an
// article), it goes up: an article or a category to the FAQ, else home.
$("#back").addEventListener("click", () => {
  if (history.state && history.state.depth > 0) history.back();
  else go(/^#\/kb\/./.test(location.hash) ? "#/kb" : "#/", { replace: true });
});

// --- a new conversation ----------------------------------------------------

// Submitting first offers the articles matching the request, when there
// are any (kb.js); the request itself is made only when the employee still
// needs a person, or when nothing matched.
$("#new-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const subject = $("#new-subject").value.trim();
  const body = $("#new-body").value.trim();
  const error = $("#new-error");
  if (!subject || !body) {
    setText(error, t("new.required"));
    show(error, true);
    return;
  }
  show(error, false);
  $("#new-submit").disabled = true;
  try {
    if (await kb.offerBeforeSending()) return;
    await createRequest(subject, body);
  } finally {
    $("#new-submit").disabled = false;
  }
});

$("#deflect-solved").addEventListener("click", () => {
  kb.answer(true);
  resetNew();
  toast(t("deflect.glad"), "ok");
  go("#/", { replace: true });
});

$("#deflect-human").addEventListener("click", async () => {
  kb.answer(false);
  kb.editRequest();
  const subject = $("#new-subject").value.trim();
  const body = $("#new-body").value.trim();
  $("#new-submit").disabled = true;
  try {
    await createRequest(subject, body);
  } finally {
    $("#new-submit").disabled = false;
  }
});

$("#deflect-edit").addEventListener("click", () => {
  kb.editRequest();
  $("#new-subject").focus();
});

async function createRequest(subject, body) {
  const error = $("#new-error");
  const req = { subject, category: $("#new-category").value, body, client_msg_id: newClientID };
  const articleIDs = kb.articleIDs();
  if (articleIDs.length) req.article_ids = articleIDs;
  try {
    // The same client id on every attempt: a retry after a lost answer
    // returns the conversation already made instead of a second one.
    let conv;
    try {
      conv = await client.api.post("/api/h5/conversations", req);
    } catch (err) {
      // The articles are a courtesy to the agent: never the reason a
      // request is refused.
      if (!req.article_ids || err.status !== 400) throw err;
      delete req.article_ids;
      conv = await client.api.post("/api/h5/conversations", req);
    }
    resetNew();
    show(error, false);
    conversations = [conv, ...conversations.filter((c) => c.id !== conv.id)];
    go(`#/c/${conv.id}`, { replace: true }); // back from the chat goes to the list, not the form
  } catch (err) {
    // Too many open requests is the one refusal an employee can act on.
    setText(error, err.status === 409 ? t("new.tooMany") : t("new.failed", { message: errorText(err) }));
    show(error, true);
  }
}

// --- the conversation ------------------------------------------------------

async function openConversation(id) {
  closeConversation();
  const links = new FileLinks(client.api, id);
  const timeline = new Timeline($("#messages"), {
    i18n, me: { role: "employee", id: session.id }, names, links,
    onRetry: (cid) => client.outbox.retry(cid), onDiscard: (cid) => client.outbox.discard(cid),
    onOpenImage: (attID) => viewer.open(timeline.images(), attID, links),
  });
  const c = { id, view: null, timeline, readSent: 0 };
  current = c;
  $("#view-chat").dataset.conversationId = id;
  const summary = conversations.find((x) => x.id === id);
  if (summary) setView(c, { participants: [], ...summary, seq: 0 });
  showScreen("chat");
  $("#composer-input").value = "";
  try {
    const view = await client.api.get(`/api/conversations/${enc(id)}`);
    if (current !== c) return;
    setView(c, view);
  } catch (err) {
    if (current !== c) return;
    if (!(err instanceof ApiError) || !err.retryable) {
      toast(t("chat.lost"), "error");
      go("#/", { replace: true });
      return;
    }
    // Offline: the history still comes by polling.
  }
  for (const item of client.outbox.pending(id)) timeline.pending(item);
  client.sync.follow(id, 0);
  scrollToBottom($("#chat-scroll"));
}

function closeConversation() {
  ratingScore = 0;
  ratingEditing = false;
  if (current && client) client.sync.unfollow(current.id);
  current = null;
  delete $("#view-chat").dataset.conversationId;
  typing.reset();
  clearTimeout(viewTimer);
}

// setView takes a fresh conversation from the server. Its seq says which
// events it already reflects; only later ones change it (onEvent).
function setView(c, view) {
  c.view = { ...view, participants: (view.participants || []).map((p) => ({ ...p })) };
  for (const p of c.view.participants) if (p.name) names.set(`${p.role}:${p.id}`, p.name);
  renderHeader();
}

function renderHeader() {
  if (!current || !current.view) return;
  const v = current.view;
  setText($("#chat-subject"), v.subject);
  setText($("#chat-ref"), v.ref || "");
  setText($("#chat-category"), v.category ? cats.name(v.category) : "");
  show($("#withdraw"), v.status !== "resolved");
  show($("#pending-hint"), v.status === "pending");
  show($("#bot-hint"), v.status === "bot");
  if (v.status !== "bot") botStream("", true);
  renderStatus($("#conv-status"), v.status, i18n);
  renderParticipants($("#participants"), v.participants, { i18n, assigneeID: v.assignee_id, me: { role: "employee", id: session.id } });
  const queued = v.status === "queued" && v.queue_position > 0;
  show($("#queue-position"), queued);
  if (queued) {
    const wait = v.estimated_wait_seconds > 0 ? t("chat.queueWait", { min: Math.max(1, Math.round(v.estimated_wait_seconds / 60)) }) : "";
    setText($("#queue-position"), t("chat.queue", { n: v.queue_position, m: v.agents_online || 0 }) + wait);
  }
  show($("#resolved-hint"), v.status === "resolved");
  renderRating(v);
  $("#composer-input").placeholder = t(v.status === "resolved" ? "composer.resolvedPlaceholder" : "composer.placeholder");
  updateTitle();
}

let viewTimer = 0;

// refreshViewSoon refetches the conversation after a lifecycle event, for
// what events do not carry (queue position, names).
function refreshViewSoon() {
  clearTimeout(viewTimer);
  const c = current;
  viewTimer = setTimeout(async () => {
    try {
      const view = await client.api.get(`/api/conversations/${enc(c.id)}`);
      if (current === c && view.seq >= (c.view ? c.view.seq : 0)) setView(c, view);
    } catch {
      // the events already moved the view; the next one retries
    }
  }, 250);
}

function onEvent(ev) {
  if (!current || ev.conversation_id !== current.id) return;
  const scroller = $("#chat-scroll");
  const stick = nearBottom(scroller);
  current.timeline.apply(ev);
  const d = ev.data || {};
  if (ev.type === "message.created" && d.sender_type === "bot") botStream("", true); // the stored answer replaces the live one
  if (ev.type === "message.created") {
    if (d.sender_type === "employee" && d.sender_id === session.id && d.client_msg_id) client.outbox.confirm(d.client_msg_id, ev.seq);
    else typing.clear(d.sender_id);
  }
  const v = current.view;
  if (v && ev.seq > (v.seq || 0)) {
    v.seq = ev.seq;
    if (applyToParticipants(v, ev)) {
      renderHeader();
      refreshViewSoon();
    }
  }
  // How the last round ended decides whether to ask for a rating, also
  // for events the view already reflected (the history loading).
  if (v && (ev.type === "conversation.resolved" || ev.type === "conversation.withdrawn")) renderHeader();
  if (ev.type === "conversation.rated") refreshViewSoon();
  if (stick) scrollToBottom(scroller);
  if (ev.type !== "conversation.read") markReadSoon();
  if (ev.type === "message.created" || ev.type === "conversation.resolved") refreshListSoon();
}

function onFrame(f) {
  if (f.type === "typing" && current && f.data && f.data.conversation_id === current.id) {
    typing.show(f.data);
    return;
  }
  if (f.type === "assistant.delta") {
    // The assistant's answer as it is written: all of it so far each time.
    if (current && f.conversation_id === current.id) {
      const stick = nearBottom($("#chat-scroll"));
      botStream(f.text || "", !!f.done);
      if (stick) scrollToBottom($("#chat-scroll"));
    }
    return;
  }
  if (f.type === "queue.position" && f.data) {
    const d = f.data;
    const c = conversations.find((x) => x.id === d.conversation_id);
    if (c) c.queue_position = d.position;
    if (current && current.view && current.id === d.conversation_id && current.view.status === "queued") {
      current.view.queue_position = d.position;
      current.view.agents_online = d.agents_online;
      current.view.estimated_wait_seconds = d.estimated_wait_seconds || 0;
      renderHeader();
    }
    return;
  }
  if (f.type === "error" && !f.client_msg_id) {
    toast(i18n.error(f), "error");
    return;
  }
  if (typeof f.seq === "number" && f.data) refreshListSoon(); // another conversation of mine changed
}

// --- read state ------------------------------------------------------------

let readTimer = 0;

function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 400);
}

// markRead tells the server we have seen everything up to the last seq,
// only while the page is actually in front of the user.
const unseen = bindUnseen($("#chat-scroll"), i18n, () => markReadSoon());

function markRead() {
  if (!current || document.visibilityState !== "visible" || screen() !== "chat") return;
  // Scrolled up: what came below is not on screen yet.
  if (!nearBottom($("#chat-scroll"))) {
    unseen.show();
    return;
  }
  const { id } = current;
  const seq = client.sync.last(id);
  if (seq <= current.readSent || !client.sync.settled(id)) return;
  current.readSent = seq;
  if (!client.conn.send({ type: "read", conversation_id: id, seq })) {
    client.api.post(`/api/conversations/${enc(id)}/read`, { seq }).catch(() => { if (current) current.readSent = 0; });
  }
}

document.addEventListener("visibilitychange", markReadSoon);

// --- satisfaction -------------------------------------------------------------

// After an agent resolves (not after a withdrawal), the employee is asked
// for 1–5 stars and a comment; a rating may be changed for a day.

function renderRating(v) {
  const ends = current.timeline.events.filter((e) => e.type === "conversation.resolved" || e.type === "conversation.withdrawn");
  const askable = v.status === "resolved" && ends.length > 0 && ends[ends.length - 1].type === "conversation.resolved";
  const r = v.rating;
  const changeable = r && Date.now() - new Date(r.created_at).getTime() < 24 * 3600 * 1000;
  show($("#rate-card"), askable && (!r || ratingEditing));
  show($("#rate-done"), askable && Boolean(r) && !ratingEditing);
  show($("#rate-change"), Boolean(changeable));
  if (r) setText($("#rate-summary"), t("rate.yours", { stars: stars(r.score) }) + (r.comment ? ` · ${r.comment}` : ""));
  if (!ratingScore && r) ratingScore = r.score;
  $("#rate-stars").replaceChildren(...[1, 2, 3, 4, 5].map((n) => el("button", {
    type: "button", class: `rate-star${n <= ratingScore ? " on" : ""}`, role: "radio", "aria-checked": n === ratingScore ? "true" : "false",
    "aria-label": t("rate.star", { n }), dataset: { testid: "rate-star", score: n }, text: "★",
    on: { click: () => { ratingScore = n; renderRating(current.view); } },
  })));
}

$("#rate-card").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current || !ratingScore) {
    toast(t("rate.pick"), "error");
    return;
  }
  $("#rate-submit").disabled = true;
  try {
    const r = await client.api.post(`/api/conversations/${enc(current.id)}/rating`, { score: ratingScore, comment: $("#rate-comment").value });
    current.view.rating = r;
    ratingEditing = false;
    toast(t("rate.thanks"), "ok");
    renderRating(current.view);
  } catch (err) {
    toast(errorText(err), "error");
  } finally {
    $("#rate-submit").disabled = false;
  }
});
$("#rate-change").addEventListener("click", () => {
  ratingEditing = true;
  if (current.view.rating) $("#rate-comment").value = current.view.rating.comment || "";
  renderRating(current.view);
});

// botStream shows the assistant's answer while it is written, and hides it
// when done (the stored message takes its place).
function botStream(text, done) {
  const node = $("#bot-stream");
  if (done || !text) {
    node.hidden = true;
    setText($("#bot-stream-text"), "");
    return;
  }
  setText($("#bot-stream-text"), text);
  node.hidden = false;
}

// 转人工: from the assistant to the queue, at the place of when the
// employee asked.
$("#handover").addEventListener("click", async () => {
  if (!current) return;
  const btn = $("#handover");
  btn.disabled = true;
  try {
    await client.api.post(`/api/conversations/${enc(current.id)}/handover`, {});
    toast(t("chat.handedOver"), "ok");
    refreshViewSoon();
  } catch (err) {
    toast(errorText(err), "error");
  } finally {
    btn.disabled = false;
  }
});

// The employee may close their own request (solved by itself, no longer
// needed); writing again reopens it.
$("#withdraw").addEventListener("click", async () => {
  if (!current || !(await confirmAction(t("chat.confirmWithdraw")))) return;
  try {
    await client.api.post(`/api/conversations/${enc(current.id)}/withdraw`, {});
    toast(t("chat.withdrawn"), "ok");
    refreshViewSoon();
  } catch (err) {
    toast(errorText(err), "error");
  }
});

// --- the composer ----------------------------------------------------------

let maxBody = 4096; // the server's --max-body-bytes, from /api/meta

// Files: the server's limits come with /api/meta; the viewer shows a
// conversation's pictures at full size.
let maxFileBytes = 20 * 1024 * 1024, maxFiles = 9;
const viewer = new Viewer(t);

bindComposer({
  i18n,
  limit: () => maxBody,
  files: {
    input: $("#composer-file"), button: $("#composer-attach"), tray: $("#composer-tray"), drop: $("#chat-scroll").parentElement,
    maxBytes: () => maxFileBytes, maxFiles: () => maxFiles, refuse: (text) => toast(text, "error"),
  },
  getClient: () => client,
  conversation: () => current && current.id,
  typingTarget: () => current && client.sync.settled(current.id) && current.view && current.view.status !== "resolved"
    ? { conversation_id: current.id, sender_name: session.name } : null,
});

// --- start -----------------------------------------------------------------

i18n.apply();
bindLangToggle(i18n);
keepAtBottom($("#chat-scroll"), $("#messages"));
// The choices of a new request: the admins' active categories, in their
// order (the built-in five stand until the list arrives).
function renderCategoryChoices() {
  const active = cats.active();
  if (!active.length) return;
  const select = $("#new-category");
  const chosen = select.value;
  select.replaceChildren(...active.map((c) => el("option", { value: c.key, text: cats.name(c.key) })));
  if (active.some((c) => c.key === chosen)) select.value = chosen;
}
cats.onChange(() => { renderCategoryChoices(); renderList(); renderHeader(); kb.rerender(); });
i18n.onChange(() => {
  renderCategoryChoices();
  updateTitle();
  renderList();
  renderHeader();
  kb.rerender();
  if (current) current.timeline.rerender();
  typing.render();
});
start();

// start signs in as the server allows: a session already in this tab; a
// WeCom sign-in coming back with its ticket; inside WeCom, a trip to WeCom's
// sign-in; the dev form with --dev; otherwise a note to open the page in
// WeCom.
async function start() {
  // A link to an article (/h5/?article={id}, as agents send them) becomes
  // the page's route, so it survives signing in, WeCom's round trip too.
  const linked = new URLSearchParams(location.search).get("article");
  if (linked !== null && !location.hash.includes("ticket=")) {
    const hash = /^[\w-]{1,64}$/.test(linked) ? `#/kb/a/${linked}` : location.hash;
    history.replaceState({ depth: 0 }, "", location.pathname + hash);
  }
  const meta = await loadMeta();
  if (meta.max_body_bytes > 0) maxBody = meta.max_body_bytes;
  if (meta.max_attachment_bytes > 0) maxFileBytes = meta.max_attachment_bytes;
  if (meta.max_attachments > 0) maxFiles = meta.max_attachments;
  try {
    const next = await takeTicket(session);
    if (next) history.replaceState({ depth: 0 }, "", next === "/" ? "#/" : `#${next}`);
  } catch (err) {
    setText($("#login-error"), t("login.failed", { message: errorText(err) }));
    show($("#login-error"), true);
  }
  if (session.token) {
    signedIn();
    return;
  }
  showScreen("login");
  show($("#login-form"), meta.dev);
  show($("#login-dev"), meta.dev);
  show($("#login-wecom-note"), !meta.dev && !meta.wecom);
  if (meta.wecom) {
    const route = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
    const button = $("#login-wecom");
    show(button, true);
    button.addEventListener("click", () => weComSignIn("/auth/wecom/h5", route));
    // Opened inside WeCom with no session yet: sign in at once, unless this
    // very sign-in just failed (then the button offers it again).
    if (!meta.dev && !$("#login-error").textContent) weComSignIn("/auth/wecom/h5", route);
  }
}
