// DOM helpers. Everything a user typed reaches the page through textContent
// or a text node, never through innerHTML, so a message holding "<script>"
// is shown as those characters.

/**
 * el creates an element. attrs: `class`, `text` (textContent), `dataset`
 * (an object), `hidden`/`disabled` (booleans), `on` (event name → handler);
 * anything else is set with setAttribute when it is not null or false.
 * Children may be nodes, strings (added as text) or null (skipped).
 */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    switch (key) {
      case "class": node.className = value; break;
      case "text": node.textContent = String(value); break;
      case "dataset": Object.assign(node.dataset, value); break;
      case "hidden": node.hidden = Boolean(value); break;
      case "disabled": node.disabled = Boolean(value); break;
      case "on":
        for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
        break;
      default: node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** $ finds one element by CSS selector (document by default). */
export const $ = (selector, root = document) => root.querySelector(selector);

/** $$ finds every matching element, as an array. */
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** setText replaces a node's content with text. */
export function setText(node, text) {
  node.textContent = text === null || text === undefined ? "" : String(text);
}

/** show sets the hidden attribute from a boolean. */
export function show(node, visible) {
  node.hidden = !visible;
}

/** initial is the first character of a name, for avatars. */
export function initial(name) {
  const s = String(name || "?").trim();
  return s ? [...s][0].toUpperCase() : "?";
}

/**
 * toaster returns a function that shows a short message in region (an
 * aria-live element) for a few seconds.
 */
export function toaster(region) {
  return (text, kind = "info") => {
    const item = el("div", { class: `toast toast-${kind}`, role: "status", text });
    region.append(item);
    setTimeout(() => item.classList.add("toast-out"), 3600);
    setTimeout(() => item.remove(), 4000);
  };
}

/**
 * onSubmitKey makes Enter submit in a textarea and Shift+Enter add a line.
 * An Enter that confirms a Chinese IME candidate is not a send.
 */
export function onSubmitKey(textarea, submit) {
  textarea.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
    e.preventDefault();
    submit();
  });
}

/** nearBottom reports whether a scroller shows (almost) its end. */
export function nearBottom(scroller, slack = 80) {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < slack;
}

/** scrollToBottom scrolls a scroller to its end. */
export function scrollToBottom(scroller) {
  scroller.scrollTop = scroller.scrollHeight;
}

/**
 * keepAtBottom keeps a chat scrolled to its end while the reader is there,
 * whatever changes the size: new lines, a banner, a language switch.
 */
export function keepAtBottom(scroller, content) {
  let atBottom = true;
  scroller.addEventListener("scroll", () => { atBottom = nearBottom(scroller); }, { passive: true });
  if (typeof ResizeObserver === "undefined") return;
  const ro = new ResizeObserver(() => { if (atBottom) scrollToBottom(scroller); });
  ro.observe(scroller);
  ro.observe(content);
}

/**
 * confirmAction asks in the page's own dialog (#confirm-dialog, with
 * #confirm-text, #confirm-ok and #confirm-cancel) and resolves to true
 * when confirmed: one click must not resolve, leave or withdraw.
 */
export function confirmAction(text) {
  const dialog = $("#confirm-dialog");
  setText($("#confirm-text"), text);
  return new Promise((resolve) => {
    const done = (ok) => {
      $("#confirm-ok").removeEventListener("click", yes);
      $("#confirm-cancel").removeEventListener("click", no);
      dialog.removeEventListener("cancel", no);
      if (dialog.open) dialog.close();
      resolve(ok);
    };
    const yes = () => done(true);
    const no = () => done(false);
    $("#confirm-ok").addEventListener("click", yes);
    $("#confirm-cancel").addEventListener("click", no);
    dialog.addEventListener("cancel", no);
    dialog.showModal();
    $("#confirm-ok").focus();
  });
}
