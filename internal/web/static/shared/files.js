// Files in conversations, for both pages: uploading with progress, the
// signed URLs the server hands out per conversation, thumbnails and file
// chips in the history, the full-size viewer, and the message text itself
// (links and ``` blocks). Everything a user wrote still reaches the page
// through text nodes only.

import { el } from "./dom.js";

/**
 * FileLinks keeps one conversation's signed URLs: asked for once, again
 * when a file it does not know appears or the URLs are about to expire.
 */
export class FileLinks {
  constructor(api, conversationID) {
    this.api = api;
    this.id = conversationID;
    this.links = new Map(); // attachment id → {url, thumbnail_url}
    this.expires = 0;
    this.loading = null;
  }

  async get(attachmentID) {
    const fresh = Date.now() < this.expires - 30_000;
    if (!fresh || !this.links.has(attachmentID)) await this.load();
    return this.links.get(attachmentID);
  }

  /** load asks for the URLs again; callers at the same time share one request. */
  load() {
    if (!this.loading) {
      this.loading = this.api.get(`/api/conversations/${encodeURIComponent(this.id)}/attachments`).then((r) => {
        for (const a of r.attachments) this.links.set(a.id, a);
        this.expires = new Date(r.expires_at).getTime();
      }).finally(() => { this.loading = null; });
    }
    return this.loading;
  }
}

/** formatSize says a byte count the way file managers do. */
export function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const isImageType = (t) => /^image\/(png|jpeg|gif|webp)$/.test(t || "");

/**
 * renderAttachments draws a message's attachments: thumbnails for images
 * (their URLs filled in when known; onOpen(id) opens the viewer), chips
 * with name, size and a download link for everything else. links is the
 * conversation's FileLinks, or null for files not yet sent (then each
 * entry may carry a local preview URL and an upload progress).
 */
export function renderAttachments(atts, { links, onOpen, t }) {
  if (!atts || atts.length === 0) return null;
  const box = el("div", { class: "atts", dataset: { testid: "attachments" } });
  for (const a of atts) {
    if (a.thumbnail || (!links && isImageType(a.type) && a.preview)) {
      const w = a.width || 4, h = a.height || 3;
      const img = el("img", {
        class: "att-thumb", alt: a.name, loading: "lazy", decoding: "async",
        width: Math.min(240, w), height: Math.round(Math.min(240, w) * h / w),
        dataset: { testid: "attachment-thumb", attachmentId: a.id || "" },
      });
      if (a.preview) {
        // A file the browser called a picture but that is not one (the
        // server will say so): its name instead of a broken image.
        img.addEventListener("error", () => img.replaceWith(el("span", { class: "att-broken", text: a.name })), { once: true });
        img.src = a.preview;
      }
      else if (links) fillThumb(img, a, links);
      const open = () => a.id && onOpen && onOpen(a.id);
      const tile = el("button", { type: "button", class: "att-tile", title: a.name, "aria-label": t("att.open", { name: a.name }), on: { click: open } }, img);
      if (a.progress !== undefined && a.progress < 1) tile.append(el("span", { class: "att-progress", text: `${Math.round(a.progress * 100)}%` }));
      box.append(tile);
      continue;
    }
    const link = el("a", { class: "att-file", dataset: { testid: "attachment-file" }, rel: "noopener noreferrer", download: a.name },
      el("span", { class: "att-icon", "aria-hidden": "true", text: extOf(a.name) }),
      el("span", { class: "att-meta" },
        el("span", { class: "att-name", text: a.name }),
        el("span", { class: "att-size", text: a.progress !== undefined && a.progress < 1 ? `${Math.round(a.progress * 100)}%` : formatSize(a.size || 0) })));
    if (links && a.id) {
      // The URL is fetched when asked for, so a chip never holds one that
      // expired while the page sat open.
      link.href = "#";
      link.addEventListener("click", async (e) => {
        e.preventDefault();
        const l = await links.get(a.id).catch(() => null);
        if (l) window.open(l.url, "_blank", "noopener");
      });
    }
    box.append(link);
  }
  return box;
}

async function fillThumb(img, a, links) {
  try {
    const l = await links.get(a.id);
    if (l && l.thumbnail_url) img.src = l.thumbnail_url;
  } catch {
    return; // offline: the tile keeps its size and stays empty
  }
  // A URL that expired while the page slept: ask once more.
  img.addEventListener("error", async () => {
    links.expires = 0;
    const l = await links.get(a.id).catch(() => null);
    if (l && l.thumbnail_url && img.src !== location.origin + l.thumbnail_url) img.src = l.thumbnail_url;
  }, { once: true });
}

function extOf(name) {
  const m = /\.([a-z0-9]{1,4})$/i.exec(name || "");
  return m ? m[1].toUpperCase() : "FILE";
}

/**
 * Viewer shows one image at full size over the page: ← and → (or swipes)
 * step through the conversation's images, Esc or the close button ends it;
 * on a phone two fingers zoom and one drags a zoomed image.
 */
export class Viewer {
  constructor(t) {
    this.t = t;
    this.img = el("img", { class: "viewer-img", alt: "", dataset: { testid: "viewer-image" } });
    this.caption = el("div", { class: "viewer-caption" });
    this.prevBtn = el("button", { type: "button", class: "viewer-nav viewer-prev", "aria-label": t("viewer.prev"), text: "‹", on: { click: () => this.step(-1) } });
    this.nextBtn = el("button", { type: "button", class: "viewer-nav viewer-next", "aria-label": t("viewer.next"), text: "›", on: { click: () => this.step(1) } });
    this.root = el("div", { class: "viewer", role: "dialog", "aria-modal": "true", dataset: { testid: "viewer" }, hidden: true },
      el("button", { type: "button", class: "viewer-close", "aria-label": t("viewer.close"), text: "×", on: { click: () => this.close() } }),
      this.prevBtn, el("div", { class: "viewer-stage" }, this.img), this.nextBtn, this.caption);
    this.root.addEventListener("click", (e) => { if (e.target === this.root || e.target.classList.contains("viewer-stage")) this.close(); });
    document.body.append(this.root);
    document.addEventListener("keydown", (e) => {
      if (this.root.hidden) return;
      if (e.key === "Escape") this.close();
      else if (e.key === "ArrowLeft") this.step(-1);
      else if (e.key === "ArrowRight") this.step(1);
      else return;
      e.preventDefault();
    });
    this.bindTouch();
  }

  /** open shows the image id from items ([{id, name}], in order); links gives URLs. */
  async open(items, id, links) {
    this.items = items;
    this.links = links;
    this.index = Math.max(0, items.findIndex((x) => x.id === id));
    this.root.hidden = false;
    this.root.focus && this.root.focus();
    await this.show();
  }

  async show() {
    const item = this.items[this.index];
    this.zoom(1, 0, 0);
    this.caption.textContent = `${item.name} · ${this.index + 1}/${this.items.length}`;
    this.prevBtn.hidden = this.index === 0;
    this.nextBtn.hidden = this.index === this.items.length - 1;
    this.img.removeAttribute("src");
    const l = await this.links.get(item.id).catch(() => null);
    if (l && this.items[this.index] === item) {
      this.img.src = l.url;
      this.img.alt = item.name;
    }
  }

  step(d) {
    const next = this.index + d;
    if (!this.items || next < 0 || next >= this.items.length) return;
    this.index = next;
    this.show();
  }

  close() {
    this.root.hidden = true;
    this.img.removeAttribute("src");
  }

  zoom(scale, x, y) {
    this.scale = scale;
    this.tx = x;
    this.ty = y;
    this.img.style.transform = scale === 1 ? "" : `translate(${x}px, ${y}px) scale(${scale})`;
  }

  // Pinch to zoom, drag when zoomed, swipe to step, double-tap to reset:
  // pointer events, so it works the same in WeCom's WebView and a browser.
  bindTouch() {
    const pts = new Map();
    let start = null;
    this.img.addEventListener("pointerdown", (e) => {
      this.img.setPointerCapture(e.pointerId);
      pts.set(e.pointerId, { x: e.clientX, y: e.clientY });
      start = { pts: new Map([...pts].map(([k, v]) => [k, { ...v }])), scale: this.scale, tx: this.tx, ty: this.ty, at: Date.now() };
    });
    this.img.addEventListener("pointermove", (e) => {
      if (!pts.has(e.pointerId) || !start) return;
      pts.set(e.pointerId, { x: e.clientX, y: e.clientY });
      const now = [...pts.values()];
      const was = [...start.pts.values()];
      if (now.length === 2 && was.length === 2) {
        const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);
        const s = Math.min(6, Math.max(1, start.scale * dist(now[0], now[1]) / Math.max(1, dist(was[0], was[1]))));
        this.zoom(s, start.tx, start.ty);
      } else if (now.length === 1 && was.length === 1 && this.scale > 1) {
        this.zoom(this.scale, start.tx + now[0].x - was[0].x, start.ty + now[0].y - was[0].y);
      }
    });
    const end = (e) => {
      const was = start && start.pts.get(e.pointerId);
      pts.delete(e.pointerId);
      if (!was || pts.size > 0) return;
      const dx = e.clientX - was.x;
      if (this.scale === 1 && start.pts.size === 1 && Math.abs(dx) > 60 && Date.now() - start.at < 600) this.step(dx < 0 ? 1 : -1);
      if (Date.now() - (this.lastTap || 0) < 300) this.zoom(this.scale > 1 ? 1 : 2.5, 0, 0);
      this.lastTap = Date.now();
      start = null;
    };
    this.img.addEventListener("pointerup", end);
    this.img.addEventListener("pointercancel", end);
  }
}

const urlPattern = /\bhttps?:\/\/[^\s<>"'，。！？、；：）】」』]+/gi;

function isArticleLink(url) {
  try {
    const u = new URL(url);
    // Only on the employee page: the console keeps its own tab.
    return u.origin === location.origin && u.pathname === "/h5/" && location.pathname.startsWith("/h5/") && u.searchParams.has("article");
  } catch {
    return false;
  }
}

/**
 * richText turns a message body into nodes: text between ``` fences is a
 * monospace block that keeps its lines; elsewhere http(s) URLs become
 * links that open apart from the desk (no referrer, no opener). Only text
 * nodes carry what the user wrote.
 */
export function richText(body) {
  const frag = document.createDocumentFragment();
  const parts = String(body || "").split(/```/);
  parts.forEach((part, i) => {
    const fenced = i % 2 === 1 && i < parts.length - 1; // an unclosed fence stays text
    if (fenced) {
      const code = part.replace(/^[\w-]*\n/, "").replace(/\n$/, ""); // ```sh\n… drops the language tag
      frag.append(el("pre", { class: "code", dataset: { testid: "code-block" } }, el("code", { text: code })));
      return;
    }
    const text = i % 2 === 1 ? "```" + part : part;
    let last = 0;
    const plain = (s) => { if (s) frag.append(document.createTextNode(s)); };
    for (const m of text.matchAll(urlPattern)) {
      const url = m[0].replace(/[.,;:!?)\]]+$/, ""); // sentence punctuation is not part of the link
      plain(text.slice(last, m.index));
      // A link to one of the desk's own knowledge-base articles (the link
      // card an agent sends) opens in the page itself; others apart from it.
      frag.append(isArticleLink(url)
        ? el("a", { href: url, class: "link-article", dataset: { testid: "article-link" }, text: url })
        : el("a", { href: url, target: "_blank", rel: "noopener noreferrer", class: "link-out", text: url }));
      last = m.index + url.length;
    }
    plain(text.slice(last));
  });
  return frag;
}
