// Markdown for knowledge-base articles, rendered safely: the text is never
// parsed as HTML (every node is built with createElement and textContent),
// links open only http and https addresses, and what is not understood
// shows as the text it is. The subset is what IT answers use: headings,
// paragraphs, bold, italic, inline code, fenced code blocks, bulleted and
// numbered lists, block quotes and links. Pictures show only from the
// desk's own attachment store: ![说明](attachment:at_…) with a signed URL
// the server gave for that id (options.images); any other image is a link.

const safeURL = (u) => {
  try {
    const url = new URL(u, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
};

// images maps the attachment ids of the article being rendered to their
// signed URLs (renderMarkdown's options; rendering is synchronous).
let images = {};

// inline renders one line's emphasis, code and links into parent.
function inline(parent, text) {
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(!?\[[^\]]*\]\([^)\s]+\))/g;
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    const s = m[0];
    if (m[1]) {
      const c = document.createElement("code");
      c.textContent = s.slice(1, -1);
      parent.append(c);
    } else if (m[2]) {
      const b = document.createElement("strong");
      inline(b, s.slice(2, -2));
      parent.append(b);
    } else if (m[3]) {
      const i = document.createElement("em");
      inline(i, s.slice(1, -1));
      parent.append(i);
    } else {
      const image = s.startsWith("!");
      const label = s.slice(image ? 2 : 1, s.indexOf("]"));
      const target = s.slice(s.indexOf("](") + 2, -1);
      const href = target.startsWith("attachment:") ? null : safeURL(target);
      const picture = image && target.startsWith("attachment:") ? safeURL(images[target.slice("attachment:".length)] || "") : null;
      if (picture) {
        const img = document.createElement("img");
        img.src = picture;
        img.alt = label;
        img.loading = "lazy";
        img.className = "md-img";
        parent.append(img);
      } else if (href) {
        const a = document.createElement("a");
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.textContent = label || href;
        parent.append(a);
      } else {
        parent.append(label || s);
      }
    }
    last = m.index + s.length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

/**
 * renderMarkdown returns a fragment of elements for src; options.images
 * maps picture ids (attachment:at_…) to the URLs to show them by.
 */
export function renderMarkdown(src, options = {}) {
  images = options.images || {};
  const out = document.createDocumentFragment();
  const lines = String(src || "").replace(/\r\n?/g, "\n").split("\n");
  let para = null, list = null, quote = null;
  const end = () => { para = null; list = null; quote = null; };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^```/.test(line)) {
      end();
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      const body = [];
      for (i++; i < lines.length && !/^```/.test(lines[i]); i++) body.push(lines[i]);
      code.textContent = body.join("\n");
      pre.append(code);
      out.append(pre);
      continue;
    }
    if (!line.trim()) { end(); continue; }
    const h = /^(#{1,3})\s+(.*)$/.exec(line);
    if (h) {
      end();
      const el = document.createElement(`h${h[1].length + 2}`); // article title is the page's h2
      inline(el, h[2]);
      out.append(el);
      continue;
    }
    const li = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (li) {
      const tag = li[1] ? "ul" : "ol";
      if (!list || list.tagName.toLowerCase() !== tag) {
        end();
        list = document.createElement(tag);
        out.append(list);
      }
      const item = document.createElement("li");
      inline(item, li[3]);
      list.append(item);
      continue;
    }
    const q = /^>\s?(.*)$/.exec(line);
    if (q) {
      if (!quote) {
        end();
        quote = document.createElement("blockquote");
        out.append(quote);
      } else {
        quote.append(document.createElement("br"));
      }
      inline(quote, q[1]);
      continue;
    }
    if (!para) {
      end();
      para = document.createElement("p");
      out.append(para);
    } else {
      para.append(document.createElement("br"));
    }
    inline(para, line);
  }
  return out;
}

/** summary is an article's first words as plain text, for cards and lists. */
export function summary(src, max = 80) {
  const text = String(src || "").replace(/```[\s\S]*?```/g, " ").replace(/[#>*`_\-]+/g, " ")
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/\s+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
