// The agent console: sign in, the live queue, my conversations, resolved
// history, and the conversation view with its participants, notes and
// hand-over tools.

import { ApiError, Session, enc, request } from "/shared/api.js";
import { Timeline, Typing, applyToParticipants, stars, bindConnState, bindUnseen, renderParticipants, renderStatus, statusLabel, bindComposer } from "/shared/chat.js";
import { createClient } from "/shared/client.js";
import { FileLinks, Viewer } from "/shared/files.js";
import { $, confirmAction, keepAtBottom, $$, el, initial, nearBottom, onSubmitKey, scrollToBottom, setText, show, toaster } from "/shared/dom.js";
import { createCategories } from "/shared/categories.js";
import { bindLangToggle, createI18n } from "/shared/i18n.js";
import { loadMeta, takeTicket } from "/shared/signin.js";
import { bindAdmin } from "./admin.js";
import { bindDraft, bindExchanges } from "./assistant.js";
import { bindAttention, bindShortcuts } from "./attention.js";
import { bindCanned } from "./canned.js";
import { bindMentions } from "./mentions.js";
import { createSLA } from "./sla.js";
import { bindReports } from "./reports.js";
import { bindKB } from "./kb.js";
import strings from "./strings.js";

const i18n = createI18n(strings);
const t = i18n.t;
const cats = createCategories(i18n);
const slas = createSLA(i18n);
const session = new Session("servicedesk.agent.session");
const toast = toaster($("#toasts"));
// Sound, the icon's count and desktop notifications (attention.js).
const attention = bindAttention({ i18n, open: (id) => openConversation(id) });

let client = null;
let agents = []; // every agent, for names and the pickers
// former: open conversations I handed over (transferred, left to a
// colleague); I may still read them, so they stay findable. bot: new
// requests the AI assistant is answering (only on desks with one).
const lists = { queue: [], mine: [], former: [], resolved: [], bot: [] };
let assistantOn = false; // GET /api/meta: an AI assistant is configured
let tab = "queue";
let current = null; // the open conversation: {id, view, timeline, readSent}
const seenQueue = new Set(); // queue ids already shown, to highlight new arrivals
let listsLoaded = false;
const names = new Map(); // "role:id" → display name
const typing = new Typing($("#typing"), i18n);
const timers = [];

// errorText words a failure in the page's language (server codes, not its English).
const errorText = (err) => i18n.error(err);

const me = () => ({ role: "agent", id: session.id });

// --- sign in ---------------------------------------------------------------

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const username = $("#login-username").value.trim();
  const password = $("#login-password").value;
  const error = $("#login-error");
  if (!username || !password) {
    setText(error, t("login.required"));
    show(error, true);
    return;
  }
  $("#login-submit").disabled = true;
  try {
    const res = await request("POST", "/api/agents/login", { body: { username, password } });
    session.save({ token: res.token, id: res.agent_id, name: username });
    $("#login-password").value = "";
    show(error, false);
    signedIn();
  } catch (err) {
    const key = err.status === 401 ? "login.wrong" : err.status === 429 ? "login.limited" : "";
    setText(error, key ? t(key) : t("login.failed", { message: errorText(err) }));
    show(error, true);
  } finally {
    $("#login-submit").disabled = false;
  }
});

function signedIn() {
  show($("#view-login"), false);
  show($("#view-console"), true);
  for (const id of ["#conn-state", "#me", "#logout", "#canned-open", "#my-status", "#kb-open"]) show($(id), true);
  setText($("#me"), session.name);
  show($("#bot-section"), assistantOn);
  show($("#all-status-bot"), assistantOn);
  $("#all-status-bot").disabled = !assistantOn;
  client = createClient(session, {
    wsPath: `/ws/${enc(session.id)}`,
    outboxKey: `servicedesk.agent.outbox.${session.id}`,
    authLost: () => signOut(t("login.expired")),
    apply: onEvent,
    other: onFrame,
    lost: () => {
      if (!client) return; // signed out meanwhile
      toast(t("conv.lost"), "error");
      closeConversation();
    },
    refresh: () => loadLists(),
    outboxChanged: (item) => {
      if (current && item.conversation_id === current.id) {
        const stick = nearBottom($("#chat-scroll"));
        current.timeline.pending(item);
        if (stick || item.status === "sending") scrollToBottom($("#chat-scroll"));
      }
    },
  });
  bindConnState($("#conn-state"), client.conn, i18n);
  // Who I am in the desk (an admin manages shared replies), then the
  // replies the "/" picker offers.
  client.api.get("/api/me").then((m) => {
    myRole = m.agent_role || "agent";
    show($("#admin-open"), myRole === "admin");
    show($("#tab-all"), myRole === "admin");
    if (myRole === "admin") show($("#reports-open"), true);
  }).catch(() => {}).finally(() => canned.reload());
  cats.load(client.api);
  slas.load(client.api).then(() => renderLists());
  client.api.get("/api/teams").then((r) => {
    myCategories = new Set(r.teams.filter((tm) => tm.members.includes(session.id)).flatMap((tm) => tm.categories));
    if (r.teams.some((tm) => tm.lead_id === session.id)) show($("#reports-open"), true); // team leads read reports
    renderLists();
  }).catch(() => {});
  client.conn.on("open", () => {
    // Follow first, then take the snapshot: a change in between arrives as
    // a frame after the snapshot was asked for, never lost.
    client.conn.send({ type: "presence.follow" });
    loadLists().catch(() => {});
    loadAgents(); // the presence snapshot, then presence frames keep it
  });
  client.start();
  selectTab("queue");
  loadAgents();
  loadLists().catch((err) => toast(errorText(err), "error"));
  timers.push(setInterval(tickWaits, 5000));
  // The clock badges count down between the server's sla.updated events.
  timers.push(setInterval(() => { renderLists(); renderConv(); }, 30000));
  // Counters (wait times, unread) stay fresh even when nothing is pushed;
  // while the socket is down the poll round refreshes every 3 s instead.
  timers.push(setInterval(() => { if (client && client.conn.connected) loadLists().catch(() => {}); }, 15000));
}

function signOut(message) {
  // The conversation first, while the client it unfollows still exists;
  // then the client, whose stop ends its pollers and retries for good.
  closeConversation();
  if (client) client.stop();
  client = null;
  for (const id of timers.splice(0)) clearInterval(id);
  session.clear();
  lists.queue = lists.mine = lists.former = lists.resolved = lists.bot = [];
  listsLoaded = false;
  seenQueue.clear();
  renderLists();
  show($("#view-console"), false);
  for (const id of ["#conn-state", "#me", "#logout", "#canned-open", "#admin-open", "#my-status", "#tab-all", "#reports-open", "#kb-open"]) show($(id), false);
  allList = [];
  show($("#view-login"), true);
  const error = $("#login-error");
  setText(error, message || "");
  show(error, Boolean(message));
  document.title = t("title");
  $("#login-username").focus();
}

$("#logout").addEventListener("click", async () => {
  const token = session.token;
  sessionStorage.removeItem(`servicedesk.agent.outbox.${session.id}`);
  signOut();
  try {
    await request("POST", "/api/logout", { token });
  } catch {
    // the token expires on its own
  }
});

async function loadAgents() {
  try {
    const res = await client.api.get("/api/agents");
    agents = res.agents;
    for (const a of agents) names.set(`agent:${a.id}`, a.name || a.username);
    const self = agents.find((a) => a.id === session.id);
    if (self && self.status !== "offline") $("#my-status").value = self.status; // kept across reconnects
    if (self && self.name && self.name !== session.name) {
      session.save({ ...session.data, name: self.name });
      setText($("#me"), self.name);
    }
    renderConv();
  } catch {
    // names fall back to ids; the next conversation opened tries again
  }
}

// --- lists -----------------------------------------------------------------

function selectTab(name) {
  tab = name;
  for (const b of $$("[data-tab]")) {
    const on = b.dataset.tab === name;
    b.classList.toggle("active", on);
    b.setAttribute("aria-selected", String(on));
  }
  for (const n of ["queue", "mine", "resolved", "all"]) show($(`#panel-${n}`), n === name);
  if (name === "all") loadAll();
}

// --- every conversation, for admins ----------------------------------------------

let allList = [];
let allCursor = "";

// loadAll reads the first page of every conversation (admins only), or
// with more the next page after those shown.
async function loadAll(more = false) {
  if (!client || myRole !== "admin") return;
  const params = new URLSearchParams({ involvement: "all", limit: "50" });
  if ($("#all-status").value) params.set("status", $("#all-status").value);
  if (more && allCursor) params.set("cursor", allCursor);
  try {
    const page = await client.api.get(`/api/agents/conversations?${params}`);
    allList = more ? allList.concat(page.conversations) : page.conversations;
    allCursor = page.next_cursor || "";
  } catch (err) {
    toast(errorText(err), "error");
  }
  renderAll();
}

function renderAll() {
  $("#list-all").replaceChildren(...allList.map((c) => itemBase("all", c,
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      el("span", { class: `badge badge-${c.status}`, text: statusLabel(c.status, i18n) })),
    el("div", { class: "conv-row conv-sub" },
      el("span", { class: "conv-who", text: employeeName(c) }),
      el("span", { class: "conv-preview", text: c.assignee_id ? t("all.with", { name: agentName(c.assignee_id) }) : preview(c) })),
    el("div", { class: "conv-row conv-foot" },
      el("span", { class: "muted", text: c.ref || "" }),
      cats.chip(el, c.category),
      priorityChip(c),
      slas.badge(c.sla),
      el("time", { class: "conv-time", text: i18n.time(c.updated_at) })))));
  show($("#all-more"), Boolean(allCursor));
}
$("#all-status").addEventListener("change", () => loadAll());
$("#all-more").addEventListener("click", () => loadAll(true));

for (const b of $$("[data-tab]")) b.addEventListener("click", () => selectTab(b.dataset.tab));

async function loadLists() {
  if (!client) return;
  const [queue, mine, former, resolved, formerResolved, bot] = await Promise.all([
    client.api.get("/api/agents/queue?limit=200"),
    client.api.get("/api/agents/conversations?status=open&limit=200"),
    client.api.get("/api/agents/conversations?status=open&involvement=former&limit=50"),
    client.api.get("/api/agents/conversations?status=resolved&limit=100"),
    client.api.get("/api/agents/conversations?status=resolved&involvement=former&limit=50"),
    assistantOn ? client.api.get("/api/agents/queue?status=bot&limit=200") : { conversations: [] },
  ]);
  lists.queue = queue.conversations;
  lists.bot = bot.conversations;
  lists.mine = mine.conversations;
  lists.former = former.conversations;
  // Resolved: those I was in at the end and those I had handed over, newest first.
  const when = (c) => c.resolved_at || c.updated_at;
  lists.resolved = resolved.conversations.concat(formerResolved.conversations).sort((a, b) => (when(a) < when(b) ? 1 : -1));
  for (const c of lists.mine.concat(lists.queue, lists.former, lists.resolved, lists.bot)) {
    if (c.employee_name) names.set(`employee:${c.employee_id}`, c.employee_name);
  }
  renderLists();
  listsLoaded = true;
  if (tab === "all") loadAll();
}

let listTimer = 0;

// loadListsSoon coalesces the refreshes a burst of events would cause.
function loadListsSoon() {
  clearTimeout(listTimer);
  listTimer = setTimeout(() => loadLists().catch(() => {}), 200);
}

function preview(c) {
  const m = c.last_message;
  if (!m) return t("item.noMessage");
  const who = m.sender_type === "agent" ? (m.sender_id === session.id ? t("you") : m.sender_name || "")
    : m.sender_type === "bot" ? t("bot.name") : "";
  return who ? `${who}：${m.body}` : m.body;
}

function employeeName(c) {
  return c.employee_name || c.employee_id;
}

function itemBase(kind, c, ...rows) {
  return el("li", {
    class: `conv-item${current && current.id === c.id ? " active" : ""}`, role: "button", tabindex: "0",
    dataset: { testid: `${kind}-item`, conversationId: c.id },
    on: {
      click: () => openConversation(c.id),
      keydown: (e) => { if (e.target === e.currentTarget && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); openConversation(c.id); } },
    },
  }, ...rows);
}

// priorityChip marks what is more than normal; normal and low stay quiet.
const priorityChip = (c) => (c.priority === "high" || c.priority === "urgent"
  ? el("span", { class: `chip prio prio-${c.priority}`, dataset: { testid: "priority" }, text: t(`priority.${c.priority}`) }) : null);

// The lists' filters and order, from the tools above them: by priority,
// status and tag; default (the server's), waiting longest, newest, or
// priority first.
const priorityRank = { urgent: 0, high: 1, normal: 2, low: 3 };
let myCategories = new Set(); // what my teams answer

function shown(list) {
  const prio = $("#list-priority").value, status = $("#list-status").value, tag = $("#list-tag").value.trim();
  const sort = $("#list-sort").value, deadline = $("#list-sla").value;
  let out = list.filter((c) => (!prio || (prio === "urgent" ? c.priority === "urgent" : priorityRank[c.priority] <= 1))
    && (!status || c.status === status) && (!tag || (c.tags || []).includes(tag)) && slas.matches(c, deadline));
  const since = (c) => new Date(c.queued_at || c.updated_at || c.created_at).getTime();
  // The queue shows my teams' conversations first, the rest after.
  if (list === lists.queue && sort === "default" && myCategories.size) {
    out = [...out.filter((c) => myCategories.has(c.category)), ...out.filter((c) => !myCategories.has(c.category))];
  }
  if (sort === "waiting") out = [...out].sort((a, b) => since(a) - since(b));
  if (sort === "newest") out = [...out].sort((a, b) => new Date(b.updated_at) - new Date(a.updated_at));
  if (sort === "priority") out = [...out].sort((a, b) => (priorityRank[a.priority] ?? 2) - (priorityRank[b.priority] ?? 2) || since(a) - since(b));
  if (sort === "due") out = [...out].sort((a, b) => slas.due(a) - slas.due(b) || since(a) - since(b));
  return out;
}

for (const id of ["#list-sort", "#list-priority", "#list-status", "#list-sla"]) $(id).addEventListener("change", () => renderLists());
$("#list-tag").addEventListener("input", () => renderLists());

function renderLists() {
  const fresh = listsLoaded ? lists.queue.filter((c) => !seenQueue.has(c.id)).map((c) => c.id) : [];
  for (const c of lists.queue) seenQueue.add(c.id);

  $("#list-queue").replaceChildren(...shown(lists.queue).map((c) => {
    const item = itemBase("queue", c,
      el("div", { class: "conv-row" },
        el("span", { class: "conv-subject", text: c.subject }),
        cats.chip(el, c.category)),
      el("div", { class: "conv-row conv-sub" },
        el("span", { class: "conv-who", text: employeeName(c) }),
        el("span", { class: "conv-preview", text: preview(c) })),
      el("div", { class: "conv-row conv-foot" },
        el("span", { class: "wait", dataset: { since: c.queued_at || c.created_at }, text: t("item.wait", { d: i18n.since(c.queued_at || c.created_at) }) }),
        slas.badge(c.sla),
        el("button", {
          type: "button", class: "btn btn-primary btn-small", dataset: { testid: "claim" }, text: t("item.claim"),
          on: { click: (e) => { e.stopPropagation(); claim(c.id); } },
        })));
    if (fresh.includes(c.id)) item.classList.add("fresh");
    if (Date.now() - new Date(c.queued_at || c.created_at).getTime() > 10 * 60_000) item.classList.add("waiting-long");
    return item;
  }));

  // What the assistant is answering: the employee, their question, and
  // whether the answer came; 接手 claims it as from the queue.
  $("#list-bot").replaceChildren(...shown(lists.bot).map((c) => {
    const answered = Boolean(c.last_message && c.last_message.sender_type === "bot");
    return itemBase("bot", c,
      el("div", { class: "conv-row" },
        el("span", { class: "conv-subject", text: c.subject }),
        cats.chip(el, c.category)),
      el("div", { class: "conv-row conv-sub" },
        el("span", { class: "conv-who", text: employeeName(c) }),
        el("span", { class: "conv-preview", text: preview(c) })),
      el("div", { class: "conv-row conv-foot" },
        el("span", { class: `chip bot-state${answered ? " bot-answered" : ""}`, dataset: { testid: "bot-state" }, text: t(answered ? "bot.answered" : "bot.answering") }),
        el("time", { class: "conv-time", text: i18n.time(c.created_at) }),
        el("button", {
          type: "button", class: "btn btn-small", dataset: { testid: "claim" }, text: t("bot.takeOver"),
          on: { click: (e) => { e.stopPropagation(); claim(c.id); } },
        })));
  }));
  show($("#list-bot"), lists.bot.length > 0);
  show($("#empty-bot"), lists.bot.length === 0);
  setText($("#count-bot"), lists.bot.length);
  show($("#count-bot"), lists.bot.length > 0);

  // The conversation on screen is being read (markRead follows within a
  // moment), so it shows no unread count even if the list is a bit older.
  const unreadOf = (c) => (current && current.id === c.id && document.visibilityState === "visible" ? 0 : c.unread || 0);
  $("#list-mine").replaceChildren(...shown(lists.mine).map((c) => itemBase("mine", c,
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      el("span", { class: "unread", hidden: !unreadOf(c), text: unreadOf(c), title: t("item.unreadLabel", { n: unreadOf(c) }) })),
    el("div", { class: "conv-row conv-sub" },
      el("span", { class: "conv-who", text: employeeName(c) }),
      el("span", { class: "conv-preview", text: preview(c) })),
    el("div", { class: "conv-row conv-foot" },
      cats.chip(el, c.category),
      priorityChip(c),
      slas.badge(c.sla),
      c.status === "pending" ? el("span", { class: "badge badge-pending", text: t("status.pending") }) : null,
      el("time", { class: "conv-time", text: i18n.time(c.last_message ? c.last_message.created_at : c.updated_at) })))));

  $("#list-former").replaceChildren(...lists.former.map((c) => itemBase("former", c,
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      c.assignee_id ? el("span", { class: "chip", text: t("former.with", { name: agentName(c.assignee_id) }) }) : null),
    el("div", { class: "conv-row conv-sub" },
      el("span", { class: "conv-who", text: employeeName(c) }),
      el("span", { class: "conv-preview", text: preview(c) })),
    el("div", { class: "conv-row conv-foot" },
      cats.chip(el, c.category),
      el("time", { class: "conv-time", text: i18n.time(c.last_message ? c.last_message.created_at : c.updated_at) })))));
  show($("#former-heading"), lists.former.length > 0);
  show($("#list-former"), lists.former.length > 0);

  $("#list-resolved").replaceChildren(...lists.resolved.map((c) => itemBase("resolved", c,
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      el("span", { class: "badge badge-resolved", text: t("status.resolved") })),
    el("div", { class: "conv-row conv-sub" },
      el("span", { class: "conv-who", text: employeeName(c) }),
      el("span", { class: "conv-preview", text: preview(c) })),
    el("div", { class: "conv-row conv-foot" },
      cats.chip(el, c.category),
      el("time", { class: "conv-time", text: i18n.time(c.resolved_at || c.updated_at) })))));

  for (const n of ["queue", "mine", "resolved"]) {
    show($(`#empty-${n}`), lists[n].length === 0);
    show($(`#list-${n}`), lists[n].length > 0);
  }
  const queued = lists.queue.length;
  const unread = lists.mine.reduce((sum, c) => sum + unreadOf(c), 0);
  setText($("#count-queue"), queued);
  show($("#count-queue"), queued > 0);
  setText($("#count-mine"), unread);
  show($("#count-mine"), unread > 0);
  renderTitle();
}

// calledIn counts invitations and transfers to me not yet looked at; the
// tab's title shows them (with the queue) so another tab's work notices.
let calledIn = 0;

function renderTitle() {
  const queued = lists.queue.length;
  const unread = lists.mine.reduce((sum, c) => sum + (c.unread || 0), 0);
  const marks = [calledIn ? `★${calledIn}` : "", unread ? `●${unread}` : "", queued ? `(${queued})` : ""].filter(Boolean).join(" ");
  document.title = marks ? `${marks} ${t("title")}` : t("title");
  attention.badge(unread + calledIn);
}

// callMe tells the agent they were brought into a conversation.
function callMe(text, conversationID) {
  calledIn++;
  toast(text, "ok");
  attention.alert(text, conversationID);
  renderTitle();
  loadListsSoon();
}

window.addEventListener("focus", () => {
  if (!calledIn) return;
  calledIn = 0;
  renderTitle();
});

function tickWaits() {
  for (const node of $$(".wait[data-since]")) setText(node, t("item.wait", { d: i18n.since(node.dataset.since) }));
}

async function claim(id) {
  try {
    await client.api.post(`/api/conversations/${enc(id)}/claim`);
    toast(t("conv.claimed"), "ok");
    selectTab("mine");
    if (!current || current.id !== id) openConversation(id);
    else refreshViewSoon();
  } catch (err) {
    toast(err.status === 409 ? t("conv.claimConflict") : errorText(err), "error");
  }
  loadListsSoon();
}

// --- the conversation ------------------------------------------------------

async function openConversation(id) {
  if (current && current.id === id) return;
  closeConversation();
  const links = new FileLinks(client.api, id);
  const timeline = new Timeline($("#messages"), {
    i18n, me: me(), names, links,
    onRetry: (cid) => client.outbox.retry(cid), onDiscard: (cid) => client.outbox.discard(cid),
    onOpenImage: (attID) => viewer.open(timeline.images(), attID, links),
  });
  const c = { id, view: null, timeline, readSent: 0 };
  current = c;
  renderLists(); // marks the item active and clears its unread badge
  show($("#pane-empty"), false);
  show($("#conv-view"), true);
  const summary = lists.queue.concat(lists.mine, lists.former, lists.resolved, lists.bot).find((x) => x.id === id);
  if (summary) setView(c, { participants: [], ...summary, seq: 0 });
  $("#composer-input").value = "";
  $("#note-input").value = "";
  setNoteMode(false); // each conversation starts with a reply, not a note
  loadAgents();
  try {
    const view = await client.api.get(`/api/conversations/${enc(id)}`);
    if (current !== c) return;
    setView(c, view);
    loadEmployee(c);
    $("#kb-seen").replaceChildren();
    show($("#kb-seen-block"), false);
    kb.suggest(id, view.subject);
  } catch (err) {
    if (current !== c) return;
    if (!(err instanceof ApiError) || !err.retryable) {
      toast(t("conv.lost"), "error");
      closeConversation();
      return;
    }
  }
  for (const item of client.outbox.pending(id)) timeline.pending(item);
  client.sync.follow(id, 0);
  scrollToBottom($("#chat-scroll"));
}

function closeConversation() {
  draft.stop(false);
  if (current && client) client.sync.unfollow(current.id);
  current = null;
  typing.reset();
  clearTimeout(viewTimer);
  $("#messages").replaceChildren();
  show($("#conv-view"), false);
  show($("#details"), false);
  show($("#employee-block"), false);
  show($("#pane-empty"), true);
  for (const li of $$(".conv-item.active")) li.classList.remove("active");
}

// setView takes a fresh conversation from the server; its seq says which
// events it already reflects, so only later events change it (onEvent).
function setView(c, view) {
  c.view = { ...view, participants: (view.participants || []).map((p) => ({ ...p })) };
  for (const p of c.view.participants) if (p.name) names.set(`${p.role}:${p.id}`, p.name);
  renderConv();
}

function amIn(v) {
  return v.participants.some((p) => p.role === "agent" && p.id === session.id && p.active !== false);
}

function renderConv() {
  if (!current || !current.view) return;
  const v = current.view;
  const inIt = amIn(v);
  const assignee = v.assignee_id === session.id;
  setText($("#conv-subject"), v.subject);
  renderStatus($("#conv-status"), v.status, i18n);
  $("#conv-sla").replaceChildren(...[slas.badge(v.sla)].filter(Boolean));
  const employee = names.get(`employee:${v.employee_id}`) || v.employee_name || v.employee_id;
  setText($("#conv-meta"), [v.ref, employee, v.category ? cats.name(v.category) : "", i18n.time(v.created_at)].filter(Boolean).join(" · "));

  // A conversation the assistant has is read-only until someone takes it over.
  show($("#claim-current"), (v.status === "queued" || v.status === "bot") && !inIt);
  setText($("#claim-current"), t(v.status === "bot" ? "conv.takeOver" : "conv.claim"));
  show($("#resolve"), inIt && (v.status === "open" || v.status === "pending"));
  show($("#pending"), assignee && v.status === "open");
  renderFields(v, inIt || v.status === "queued");
  show($("#leave"), inIt && v.status !== "resolved");

  const canWrite = inIt && v.status !== "resolved";
  // (pending: the agent may still write; the employee's answer reopens it)
  $("#composer-input").disabled = !canWrite;
  $("#composer-send").disabled = !canWrite;
  const hint = canWrite ? "" : v.status === "queued" && !inIt ? "conv.hint.queued" : v.status === "bot" && !inIt ? "conv.hint.bot"
    : v.status === "resolved" ? "conv.hint.resolved" : "conv.hint.notIn";
  setText($("#composer-hint"), hint ? t(hint) : "");
  show($("#composer-hint"), Boolean(hint));
  draft.render();
  show($("#assistant-block"), assistantOn);

  show($("#details"), true);
  renderParticipants($("#participants"), v.participants, { i18n, assigneeID: v.assignee_id, me: me() });
  const active = new Set(v.participants.filter((p) => p.active !== false && p.role === "agent").map((p) => p.id));
  fillPicker($("#invite-select"), agents.filter((a) => !active.has(a.id)));
  fillPicker($("#transfer-select"), agents.filter((a) => a.id !== session.id));
  const canHandOver = assignee && v.status !== "resolved";
  for (const id of ["#invite-select", "#invite-submit", "#transfer-select", "#transfer-submit"]) $(id).disabled = !canHandOver;
  show($("#assignee-hint"), !assignee && inIt);
  $("#note-input").disabled = !inIt;
  $("#note-send").disabled = !inIt;

  const info = [
    ["conv.employee", `${employee} (${v.employee_id})`],
    ["conv.category", v.category ? cats.name(v.category) : ""],
    ["conv.created", i18n.time(v.created_at)],
    ["conv.id", v.id],
  ];
  if (v.rating) info.push(["details.rating", stars(v.rating.score) + (v.rating.comment ? ` ${v.rating.comment}` : "")]);
  $("#conv-info").replaceChildren(...info.flatMap(([k, val]) => [el("dt", { text: t(k) }), el("dd", { text: val })]));
}

// --- the employee beside the conversation -----------------------------------

// loadEmployee asks who the conversation's employee is: their profile from
// the directory (refreshed by the server at most daily), whether WeCom
// cards still reach them, and their earlier conversations.
async function loadEmployee(c) {
  const id = c.view && c.view.employee_id;
  if (!id) return;
  try {
    const e = await client.api.get(`/api/employees/${enc(id)}`);
    if (current !== c) return;
    c.employee = e;
    renderEmployee();
  } catch {
    // an employee known only by id: the header already names them
  }
}

function renderEmployee() {
  const e = current && current.employee;
  show($("#employee-block"), Boolean(e));
  if (!e) return;
  const name = e.name || e.id;
  setText($("#employee-avatar"), initial(name));
  setText($("#employee-name"), e.name ? `${e.name} (${e.id})` : e.id);
  setText($("#employee-department"), e.department || "");
  show($("#employee-department"), Boolean(e.department));
  setText($("#employee-position"), e.position || "");
  show($("#employee-position"), Boolean(e.position));
  show($("#employee-unreachable"), Boolean(e.unreachable));
  const earlier = (e.conversations || []).filter((x) => x.id !== current.id);
  $("#employee-history").replaceChildren(...earlier.map((x) => el("li", {
    class: "history-item", role: "button", tabindex: "0",
    dataset: { testid: "history-item", conversationId: x.id },
    on: {
      click: () => openConversation(x.id),
      keydown: (ev) => { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); openConversation(x.id); } },
    },
  },
  el("span", { class: "history-subject", text: x.subject }),
  el("span", { class: `badge badge-${x.status}`, text: statusLabel(x.status, i18n) }),
  el("time", { class: "history-time", text: i18n.time(x.updated_at) }))));
  show($("#employee-history"), earlier.length > 0);
  show($("#employee-history-empty"), earlier.length === 0);
  setText($("#employee-others"), e.others ? t("details.others", { n: e.others }) : "");
  show($("#employee-others"), e.others > 0);
  show($("#employee-admin"), myRole === "admin");
}

// An admin answering a personal-data request (PIPL): everything stored
// about the employee as a JSON file, or all of it erased.
$("#employee-export").addEventListener("click", async () => {
  const e = current && current.employee;
  if (!e) return;
  try {
    const data = await client.api.get(`/api/employees/${enc(e.id)}/export`);
    const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
    el("a", { href: url, download: `employee-${e.id}.json` }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (err) {
    toast(errorText(err), "error");
  }
});
$("#employee-erase").addEventListener("click", async () => {
  const e = current && current.employee;
  if (!e || !(await confirmAction(t("details.confirmErase", { name: e.name || e.id })))) return;
  try {
    const r = await client.api.post(`/api/employees/${enc(e.id)}/erase`, {});
    toast(t("details.erased", { n: r.conversations }), "ok");
    closeConversation();
    loadListsSoon();
  } catch (err) {
    toast(errorText(err), "error");
  }
});

// --- search --------------------------------------------------------------------

// Search replaces the lists while it shows results; 返回列表 brings them back.
let searchState = null; // {q, status, results, next}

async function runSearch(more = false) {
  const q = $("#search-input").value.trim();
  if (!q) {
    clearSearch();
    return;
  }
  const status = $("#search-status").value;
  const params = new URLSearchParams({ q, limit: "20" });
  if (status) params.append("status", status);
  if (more && searchState && searchState.next) params.set("cursor", searchState.next);
  try {
    const page = await client.api.get(`/api/search?${params}`);
    const results = more && searchState ? searchState.results.concat(page.results) : page.results;
    searchState = { q, status, results, next: page.next_cursor || "" };
    renderSearch();
  } catch (err) {
    toast(errorText(err), "error");
  }
}

function renderSearch() {
  const st = searchState;
  show($("#search-panel"), Boolean(st));
  show($(".tabs"), !st);
  show($(".lists"), !st);
  show($(".list-tools"), !st);
  if (!st) return;
  const n = st.results.length;
  setText($("#search-summary"), n === 0 ? t("search.none") : t(st.next ? "search.countMore" : "search.count", { n }));
  show($("#search-more"), Boolean(st.next));
  $("#search-results").replaceChildren(...st.results.map((r) => {
    const c = r.conversation;
    const sn = r.snippet || { text: "" };
    const chars = [...sn.text];
    const snippet = sn.end > sn.start
      ? [chars.slice(0, sn.start).join(""), el("mark", { text: chars.slice(sn.start, sn.end).join("") }), chars.slice(sn.end).join("")]
      : [sn.text];
    return el("li", {
      class: `conv-item${current && current.id === c.id ? " active" : ""}`, role: "button", tabindex: "0",
      dataset: { testid: "search-result", conversationId: c.id, seq: r.seq },
      on: { click: () => openConversation(c.id), keydown: (e) => { if (e.key === "Enter") openConversation(c.id); } },
    },
    el("div", { class: "conv-row" },
      el("span", { class: "conv-subject", text: c.subject }),
      el("span", { class: "chip", text: t(`search.kind.${r.kind}`) })),
    el("div", { class: "conv-row conv-sub" },
      el("span", { class: "conv-who", text: r.employee_name || c.employee_id }),
      el("span", { class: "muted", text: c.ref || "" })),
    el("div", { class: "search-snippet" }, ...snippet),
    el("div", { class: "conv-row conv-foot" },
      el("span", { class: `badge badge-${c.status}`, text: statusLabel(c.status, i18n) }),
      el("time", { class: "conv-time", text: i18n.time(r.at) })));
  }));
}

function clearSearch() {
  searchState = null;
  $("#search-input").value = "";
  renderSearch();
}

$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  runSearch();
});
$("#search-input").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.isComposing) {
    e.preventDefault();
    runSearch();
  } else if (e.key === "Escape") {
    clearSearch();
  }
});
$("#search-status").addEventListener("change", () => { if ($("#search-input").value.trim()) runSearch(); });
$("#search-clear").addEventListener("click", clearSearch);
$("#search-more").addEventListener("click", () => runSearch(true));

// --- canned replies ------------------------------------------------------------

let myRole = "agent";
const canned = bindCanned({
  api: () => client && client.api,
  isAdmin: () => myRole === "admin",
  vars: () => {
    const v = current && current.view;
    return {
      "agent.name": session.name,
      "employee.name": v ? names.get(`employee:${v.employee_id}`) || v.employee_name || v.employee_id : "",
      "conversation.ref": v ? v.ref || "" : "",
    };
  },
  i18n,
  toast,
});

bindAdmin({ api: () => client && client.api, me: () => session.id, i18n, toast, cats, assistant: () => assistantOn });

// The AI assistant, where one is configured: a reply drafted into the
// composer, and the review of what it was asked and answered.
const draft = bindDraft({
  i18n, toast,
  token: () => session.token,
  onUnauthorized: () => signOut(t("login.expired")),
  conversation: () => current && current.id,
  enabled: () => assistantOn && Boolean(current && current.view) && amIn(current.view) && current.view.status !== "resolved",
});
const exchanges = bindExchanges({ api: () => client && client.api, i18n, toast, agentName: (id) => agentName(id) });
$("#assistant-review").addEventListener("click", () => { if (current) exchanges.open(current.id); });
// The knowledge base: the 知识库 dialog, and beside a conversation the
// articles matching it.
const kb = bindKB({
  api: () => client && client.api, i18n, toast, cats, isAdmin: () => myRole === "admin",
  insert: (text) => {
    const input = $("#composer-input");
    input.value = input.value ? `${input.value}\n${text}` : text;
    input.dispatchEvent(new Event("input"));
    input.focus();
  },
});
$("#kb-save-reply").addEventListener("click", () => {
  if (!current || !current.view) return;
  // The reply being written, else my last one in the conversation.
  let text = $("#composer-input").value.trim();
  if (!text) {
    const mine = current.timeline.events.filter((ev) => ev.type === "message.created" && ev.data && ev.data.sender_id === session.id);
    text = mine.length ? mine[mine.length - 1].data.body : "";
  }
  kb.saveAsArticle(current.view.subject, text, current.view.category);
});

bindReports({
  api: () => client && client.api, i18n, toast, cats,
  // A CSV comes with the bearer token, so it is fetched, then saved.
  download: async (path, name) => {
    try {
      const res = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
      if (!res.ok) throw new ApiError(res.status, "download", res.statusText);
      const url = URL.createObjectURL(await res.blob());
      const a = el("a", { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      toast(errorText(err), "error");
    }
  },
});

// My status, as presence carries it: online (taking work), busy (here, but
// taking nothing new) or away; a team's automatic routing gives nothing to
// an agent who is busy or away.
$("#my-status").addEventListener("change", (e) => {
  if (client && !client.conn.send({ type: "presence", status: e.target.value })) {
    toast(t("err.network"), "error");
    loadAgents();
  }
});

// --- attention and keys ---------------------------------------------------------

bindShortcuts({
  next: (d) => {
    const items = $$(`#list-${tab} .conv-item`);
    if (!items.length) return;
    const at = items.findIndex((li) => current && li.dataset.conversationId === current.id);
    const to = items[Math.min(items.length - 1, Math.max(0, at < 0 ? 0 : at + d))];
    openConversation(to.dataset.conversationId);
  },
  reply: () => { if (!$("#composer-input").disabled) $("#composer-input").focus(); },
  search: () => $("#search-input").focus(),
  resolve: () => { if (!$("#resolve").hidden) $("#resolve").click(); },
});

// --- triage: priority, type, tags ---------------------------------------------

const priorities = ["low", "normal", "high", "urgent"];
const types = ["incident", "request"];

function renderFields(v, editable) {
  const fill = (select, values, key, current) => {
    select.replaceChildren(...values.map((x) => el("option", { value: x, text: t(`${key}.${x}`) })));
    select.value = current || values[key === "priority" ? 1 : 0];
    select.disabled = !editable;
  };
  fill($("#priority-select"), priorities, "priority", v.priority);
  fill($("#type-select"), types, "type", v.type);
  const tags = v.tags || [];
  $("#tags-list").replaceChildren(...tags.map((tag) => el("li", { class: "tag", dataset: { testid: "tag" } },
    el("span", { text: tag }),
    editable ? el("button", {
      type: "button", class: "tag-remove", text: "×", "aria-label": t("details.removeTag", { tag }),
      on: { click: () => saveFields({ tags: tags.filter((x) => x !== tag) }) },
    }) : null)));
  $("#tag-input").disabled = !editable;
}

async function saveFields(fields) {
  if (!current) return;
  try {
    const c = await client.api.post(`/api/conversations/${enc(current.id)}/fields`, fields);
    if (current && current.view && current.view.id === c.id) {
      Object.assign(current.view, { priority: c.priority, type: c.type, tags: c.tags || [] });
      renderConv();
    }
    loadListsSoon();
  } catch (err) {
    toast(errorText(err), "error");
    renderConv();
  }
}

$("#priority-select").addEventListener("change", (e) => saveFields({ priority: e.target.value }));
$("#type-select").addEventListener("change", (e) => saveFields({ type: e.target.value }));
$("#tag-input").addEventListener("keydown", (e) => {
  if (e.key !== "Enter" && e.key !== "," && e.key !== "，") return;
  e.preventDefault();
  const tag = e.target.value.trim();
  if (!tag || !current || !current.view) return;
  e.target.value = "";
  saveFields({ tags: [...(current.view.tags || []), tag] });
});
// Suggestions: the tags this desk has used most.
$("#tag-input").addEventListener("focus", async () => {
  try {
    const r = await client.api.get("/api/tags");
    $("#tag-suggest").replaceChildren(...r.tags.map((x) => el("option", { value: x })));
  } catch {
    // no suggestions, free typing still works
  }
}, { once: true });

$("#pending").addEventListener("click", () => act($("#pending"), "pending", {}, t("conv.pendingToast")));

const presenceRank = { online: 0, busy: 1, away: 2, offline: 3 };

// fillPicker lists agents in a select, keeping the current choice. Where the
// server reports presence, agents who are there come first.
function fillPicker(select, options) {
  const keep = select.value;
  const sorted = [...options].sort((a, b) => (presenceRank[a.status] ?? 4) - (presenceRank[b.status] ?? 4));
  select.replaceChildren(
    el("option", { value: "", text: t("details.pick") }),
    ...sorted.map((a) => el("option", {
      value: a.id,
      text: (a.name ? `${a.name} (${a.username})` : a.username) + (presenceRank[a.status] !== undefined ? ` · ${t(`presence.${a.status}`)}` : ""),
    })));
  if (options.some((a) => a.id === keep)) select.value = keep;
}

let viewTimer = 0;

// refreshViewSoon refetches the conversation after a lifecycle event, for
// what events do not carry (names, the exact participant list).
function refreshViewSoon() {
  clearTimeout(viewTimer);
  const c = current;
  if (!c) return;
  viewTimer = setTimeout(async () => {
    try {
      const view = await client.api.get(`/api/conversations/${enc(c.id)}`);
      if (current === c && view.seq >= (c.view ? c.view.seq : 0)) setView(c, view);
    } catch {
      // the events already moved the view
    }
  }, 250);
}

function onEvent(ev) {
  if (!current || ev.conversation_id !== current.id) return;
  if (ev.type === "conversation.created" && ev.data && Array.isArray(ev.data.articles)) kb.seen(ev.data.articles);
  if (ev.type === "message.created" && ev.data && ev.data.sender_type === "employee" && current.view) {
    // What the employee says now and the subject: the articles follow.
    kb.suggest(ev.conversation_id, `${current.view.subject} ${ev.data.body || ""}`);
  }
  if (ev.type === "sla.updated" && ev.data && ev.data.kind) clockMoved(ev.conversation_id, ev.data);
  const scroller = $("#chat-scroll");
  const stick = nearBottom(scroller);
  current.timeline.apply(ev);
  const d = ev.data || {};
  if (ev.type === "message.created") {
    if (d.sender_type === "agent" && d.sender_id === session.id) {
      if (d.client_msg_id) client.outbox.confirm(d.client_msg_id, ev.seq);
      loadListsSoon(); // writing marks the conversation read: its unread count is 0 now
    } else {
      typing.clear(d.sender_id);
      if (d.sender_type === "employee" && ev.seq > (current.view ? current.view.seq || 0 : 0) &&
        (document.visibilityState !== "visible" || !document.hasFocus())) {
        attention.alert(t("attention.newMessage", { name: d.sender_name || d.sender_id, text: (d.body || "").slice(0, 80) }), ev.conversation_id);
      }
    }
  }
  const v = current.view;
  if (v && ev.seq > (v.seq || 0)) {
    v.seq = ev.seq;
    if (applyToParticipants(v, ev)) {
      renderConv();
      refreshViewSoon();
      loadListsSoon();
    }
    if (ev.type === "conversation.rated") refreshViewSoon(); // the view carries the rating
  }
  if (stick) scrollToBottom(scroller);
  if (ev.type !== "conversation.read") markReadSoon();
  else if (d.reader && d.reader.role === "agent" && d.reader.id === session.id) loadListsSoon(); // my unread count is 0 now
}

// clockMoved puts a clock from an sla.updated event wherever the
// conversation shows.
function clockMoved(id, clock) {
  for (const list of [lists.queue, lists.mine, lists.former, allList]) {
    for (const c of list) if (c.id === id) c.sla = slas.apply(c.sla, clock);
  }
  if (current && current.view && current.id === id) {
    current.view.sla = slas.apply(current.view.sla, clock);
    renderConv();
  }
  renderLists();
  if (tab === "all") renderAll();
}

function onFrame(f) {
  if (f.type === "typing" && f.data) {
    if (current && f.data.conversation_id === current.id) typing.show(f.data);
    return;
  }
  if (f.type === "presence" && f.data && Array.isArray(f.data.agents)) {
    let seen = false;
    for (const change of f.data.agents) {
      if (change.agent_id === session.id && change.status !== "offline") $("#my-status").value = change.status;
      const a = agents.find((x) => x.id === change.agent_id);
      if (a) {
        a.status = change.status;
        seen = true;
      }
    }
    if (seen) renderConv();
    return;
  }
  if (f.type === "error" && !f.client_msg_id) {
    toast(i18n.error(f), "error");
    return;
  }
  // A clock moved: the lists' and the open conversation's badges follow.
  if (f.type === "sla.updated" && f.data && f.data.kind) {
    clockMoved(f.conversation_id, f.data);
    return;
  }
  // Brought into a conversation by a colleague: say so, whatever is on screen.
  const d = f.data || {};
  if (f.type === "participant.joined" && d.invited_by && d.participant && d.participant.id === session.id) callMe(t("conv.invitedYou"), f.conversation_id);
  if (f.type === "conversation.transferred" && d.to_agent_id === session.id) callMe(t("conv.transferredToYou"), f.conversation_id);
  if (f.type === "sla.escalated" && d.agent_id === session.id && (d.action === "notify_assignee" || d.action === "notify_lead")) {
    callMe(t("conv.slaYou", { clock: t(`sla.kind.${d.kind}`) }), f.conversation_id);
  }
  if (f.type === "note.created" && Array.isArray(d.mentions) && d.mentions.includes(session.id) && d.sender_id !== session.id) {
    callMe(t("conv.mentionedYou", { name: d.sender_name || d.sender_id, text: (d.body || "").slice(0, 80) }), f.conversation_id);
  }
  // Someone needs me: the employee wrote in one of my conversations, or a
  // new request came into the queue.
  if (f.type === "message.created" && d.sender_type === "employee" && lists.mine.some((c) => c.id === f.conversation_id)) {
    attention.alert(t("attention.newMessage", { name: d.sender_name || d.sender_id, text: (d.body || "").slice(0, 80) }), f.conversation_id);
  }
  // A request the assistant answers first is nobody's yet; it calls for
  // agents when it is handed over.
  if (f.type === "conversation.created" && d.status !== "bot") attention.alert(t("attention.newQueued", { subject: d.subject || "" }), f.conversation_id);
  if (f.type === "conversation.handed_over") {
    const c = lists.bot.find((x) => x.id === f.conversation_id);
    attention.alert(t("attention.handedOver", { subject: c ? c.subject : "" }), f.conversation_id);
  }
  // Handed away: the view on screen is no longer mine to act in.
  if (f.type === "conversation.transferred" && d.from_agent_id === session.id && current && current.id === f.conversation_id) refreshViewSoon();
  // An event of a conversation not on screen: the queue or one of mine changed.
  if (typeof f.seq === "number" && f.data && f.type !== "conversation.read") loadListsSoon();
}

// --- read state ------------------------------------------------------------

let readTimer = 0;

function markReadSoon() {
  clearTimeout(readTimer);
  readTimer = setTimeout(markRead, 400);
}

const unseen = bindUnseen($("#chat-scroll"), i18n, () => markReadSoon());

function markRead() {
  if (!current || !current.view || document.visibilityState !== "visible" || !amIn(current.view)) return;
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
    client.api.post(`/api/conversations/${enc(id)}/read`, { seq }).then(loadListsSoon, () => { if (current) current.readSent = 0; });
  }
}

document.addEventListener("visibilitychange", markReadSoon);

// --- actions ---------------------------------------------------------------

// act runs one conversation action and reports the outcome.
async function act(button, path, body, okText) {
  if (!current) return false;
  const id = current.id;
  button.disabled = true;
  try {
    await client.api.post(`/api/conversations/${enc(id)}/${path}`, body);
    if (okText) toast(okText, "ok");
    refreshViewSoon();
    loadListsSoon();
    return true;
  } catch (err) {
    toast(err.status === 409 && path === "claim" ? t("conv.claimConflict") : errorText(err), "error");
    return false;
  } finally {
    button.disabled = false;
    renderConv();
  }
}

const agentName = (id) => names.get(`agent:${id}`) || id;

$("#claim-current").addEventListener("click", () => current && claim(current.id));
$("#resolve").addEventListener("click", async () => {
  if (await confirmAction(t("conv.confirmResolve"))) act($("#resolve"), "resolve", {}, t("conv.resolvedToast"));
});
$("#leave").addEventListener("click", async () => {
  if (await confirmAction(t("conv.confirmLeave"))) act($("#leave"), "leave", {}, t("conv.leftToast"));
});

// confirmAction asks before a step that one stray click should not take
// (resolving, leaving): an in-page dialog, keyboard-friendly (Esc cancels,
// Enter confirms), never window.confirm.
$("#invite-submit").addEventListener("click", () => {
  const agentID = $("#invite-select").value;
  if (agentID) act($("#invite-submit"), "invite", { agent_id: agentID }, t("conv.invited", { name: agentName(agentID) }));
});
$("#transfer-submit").addEventListener("click", () => {
  const agentID = $("#transfer-select").value;
  if (agentID) act($("#transfer-submit"), "transfer", { agent_id: agentID }, t("conv.transferred", { name: agentName(agentID) }));
});

async function addNote() {
  const input = $("#note-input");
  const body = input.value.trim();
  if (!body || !current) return;
  // The note appears when its event arrives (socket or poll), in seq order.
  if (await act($("#note-send"), "notes", { body }, "")) input.value = "";
}
$("#note-send").addEventListener("click", addNote);
onSubmitKey($("#note-input"), addNote);

// --- the composer ----------------------------------------------------------

let maxBody = 4096; // the server's --max-body-bytes, from /api/meta

// Files: the server's limits come with /api/meta; the viewer shows a
// conversation's pictures at full size.
let maxFileBytes = 20 * 1024 * 1024, maxFiles = 9;
const viewer = new Viewer(t);

// The composer's private-note switch: what is sent then is a note (agents
// only), with its files uploaded first.
let noteMode = false;
function setNoteMode(on) {
  noteMode = on;
  $("#composer-note").setAttribute("aria-pressed", String(on));
  $("#composer").classList.toggle("composer-note", on);
  $("#composer-input").placeholder = t(on ? "composer.notePlaceholder" : "composer.placeholder");
}
$("#composer-note").addEventListener("click", () => setNoteMode(!noteMode));
// @colleague in a note: in the composer's note mode, and in the details'
// note box.
bindMentions({ input: $("#composer-input"), picker: $("#mention-picker"), agents: () => agents, me: () => session.id, enabled: () => noteMode, t });
bindMentions({ input: $("#note-input"), picker: $("#note-mention-picker"), agents: () => agents, me: () => session.id, enabled: () => true, t });

async function sendNote(id, body, files) {
  try {
    const attachments = [];
    for (const f of files) attachments.push((await client.api.upload(f)).id);
    await client.api.post(`/api/conversations/${enc(id)}/notes`, { body, attachments });
  } catch (err) {
    toast(errorText(err), "error");
    if (current && current.id === id && !$("#composer-input").value) $("#composer-input").value = body; // nothing lost
  }
}

bindComposer({
  i18n,
  limit: () => maxBody,
  intercept: (id, body, files) => {
    if (!noteMode) return false;
    sendNote(id, body, files);
    return true;
  },
  files: {
    input: $("#composer-file"), button: $("#composer-attach"), tray: $("#composer-tray"), drop: $("#chat-scroll").parentElement,
    maxBytes: () => maxFileBytes, maxFiles: () => maxFiles, refuse: (text) => toast(text, "error"),
  },
  getClient: () => client,
  conversation: () => current && current.id,
  typingTarget: () => current && current.view && amIn(current.view) && client.sync.settled(current.id)
    ? { conversation_id: current.id, sender_name: session.name } : null,
});

// --- start -----------------------------------------------------------------

i18n.apply();
bindLangToggle(i18n);
keepAtBottom($("#chat-scroll"), $("#messages"));
cats.onChange(() => { renderLists(); renderConv(); });
i18n.onChange(() => {
  renderLists();
  renderConv();
  renderEmployee();
  if (current) current.timeline.rerender();
  typing.render();
});
let openAfterSignIn = ""; // a card's deep link: the conversation to open

start();

// start signs in with the session in this tab, or with a WeCom sign-in
// coming back with its ticket, or shows the sign-in form: with the WeCom
// QR sign-in when configured, and the demo hint only with --dev.
async function start() {
  const meta = await loadMeta();
  assistantOn = Boolean(meta.assistant);
  if (meta.max_body_bytes > 0) maxBody = meta.max_body_bytes;
  if (meta.max_attachment_bytes > 0) maxFileBytes = meta.max_attachment_bytes;
  if (meta.max_attachments > 0) maxFiles = meta.max_attachments;
  try {
    const next = await takeTicket(session);
    const conv = next && next.match(/^\/c\/([\w.:-]{1,64})$/);
    if (conv) openAfterSignIn = conv[1];
  } catch (err) {
    setText($("#login-error"), t("login.failed", { message: errorText(err) }));
    show($("#login-error"), true);
  }
  if (session.token) {
    signedIn();
    if (openAfterSignIn) openConversation(openAfterSignIn);
    return;
  }
  show($("#login-dev"), meta.dev);
  show($("#login-wecom-box"), meta.wecom);
  show($("#view-login"), true);
  $("#login-username").focus();
}
