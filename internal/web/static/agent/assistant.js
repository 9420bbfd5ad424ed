// The AI assistant in the console, on desks that configure one (GET
// /api/meta says "assistant": true): a reply drafted into the composer as
// the model writes it (POST /api/conversations/{id}/assistant/draft, read
// as Server-Sent Events), and the review of every exchange the assistant
// had in a conversation (GET /api/conversations/{id}/assistant). The
// model's text is shown as text only, like everything a person typed.

import { ApiError, enc } from "/shared/api.js";
import { $, el, setText, show } from "/shared/dom.js";

/**
 * streamDraft asks for a draft and calls onDelta(text so far) as it
 * grows; it resolves to the "done" event's {text, articles} and rejects
 * with an ApiError for an "error" event, a refused request or a stream
 * that ends without either. EventSource cannot POST or send a header, so
 * this reads the response body itself.
 */
export async function streamDraft(path, token, signal, onDelta) {
  let res;
  try {
    res = await fetch(path, {
      method: "POST", cache: "no-store", signal,
      headers: { Accept: "text/event-stream", Authorization: `Bearer ${token}` },
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new ApiError(0, "network", err.message);
  }
  if (!res.ok) {
    let e = {};
    try { e = (await res.json()).error || {}; } catch { /* not JSON */ }
    throw new ApiError(res.status, e.code || `http_${res.status}`, e.message, e.reason);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ApiError(0, "network", err.message);
    }
    if (chunk.done) break;
    buf += chunk.value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev = parseEvent(block);
      if (!ev) continue;
      if (ev.event === "delta") onDelta(ev.data.text || "");
      else if (ev.event === "done") return { text: ev.data.text || "", articles: ev.data.articles || [] };
      else if (ev.event === "error") {
        const e = ev.data.error || {};
        throw new ApiError(res.status, e.code || "unavailable", e.message);
      }
    }
  }
  // The connection ended before the server said how the draft went.
  throw new ApiError(0, "network", "the draft stream ended early");
}

// parseEvent reads one Server-Sent Event block: its event name and its
// data lines as JSON; comments and blocks that are not JSON are skipped.
function parseEvent(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  try {
    return { event, data: JSON.parse(data.join("\n")) || {} };
  } catch {
    return null;
  }
}

/**
 * bindDraft wires the composer's 起草回复 and its cancel button. The draft
 * fills the reply box as it is written (read-only meanwhile, so Enter
 * cannot send half of it), then stays there to be edited and sent by the
 * agent; nothing is sent by itself. Cancelling, or a failure, puts back
 * what the box held before. conversation() is the open conversation's id,
 * enabled() whether the agent may write in it now.
 */
export function bindDraft({ i18n, toast, token, onUnauthorized, conversation, enabled }) {
  const t = i18n.t;
  const input = $("#composer-input");
  const button = $("#composer-draft");
  const cancel = $("#composer-draft-cancel");
  let run = null; // {id, controller, before, placeholder}

  const put = (text) => {
    input.value = text;
    input.scrollTop = input.scrollHeight;
  };

  function finish() {
    input.readOnly = false;
    // (A language switch meanwhile has already put the page's own back.)
    if (input.placeholder === t("draft.working")) input.placeholder = run.placeholder;
    input.classList.remove("drafting");
    run = null;
    render();
  }

  async function start() {
    const id = conversation();
    if (!id || run || !enabled()) return;
    const controller = new AbortController();
    const mine = { id, controller, before: input.value, placeholder: input.placeholder };
    run = mine;
    input.readOnly = true;
    input.classList.add("drafting");
    input.placeholder = t("draft.working");
    put("");
    render();
    try {
      const done = await streamDraft(`/api/conversations/${enc(id)}/assistant/draft`, token(), controller.signal,
        (text) => { if (run === mine) put(text); });
      if (run !== mine) return;
      put(done.text + links(done.articles));
      finish();
      input.dispatchEvent(new Event("input")); // the length counter, once
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
      toast(t("draft.ready"), "ok");
    } catch (err) {
      if (run !== mine) return; // cancelled: already put back
      put(mine.before);
      finish();
      if (err instanceof ApiError && err.status === 401) onUnauthorized();
      toast(t("draft.failed", { reason: i18n.error(err) }), "error");
    }
  }

  // links lists the articles the draft cites, as the knowledge base's
  // link cards do, so the employee can open what "[1]" refers to.
  function links(articles) {
    const refs = (articles || []).filter((a) => a && a.id);
    if (!refs.length) return "";
    return "\n\n" + refs.map((a) => `📄 ${a.title}\n${location.origin}/h5/?article=${encodeURIComponent(a.id)}`).join("\n");
  }

  /** stop ends a draft under way; restore puts back what the box held. */
  function stop(restore = true) {
    if (!run) return;
    run.controller.abort();
    if (restore) put(run.before);
    finish();
  }

  function render() {
    const on = enabled();
    if (run && (!on || run.id !== conversation())) {
      stop(false);
      return;
    }
    show(button, on && !run);
    show(cancel, Boolean(run));
  }

  button.addEventListener("click", start);
  cancel.addEventListener("click", () => {
    stop(true);
    input.focus();
  });
  return { render, stop, running: () => Boolean(run) };
}

/**
 * bindExchanges wires the 助手记录 dialog: each exchange the assistant had
 * in the open conversation (its answer to the employee, the drafts it
 * wrote for agents), with what it was asked, for review.
 */
export function bindExchanges({ api, i18n, toast, agentName }) {
  const t = i18n.t;
  const dialog = $("#assistant-dialog");
  let shown = null; // {id, exchanges}

  async function open(id) {
    shown = { id, exchanges: [] };
    render();
    dialog.showModal();
    try {
      const r = await api().get(`/api/conversations/${enc(id)}/assistant`);
      if (!shown || shown.id !== id) return;
      shown.exchanges = r.exchanges || [];
      shown.loaded = true;
    } catch (err) {
      toast(i18n.error(err), "error");
    }
    render();
  }

  const has = (key) => t(key) !== key;
  const duration = (ms) => (ms < 1000 ? t("assistant.durationMs", { ms }) : t("assistant.duration", { s: (ms / 1000).toFixed(1) }));
  const label = (prefix, value) => (has(`${prefix}.${value}`) ? t(`${prefix}.${value}`) : String(value || ""));

  function render() {
    if (!shown) return;
    const list = shown.exchanges;
    show($("#assistant-none"), Boolean(shown.loaded) && list.length === 0);
    $("#assistant-exchanges").replaceChildren(...list.map((x) => {
      const prompt = Array.isArray(x.prompt) ? x.prompt : [];
      const facts = [
        x.model ? t("assistant.model", { model: x.model }) : "",
        x.duration_ms >= 0 ? duration(x.duration_ms) : "",
        x.kind === "draft" && x.agent_id ? t("assistant.for", { name: agentName(x.agent_id) }) : "",
        (x.citations || []).length ? t("assistant.cited", { n: x.citations.length }) : "",
      ].filter(Boolean);
      return el("li", { class: "exchange", dataset: { testid: "assistant-exchange", kind: x.kind || "", outcome: x.outcome || "" } },
        el("div", { class: "exchange-head" },
          el("time", { class: "msg-time", text: i18n.time(x.started_at) }),
          el("span", { class: "chip", text: label("assistant.kind", x.kind) }),
          el("span", { class: `badge exchange-outcome outcome-${x.outcome || "none"}`, text: label("assistant.outcome", x.outcome) }),
          el("span", { class: "muted", text: facts.join(" · ") })),
        el("div", { class: "body exchange-answer", text: x.answer || t("assistant.noAnswer") }),
        x.error ? el("p", { class: "form-error", text: t("assistant.error", { error: x.error }) }) : null,
        el("details", { class: "exchange-prompt", dataset: { testid: "assistant-prompt" } },
          el("summary", { text: t("assistant.prompt", { n: prompt.length }) }),
          ...prompt.map((m) => el("div", { class: "prompt-msg" },
            el("span", { class: "prompt-role", text: label("assistant.role", m.role) }),
            el("pre", { class: "prompt-text", text: m.content || "" })))));
    }));
  }

  $("#assistant-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => { shown = null; });
  i18n.onChange(render);
  return { open, close: () => { if (dialog.open) dialog.close(); } };
}
