// @mentions in private notes: typing "@" and a few letters offers the
// colleagues whose username or name match; arrows, Enter (or Tab) and Esc
// work as in the "/" picker. The server reads "@username" in the sent note
// and tells whom it names.

import { el } from "/shared/dom.js";

const before = /(?:^|[^A-Za-z0-9_.@-])@([A-Za-z0-9_.-]*)$/;

/**
 * bindMentions offers agents() (but not me()) in picker while input holds
 * "@…" before the caret and enabled() says the text is a note.
 */
export function bindMentions({ input, picker, agents, me, enabled, t }) {
  let shown = [];
  let at = 0;
  const query = () => {
    if (!enabled() || input.disabled) return null;
    const m = before.exec(input.value.slice(0, input.selectionStart));
    return m ? m[1].toLowerCase() : null;
  };
  const close = () => { picker.hidden = true; shown = []; };
  const render = () => {
    const q = query();
    if (q === null) return close();
    shown = agents().filter((a) => a.id !== me() && (a.username.toLowerCase().includes(q) || (a.name || "").toLowerCase().includes(q))).slice(0, 8);
    if (!shown.length) return close();
    at = Math.min(at, shown.length - 1);
    picker.replaceChildren(...shown.map((a, i) => el("li", {
      class: `canned-option${i === at ? " active" : ""}`, role: "option", "aria-selected": i === at ? "true" : "false",
      dataset: { testid: "mention-option", username: a.username },
      on: { mousedown: (e) => { e.preventDefault(); choose(i); } },
    },
    el("span", { class: "canned-title", text: a.name || a.username }),
    el("span", { class: "canned-body", text: `@${a.username}${a.status ? ` · ${t(`presence.${a.status}`)}` : ""}` }))));
    picker.hidden = false;
  };
  const choose = (i) => {
    const a = shown[i];
    if (!a) return;
    const caret = input.selectionStart;
    const head = input.value.slice(0, caret).replace(/@[A-Za-z0-9_.-]*$/, `@${a.username} `);
    input.value = head + input.value.slice(caret);
    input.setSelectionRange(head.length, head.length);
    input.dispatchEvent(new Event("input"));
    close();
    input.focus();
  };
  input.addEventListener("input", () => { at = 0; render(); });
  input.addEventListener("blur", () => setTimeout(close, 100));
  // Capturing, so Enter picks a colleague instead of sending the note.
  input.addEventListener("keydown", (e) => {
    if (picker.hidden) return;
    const keys = { ArrowDown: 1, ArrowUp: -1 };
    if (e.key in keys) {
      at = (at + keys[e.key] + shown.length) % shown.length;
      render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      choose(at);
    } else if (e.key === "Escape") {
      close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);
}
