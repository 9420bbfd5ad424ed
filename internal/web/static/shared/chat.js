// The conversation view both pages share: the history (messages, notes,
// system lines), the typing indicator, the participant list, the status
// badge and the connection state. Text comes from the page's strings via
// i18n.t; user text only ever goes through textContent (dom.js).

import { el, initial, nearBottom, onSubmitKey, scrollToBottom, setText } from "./dom.js";
import { formatSize, renderAttachments, richText } from "./files.js";

const lifecycle = new Set([
  "conversation.created", "conversation.claimed", "participant.joined", "participant.left",
  "conversation.transferred", "conversation.resolved", "conversation.reopened",
  "conversation.pending", "conversation.withdrawn", "conversation.updated", "conversation.rated",
  "conversation.notice", "sla.escalated", "conversation.handed_over",
]);

// handoverReasons are the reasons conversation.handed_over names; another
// reason reads as the plain "handed to a person".
const handoverReasons = new Set(["asked", "wrote", "unknown", "failed", "timeout"]);

/** stars draws a 1–5 score as ★ and ☆. */
export const stars = (n) => "★".repeat(n) + "☆".repeat(5 - n);

/**
 * Timeline renders one conversation's history into list. me is {role, id};
 * names maps "role:id" to display names (the page fills it from
 * participants and agent lists; events add to it); onRetry(clientMsgID)
 * resends a failed message, onDiscard(clientMsgID) drops it.
 */
export class Timeline {
  constructor(list, { i18n, me, names, onRetry, onDiscard, links = null, onOpenImage = null, onOpenArticle = null }) {
    this.list = list;
    this.i18n = i18n;
    this.me = me;
    this.names = names;
    this.onRetry = onRetry;
    this.onDiscard = onDiscard;
    this.links = links; // the conversation's FileLinks: signed URLs of its files
    this.onOpenImage = onOpenImage; // (attachment id) → the page's viewer
    // (article id) → the page opens a cited article itself; without it the
    // link goes to the employee page's article.
    this.onOpenArticle = onOpenArticle;
    this.reset();
  }

  /** images lists the pictures in the history, in order, for the viewer. */
  images() {
    const out = [];
    for (const ev of this.events) {
      for (const a of (ev.data && ev.data.attachments) || []) if (a.thumbnail) out.push({ id: a.id, name: a.name });
    }
    return out;
  }

  attachments(atts, links) {
    return renderAttachments(atts, { links, onOpen: this.onOpenImage, t: this.i18n.t });
  }

  reset() {
    this.events = [];
    this.own = new Map(); // client_msg_id → element of my message
    this.pendingItems = new Map(); // client_msg_id → outbox item not yet in the history
    this.readSeq = 0; // the highest seq someone else has read
    this.lastDay = "";
    this.prev = null; // the last message placed: {who, at}, for grouping
    this.list.replaceChildren();
  }

  /** rerender draws everything again (after a language change). */
  rerender() {
    const events = this.events;
    const pending = [...this.pendingItems.values()];
    const readSeq = this.readSeq;
    this.reset();
    this.readSeq = readSeq;
    for (const ev of events) this.apply(ev);
    for (const item of pending) this.pending(item);
  }

  nameOf(role, id, fallback) {
    return this.names.get(`${role}:${id}`) || fallback || id || "";
  }

  learn(role, id, name) {
    if (id && name && !this.names.has(`${role}:${id}`)) this.names.set(`${role}:${id}`, name);
  }

  isMine(m) {
    return m.sender_type === this.me.role && m.sender_id === this.me.id;
  }

  /** apply adds one event; events come in seq order, each once. */
  apply(ev) {
    this.events.push(ev);
    const d = ev.data || {};
    switch (ev.type) {
      case "message.created":
        this.learn(d.sender_type, d.sender_id, d.sender_name);
        this.placeMessage(ev);
        return;
      case "note.created":
        this.learn(d.sender_type, d.sender_id, d.sender_name);
        this.place(ev, this.note(ev));
        this.prev = null;
        return;
      case "conversation.read":
        if (d.reader && !(d.reader.role === this.me.role && d.reader.id === this.me.id)) {
          this.readSeq = Math.max(this.readSeq, d.seq || 0);
          this.markRead();
        }
        return;
    }
    // An answer that ends "waiting for you" needs no line of its own: the
    // message itself is there.
    if (ev.type === "conversation.reopened" && d.from === "pending") return;
    if (lifecycle.has(ev.type)) {
      if (ev.type === "conversation.claimed") this.learn("agent", d.agent_id, d.agent_name);
      if (ev.type === "participant.joined" || ev.type === "participant.left") {
        this.learn(d.participant.role, d.participant.id, d.participant.name);
      }
      if (ev.type === "conversation.transferred") this.learn("agent", d.to_agent_id, d.to_agent_name);
      this.prev = null;
      // The opening line is not one of the lifecycle "system" lines the
      // tests count (claimed, joined, left, transferred, resolved, reopened).
      const testid = ev.type === "conversation.created" ? "conversation-start" : "system";
      this.place(ev, el("div", { class: "sys", dataset: { testid, type: ev.type, seq: ev.seq } },
        el("span", { class: "sys-text", text: this.systemText(ev) }),
        el("time", { class: "sys-time", text: this.i18n.time(ev.created_at) })));
    }
  }

  systemText(ev) {
    const d = ev.data || {};
    const t = this.i18n.t;
    switch (ev.type) {
      case "conversation.created":
        return t("sys.created", { name: this.nameOf("employee", d.employee_id), subject: d.subject });
      case "conversation.claimed":
        return t("sys.claimed", { name: d.agent_name || this.nameOf("agent", d.agent_id) });
      case "participant.joined":
        return t("sys.joined", { name: d.participant.name || this.nameOf(d.participant.role, d.participant.id) });
      case "participant.left":
        return t(d.status === "queued" ? "sys.leftRequeued" : "sys.left",
          { name: d.participant.name || this.nameOf(d.participant.role, d.participant.id) });
      case "conversation.transferred":
        return t("sys.transferred", { from: this.nameOf("agent", d.from_agent_id), to: d.to_agent_name || this.nameOf("agent", d.to_agent_id) });
      case "conversation.resolved":
        if (d.auto && d.reason === "assistant_idle") return t("sys.botIdleResolved");
        if (d.auto) return t("sys.autoResolved", { n: d.pending_days || "" });
        return t("sys.resolved", { name: this.nameOf("agent", d.by) });
      case "conversation.reopened":
        return t(d.status === "queued" ? "sys.reopenedQueued" : "sys.reopened", { name: this.nameOf("employee", d.by) });
      case "conversation.pending":
        return t("sys.pending", { name: this.nameOf("agent", d.by) });
      case "conversation.withdrawn":
        return t("sys.withdrawn", { name: this.nameOf("employee", d.by) });
      case "sla.escalated": // agents only: a service-level escalation was done
        return t(`sys.escalated.${d.action}`, { clock: t(`sla.kind.${d.kind}`), name: this.nameOf("agent", d.agent_id), priority: t(`priority.${d.priority}`) });
      case "conversation.notice": {
        let when = "";
        if (d.next_open) {
          const at = new Date(d.next_open);
          when = `${new Intl.DateTimeFormat(this.i18n.lang === "en" ? "en-US" : "zh-CN", { weekday: "short", month: "short", day: "numeric" }).format(at)} ${this.i18n.time(d.next_open).split(" ").pop()}`;
        }
        // The desk's own wording, when its admins gave one.
        const own = d.text && (d.text[this.i18n.lang] || d.text["zh-CN"] || d.text.en);
        if (own) return own.replaceAll("{when}", when);
        if (d.kind === "auto_resolve") return t("sys.noticeAutoResolve");
        if (d.kind === "closed" && when) return t("sys.noticeClosed", { when });
        return t(d.kind === "closed" ? "sys.noticeClosedSoon" : "sys.noticeNoAgents");
      }
      case "conversation.handed_over": // from the assistant to the queue
        return t(handoverReasons.has(d.reason) ? `sys.handedOver.${d.reason}` : "sys.handedOver");
      case "conversation.rated":
        return t("sys.rated", { name: this.nameOf("employee", d.by), stars: stars(d.score || 0) });
      case "conversation.updated": {
        const parts = [];
        if (d.priority) parts.push(t("sys.setPriority", { value: t(`priority.${d.priority}`) }));
        if (d.type) parts.push(t("sys.setType", { value: t(`type.${d.type}`) }));
        if (d.tags) parts.push(d.tags.length ? t("sys.setTags", { value: d.tags.join(t("list.sep")) }) : t("sys.clearTags"));
        return t("sys.updated", { name: this.nameOf("agent", d.by), what: parts.join(t("list.sep")) });
      }
    }
    return ev.type;
  }

  // place inserts an applied entry after the history so far and before
  // the pending messages, with a date line when the day changes.
  place(ev, node) {
    const anchor = this.list.querySelector(":scope > [data-pending]");
    const day = ev.created_at ? new Date(ev.created_at).toDateString() : "";
    if (day && day !== this.lastDay) {
      this.prev = null;
      this.lastDay = day;
      const label = day === new Date().toDateString() ? this.i18n.t("day.today") : new Date(ev.created_at).toLocaleDateString(this.i18n.lang);
      this.list.insertBefore(el("div", { class: "day", "aria-hidden": "true" }, el("span", { text: label })), anchor);
    }
    this.list.insertBefore(node, anchor);
  }

  placeMessage(ev) {
    const d = ev.data;
    const mine = this.isMine(d);
    let node = mine && d.client_msg_id ? this.own.get(d.client_msg_id) : null;
    if (node) {
      this.pendingItems.delete(d.client_msg_id);
      node.removeAttribute("data-pending");
      node.remove();
      if (d.attachments && d.attachments.length) node = this.message(d, mine); // the stored files, not the local previews
    } else {
      node = this.message(d, mine);
    }
    node.dataset.seq = ev.seq;
    if (mine) this.setStatus(node, "sent");
    this.place(ev, node);
    // A message right after another from the same sender (within two
    // minutes) drops its name, time and avatar, as chat apps do.
    const who = `${d.sender_type}:${d.sender_id}`;
    const at = new Date(ev.created_at).getTime();
    node.classList.toggle("msg-cont", Boolean(this.prev && this.prev.who === who && at - this.prev.at < 120_000));
    this.prev = { who, at };
  }

  /** pending shows or updates one of my messages from the outbox. */
  pending(item) {
    let node = this.own.get(item.client_msg_id);
    if (item.status === "discarded") {
      if (node && node.hasAttribute("data-pending")) node.remove();
      this.own.delete(item.client_msg_id);
      this.pendingItems.delete(item.client_msg_id);
      return;
    }
    if (!node) {
      if (item.status === "sent" && !item.seq) return;
      node = this.message({
        body: item.body, sender_type: this.me.role, sender_id: this.me.id,
        client_msg_id: item.client_msg_id, created_at: item.created_at,
      }, true);
      node.dataset.pending = "";
      this.list.append(node);
    }
    if (node.hasAttribute("data-pending")) {
      this.pendingItems.set(item.client_msg_id, item);
      // Files on their way: local previews, each with its progress.
      const atts = this.attachments(item.files, null);
      const old = node.querySelector(".atts");
      if (old) old.replaceWith(atts || "");
      else if (atts) node.querySelector(".bubble").append(atts);
    }
    if (item.seq) node.dataset.seq = item.seq;
    if (item.error) node.dataset.error = item.error;
    else delete node.dataset.error;
    if (item.reason) node.dataset.reason = item.reason;
    else delete node.dataset.reason;
    const up = (item.files || []).filter((f) => !f.id);
    node.dataset.uploading = item.status === "sending" && up.length ? String(Math.round(100 * up.reduce((s, f) => s + (f.progress || 0), 0) / up.length)) : "";
    this.setStatus(node, item.status);
  }

  message(m, mine) {
    // The assistant's messages are named in the reader's language, whatever
    // name the server stored, and never look like a person's.
    const bot = m.sender_type === "bot";
    const name = mine ? this.i18n.t("you") : bot ? this.i18n.t("bot.name") : (m.sender_name || this.nameOf(m.sender_type, m.sender_id));
    const node = el("div", {
      class: `msg ${mine ? "msg-own" : "msg-other"} msg-from-${m.sender_type}`,
      dataset: { testid: "message", senderType: m.sender_type, senderId: m.sender_id },
    },
    mine ? null : el("div", { class: `avatar avatar-${m.sender_type}`, "aria-hidden": "true", text: bot ? "AI" : initial(name) }),
    el("div", { class: "msg-main" },
      el("div", { class: "msg-meta" },
        el("span", { class: "msg-name", text: name }),
        bot ? el("span", { class: "msg-tag", text: this.i18n.t("bot.tag") }) : null,
        el("time", { class: "msg-time", text: this.i18n.time(m.created_at) })),
      el("div", { class: "bubble" },
        el("div", { class: "body" }, richText(m.body)), // empty (hidden) for files alone
        this.attachments(m.attachments, this.links),
        this.articles(m.articles)),
      mine ? el("div", { class: "msg-status" }) : null));
    if (m.client_msg_id) node.dataset.clientMsgId = m.client_msg_id;
    if (mine && m.client_msg_id) this.own.set(m.client_msg_id, node);
    return node;
  }

  // articles lists the knowledge-base articles a message cites (the
  // assistant's answers) as links to the employee page's article view.
  articles(list) {
    const refs = (Array.isArray(list) ? list : []).filter((a) => a && a.id);
    if (!refs.length) return null;
    return el("div", { class: "msg-articles", dataset: { testid: "message-articles" } },
      el("span", { class: "msg-articles-label", text: this.i18n.t("bot.sources") }),
      ...refs.map((a) => el("a", {
        class: "article-chip", href: `/h5/?article=${encodeURIComponent(a.id)}`,
        // In place on the employee page (as article links in messages are);
        // the console keeps its own tab.
        target: this.onOpenArticle || location.pathname.startsWith("/h5/") ? null : "_blank", rel: "noopener",
        dataset: { testid: "article-chip", id: a.id },
        text: a.title || a.id,
        on: this.onOpenArticle ? { click: (e) => { e.preventDefault(); this.onOpenArticle(a.id); } } : {},
      })));
  }

  setStatus(node, status) {
    node.dataset.status = status;
    const slot = node.querySelector(".msg-status");
    if (!slot) return;
    const t = this.i18n.t;
    const read = status === "sent" && this.readSeq && Number(node.dataset.seq) <= this.readSeq;
    slot.replaceChildren();
    slot.className = `msg-status status-${read ? "read" : status}`;
    if (status === "sending" && node.dataset.uploading) {
      slot.append(el("span", { text: t("msg.uploading", { pct: node.dataset.uploading }) }));
      return;
    }
    if (status === "failed") {
      // The server's refusal in the reader's language, never its English
      // text: codes (and a file's reason) are the protocol's, the wording ours.
      const code = node.dataset.error, why = node.dataset.reason;
      const has = (k) => t(k) !== k;
      const key = why && has(`msg.err.${why}`) ? `msg.err.${why}` : code && has(`msg.err.${code}`) ? `msg.err.${code}` : "msg.err.other";
      const reason = code || why ? t(key) : "";
      slot.append(el("span", { text: reason ? t("msg.failedWith", { reason }) : t("msg.failed"), dataset: { testid: "send-error" } }), " ",
        el("button", { type: "button", class: "link", text: t("msg.retry"), on: { click: () => this.onRetry(node.dataset.clientMsgId) } }), " · ",
        el("button", { type: "button", class: "link link-muted", text: t("msg.discard"), on: { click: () => this.onDiscard(node.dataset.clientMsgId) } }));
    } else {
      slot.append(el("span", { text: t(read ? "msg.read" : `msg.${status}`) }));
    }
  }

  markRead() {
    for (const node of this.own.values()) {
      if (node.dataset.status === "sent" && Number(node.dataset.seq) <= this.readSeq) this.setStatus(node, "sent");
    }
  }

  note(ev) {
    const d = ev.data;
    return el("div", { class: "note", dataset: { testid: "note", seq: ev.seq } },
      el("div", { class: "note-head" },
        el("span", { class: "note-tag", text: this.i18n.t("note.label") }),
        el("span", { class: "note-name", text: d.sender_name || this.nameOf("agent", d.sender_id) }),
        el("time", { class: "msg-time", text: this.i18n.time(d.created_at) })),
      el("div", { class: "body" }, richText(d.body)),
      this.attachments(d.attachments, this.links));
  }
}

/** Typing shows who is typing in node (#typing) for a few seconds per frame. */
export class Typing {
  constructor(node, i18n) {
    this.node = node;
    this.i18n = i18n;
    this.who = new Map(); // sender id → {name, timer}
    this.render();
  }

  show(data) {
    const prev = this.who.get(data.sender_id);
    if (prev) clearTimeout(prev.timer);
    const timer = setTimeout(() => this.clear(data.sender_id), 4000);
    this.who.set(data.sender_id, { name: data.sender_name || data.sender_id, timer });
    this.render();
  }

  clear(senderID) {
    const prev = this.who.get(senderID);
    if (!prev) return;
    clearTimeout(prev.timer);
    this.who.delete(senderID);
    this.render();
  }

  reset() {
    for (const id of [...this.who.keys()]) this.clear(id);
    this.render();
  }

  render() {
    const names = [...this.who.values()].map((w) => w.name);
    this.node.hidden = names.length === 0;
    setText(this.node, names.length ? this.i18n.t("typing", { name: names.join(this.i18n.t("list.sep")) }) : "");
  }
}

/**
 * typingSender returns a function to call on each keystroke: it sends a
 * typing frame at most once per 2 s, and once more at the end of a window
 * that saw keystrokes, so typing right after a send (which clears the other
 * side's indicator) still shows. Its cancel() drops that trailing frame:
 * call it when the message goes out.
 */
export function typingSender(conn, target) {
  let last = 0;
  let timer = null;
  const send = () => {
    timer = null;
    const to = target();
    if (to && conn.send({ type: "typing", conversation_id: to.conversation_id, sender_name: to.sender_name })) last = Date.now();
  };
  const onKey = () => {
    const wait = 2000 - (Date.now() - last);
    if (wait <= 0) send();
    else if (!timer) timer = setTimeout(send, wait);
  };
  onKey.cancel = () => {
    clearTimeout(timer);
    timer = null;
    last = 0;
  };
  return onKey;
}

/**
 * bindComposer wires the composer (#composer, #composer-input) of either
 * page: Enter or the button queues the message in the outbox, keystrokes
 * send throttled typing frames. getClient returns the page's client (or
 * null before sign-in), conversation the open conversation's id (or null),
 * typingTarget what a typing frame should say, or null when typing must
 * not be sent (not yet resumed, resolved, not a participant).
 */
export function bindComposer({ getClient, conversation, typingTarget, limit = () => 4096, i18n, files = null, intercept = null }) {
  const form = document.getElementById("composer");
  const input = document.getElementById("composer-input");
  const tray = files ? bindFileTray(files, i18n, input) : null;
  const sendTyping = typingSender({ send: (f) => getClient() && getClient().conn.send(f) }, typingTarget);
  // The server counts a body in UTF-8 bytes: near the limit the composer
  // says how much room is left (in Chinese characters, three bytes each),
  // and past it refuses to send, keeping what was typed.
  const count = el("span", { class: "composer-count", dataset: { testid: "composer-count" }, "aria-live": "polite" });
  count.hidden = true;
  form.before(count);
  const bytes = (text) => new TextEncoder().encode(text).length;
  const updateCount = () => {
    const used = bytes(input.value.trim());
    const max = limit();
    const over = used > max;
    count.hidden = used < max * 0.8;
    count.classList.toggle("over", over);
    if (!count.hidden && i18n) {
      setText(count, over ? i18n.t("composer.tooLong", { chars: Math.floor(max / 3) })
        : i18n.t("composer.left", { chars: Math.floor((max - used) / 3) }));
    }
    return !over;
  };
  input.addEventListener("input", updateCount);
  const send = () => {
    const body = input.value.trim();
    const id = conversation();
    const picked = tray ? tray.files() : [];
    // Read-only while a page fills it (the console's draft): not yet theirs to send.
    if ((!body && picked.length === 0) || !id || input.disabled || input.readOnly) return;
    if (!updateCount()) {
      input.focus();
      return; // too long: nothing is sent and nothing is lost
    }
    input.value = "";
    updateCount();
    if (tray) tray.clear();
    // The page may take it another way (the console's private note).
    if (intercept && intercept(id, body, picked)) {
      input.focus();
      return;
    }
    sendTyping.cancel();
    getClient().outbox.add(id, body, picked);
    scrollToBottom(document.getElementById("chat-scroll"));
    input.focus();
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    send();
  });
  onSubmitKey(input, send);
  input.addEventListener("input", sendTyping);
}

/**
 * bindFileTray lets the composer carry files: picked with the button's
 * file input, pasted (a screenshot on the clipboard), or dropped on
 * files.drop. Each shows in the tray (files.tray) with a preview and a ×
 * until the message is sent; too many or too large are refused at once
 * with files.refuse(text), before anything is uploaded.
 */
function bindFileTray({ input: picker, button, tray, drop, maxBytes, maxFiles = () => 9, refuse }, i18n, textInput) {
  let picked = []; // {file, url}
  const render = () => {
    tray.replaceChildren(...picked.map((p, i) => el("div", { class: "tray-item", dataset: { testid: "tray-item" } },
      p.url ? el("img", { class: "tray-thumb", src: p.url, alt: "" }) : el("span", { class: "tray-file", text: p.file.name }),
      el("span", { class: "tray-size", text: formatSize(p.file.size) }),
      el("button", {
        type: "button", class: "tray-remove", "aria-label": i18n.t("att.remove", { name: p.file.name }), text: "×",
        on: { click: () => { if (p.url) URL.revokeObjectURL(p.url); picked.splice(i, 1); render(); } },
      }))));
    tray.hidden = picked.length === 0;
  };
  const add = (list) => {
    for (const file of list) {
      if (picked.length >= maxFiles()) {
        refuse(i18n.t("att.tooMany", { n: maxFiles() }));
        break;
      }
      if (file.size > maxBytes()) {
        refuse(i18n.t("att.tooLarge", { name: file.name, size: formatSize(maxBytes()) }));
        continue;
      }
      if (file.size === 0) {
        refuse(i18n.t("att.empty", { name: file.name }));
        continue;
      }
      picked.push({ file, url: /^image\//.test(file.type) ? URL.createObjectURL(file) : "" });
    }
    render();
  };
  if (button) button.addEventListener("click", () => { if (!textInput.disabled) picker.click(); });
  picker.addEventListener("change", () => {
    add([...picker.files]);
    picker.value = ""; // the same file may be picked again
  });
  // A screenshot on the clipboard arrives as a file named image.png; give
  // it a name that says what and when.
  textInput.addEventListener("paste", (e) => {
    const got = [...(e.clipboardData ? e.clipboardData.files : [])];
    if (got.length === 0) return;
    e.preventDefault();
    const stamp = new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "");
    add(got.map((f) => (f.name && f.name !== "image.png" ? f : new File([f], `screenshot-${stamp}.png`, { type: f.type }))));
  });
  if (drop) {
    drop.addEventListener("dragover", (e) => {
      if (![...e.dataTransfer.types].includes("Files")) return;
      e.preventDefault();
      drop.classList.add("dropping");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("dropping"));
    drop.addEventListener("drop", (e) => {
      drop.classList.remove("dropping");
      if (!e.dataTransfer.files.length) return;
      e.preventDefault();
      add([...e.dataTransfer.files]);
    });
  }
  return {
    files: () => picked.map((p) => p.file),
    clear: () => {
      for (const p of picked) if (p.url) URL.revokeObjectURL(p.url);
      picked = [];
      render();
    },
  };
}

/**
 * bindUnseen watches the conversation's scroller: while the view is not at
 * the bottom, what arrives below is not on screen, so it is not marked read
 * and a "new messages ↓" marker offers to go there; reaching the bottom
 * hides it and calls atBottom (which marks read). It returns show().
 */
export function bindUnseen(scroller, i18n, atBottom) {
  const marker = el("button", { type: "button", class: "new-marker", dataset: { testid: "new-messages" } });
  marker.hidden = true;
  scroller.after(marker);
  const label = () => setText(marker, i18n.t("chat.newMessages"));
  label();
  i18n.onChange(label);
  marker.addEventListener("click", () => scrollToBottom(scroller));
  scroller.addEventListener("scroll", () => {
    if (!marker.hidden && nearBottom(scroller)) {
      marker.hidden = true;
      atBottom();
    }
  });
  return { show: () => { marker.hidden = false; } };
}

/** renderParticipants lists the active participants in node (#participants). */
export function renderParticipants(node, participants, { i18n, assigneeID, me }) {
  const items = participants.filter((p) => p.active !== false).map((p) => {
    const you = p.role === me.role && p.id === me.id;
    const role = p.role === "employee" ? i18n.t("role.employee") : (p.id === assigneeID ? i18n.t("role.assignee") : i18n.t("role.agent"));
    return el("li", { class: "participant", dataset: { testid: "participant", id: p.id, role: p.role } },
      el("span", { class: `avatar avatar-${p.role}`, "aria-hidden": "true", text: initial(p.name || p.id) }),
      el("span", { class: "participant-name", text: (p.name || p.id) + (you ? ` (${i18n.t("you")})` : "") }),
      el("span", { class: `participant-role role-${p.role}${p.id === assigneeID ? " role-assignee" : ""}`, text: role }));
  });
  node.replaceChildren(...items);
}

/** renderStatus sets the status badge (#conv-status). */
export function renderStatus(node, status, i18n) {
  node.dataset.status = status || "";
  node.className = `badge badge-${status || "none"}`;
  setText(node, status ? statusLabel(status, i18n) : "");
}

/** statusLabel words a conversation's status; one the page does not know shows as it is. */
export function statusLabel(status, i18n) {
  const key = `status.${status}`;
  const label = i18n.t(key);
  return label === key ? String(status) : label;
}

const connOf = new WeakMap(); // #conn-state → the connection it shows

/**
 * bindConnState keeps node (#conn-state) showing conn's state. Binding
 * again (after a new sign-in) moves the node to the new connection.
 */
export function bindConnState(node, conn, i18n) {
  const render = () => {
    const { state } = connOf.get(node);
    node.dataset.state = state;
    node.className = `conn conn-${state}`;
    node.replaceChildren(el("span", { class: "conn-dot", "aria-hidden": "true" }), el("span", { text: i18n.t(`conn.${state}`) }));
  };
  if (!connOf.has(node)) i18n.onChange(render);
  connOf.set(node, conn);
  conn.on("state", () => { if (connOf.get(node) === conn) render(); });
  render();
}

/**
 * applyToParticipants updates a participant list (array of {role, id,
 * name, active}) and the assignee from a lifecycle event, so the list moves
 * the moment the event arrives; the page refetches the conversation after.
 */
export function applyToParticipants(view, ev) {
  const d = ev.data || {};
  const set = (role, id, name, active) => {
    const p = view.participants.find((x) => x.role === role && x.id === id);
    if (p) {
      p.active = active;
      if (name) p.name = name;
    } else if (active) {
      view.participants.push({ role, id, name, active: true });
    }
  };
  switch (ev.type) {
    case "conversation.claimed":
      set("agent", d.agent_id, d.agent_name, true);
      view.status = "open";
      view.assignee_id = d.agent_id;
      break;
    case "participant.joined":
      set(d.participant.role, d.participant.id, d.participant.name, true);
      break;
    case "participant.left":
      set(d.participant.role, d.participant.id, d.participant.name, false);
      view.assignee_id = d.assignee_id || "";
      if (d.status) view.status = d.status;
      break;
    case "conversation.transferred":
      set("agent", d.from_agent_id, "", false);
      set("agent", d.to_agent_id, d.to_agent_name, true);
      view.assignee_id = d.to_agent_id;
      break;
    case "conversation.resolved":
      view.status = "resolved";
      break;
    case "conversation.reopened":
      view.status = d.status;
      view.assignee_id = d.assignee_id || "";
      break;
    case "conversation.pending":
      view.status = "pending";
      break;
    case "conversation.handed_over": // from the assistant to the queue
      view.status = d.status || "queued";
      break;
    case "conversation.withdrawn":
      view.status = "resolved";
      break;
    case "conversation.updated":
      if (d.priority) view.priority = d.priority;
      if (d.type) view.type = d.type;
      if (d.tags) view.tags = d.tags;
      break;
    default:
      return false;
  }
  return true;
}
