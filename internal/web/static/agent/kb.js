// The knowledge base in the console: the 知识库 dialog where agents write
// articles (drafts, saved as versions, previewed as employees will see
// them) and admins publish or archive them; and, beside an open
// conversation, the articles matching it (insert one as a link card in
// the reply), those the employee read before asking, and "save as
// article" for a good reply.

import { $, el, setText, show } from "/shared/dom.js";
import { renderMarkdown, summary } from "/shared/markdown.js";

/** bindKB wires the dialog and the details' 相关文章 block. */
export function bindKB({ api, i18n, toast, cats, isAdmin, insert }) {
  const t = i18n.t;
  const dialog = $("#kb-dialog");
  let articles = [];
  let editing = null; // the article in the editor, or null for a new one
  // pictures maps the ids of pictures the editor may show (the article's,
  // and those uploaded since) to signed URLs, for the preview.
  let pictures = {};
  const fail = (err) => toast(i18n.error(err), "error");
  const link = (id) => `${location.origin}/h5/?article=${encodeURIComponent(id)}`;

  async function loadList() {
    const p = new URLSearchParams({ limit: "100" });
    if ($("#kb-status").value) p.set("status", $("#kb-status").value);
    if ($("#kb-filter").value.trim()) p.set("q", $("#kb-filter").value.trim());
    try {
      articles = (await api().get(`/api/kb/articles?${p}`)).articles;
    } catch (err) {
      fail(err);
    }
    $("#kb-list").replaceChildren(...articles.map((a) => el("li", {
      class: `canned-row${editing && editing.id === a.id ? " active" : ""}`, dataset: { testid: "kb-article", id: a.id },
      on: { click: () => open(a.id) },
    },
    el("div", { class: "canned-row-main" },
      el("strong", { text: a.title }),
      el("span", { class: `badge kb-status kb-${a.status}`, text: t(`kb.status.${a.status}`) }),
      el("span", { class: "muted", text: t("kb.counts", { views: a.views, helped: a.helped, not: a.not_helped }) })))));
  }

  function fill(a) {
    editing = a;
    pictures = { ...(a && a.images) };
    $("#kb-title").value = a ? a.title : "";
    $("#kb-body").value = a ? a.body || "" : "";
    $("#kb-tags").value = a ? (a.tags || []).join(", ") : "";
    $("#kb-category").replaceChildren(...cats.active().map((c) => el("option", { value: c.key, text: cats.name(c.key) })));
    $("#kb-category").value = a ? a.category : (cats.active()[0] || {}).key || "other";
    setText($("#kb-form-title"), a && a.id ? t("kb.edit", { version: a.version, status: t(`kb.status.${a.status}`) }) : t("kb.new"));
    show($("#kb-publish"), Boolean(a && a.id && isAdmin() && a.status !== "published"));
    show($("#kb-archive"), Boolean(a && a.id && isAdmin() && a.status === "published"));
    $("#kb-versions").replaceChildren();
    preview();
  }

  async function open(id) {
    try {
      const [a, v] = await Promise.all([api().get(`/api/kb/articles/${encodeURIComponent(id)}`), api().get(`/api/kb/articles/${encodeURIComponent(id)}/versions`)]);
      fill(a);
      $("#kb-versions").replaceChildren(...v.versions.map((x) => el("li", { class: "muted", text: t("kb.version", { version: x.version, at: i18n.time(x.created_at), title: x.title }) })));
      loadList();
    } catch (err) {
      fail(err);
    }
  }

  const preview = () => $("#kb-preview").replaceChildren(el("h2", { text: $("#kb-title").value }), renderMarkdown($("#kb-body").value, { images: pictures }));
  // A picture is uploaded to the attachment store and named in the body as
  // ![说明](attachment:at_…); saving the article makes it the article's.
  $("#kb-picture").addEventListener("click", () => $("#kb-picture-file").click());
  $("#kb-picture-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    e.target.value = "";
    if (!file) return;
    try {
      const att = await api().upload(file);
      pictures[att.id] = att.url;
      const box = $("#kb-body");
      const at = box.selectionEnd ?? box.value.length;
      const alt = (file.name || "").replace(/\.[^.]*$/, "").replace(/[\[\]]/g, "");
      const text = `![${alt}](attachment:${att.id})`;
      box.value = box.value.slice(0, at) + (at > 0 && box.value[at - 1] !== "\n" ? "\n" : "") + text + "\n" + box.value.slice(at);
      preview();
    } catch (err) {
      fail(err);
    }
  });
  $("#kb-body").addEventListener("input", preview);
  $("#kb-title").addEventListener("input", preview);

  $("#kb-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      title: $("#kb-title").value, body: $("#kb-body").value, category: $("#kb-category").value,
      tags: $("#kb-tags").value.split(/[,，\s]+/).map((x) => x.trim()).filter(Boolean),
    };
    try {
      const a = editing && editing.id
        ? await api().post(`/api/kb/articles/${encodeURIComponent(editing.id)}`, { ...body, version: editing.version })
        : await api().post("/api/kb/articles", body);
      toast(t("admin.saved"), "ok");
      await open(a.id);
    } catch (err) {
      fail(err);
    }
  });
  const act = (what) => async () => {
    try {
      const a = await api().post(`/api/kb/articles/${encodeURIComponent(editing.id)}/${what}`, {});
      toast(t(what === "publish" ? "kb.didPublish" : "kb.didArchive"), "ok");
      await open(a.id);
    } catch (err) {
      fail(err);
    }
  };
  $("#kb-publish").addEventListener("click", act("publish"));
  $("#kb-archive").addEventListener("click", act("archive"));
  $("#kb-new").addEventListener("click", () => fill(null));
  $("#kb-status").addEventListener("change", loadList);
  $("#kb-filter").addEventListener("input", () => { clearTimeout(filterTimer); filterTimer = setTimeout(loadList, 300); });
  let filterTimer = 0;
  // Synonyms (admins): one group a line, words separated by commas.
  async function loadSynonyms() {
    show($("#kb-synonyms-block"), isAdmin());
    if (!isAdmin()) return;
    try {
      const s = await api().get("/api/kb/synonyms");
      $("#kb-synonyms").value = (s.groups || []).map((g) => g.join(", ")).join("\n");
    } catch (err) {
      fail(err);
    }
  }
  $("#kb-synonyms-save").addEventListener("click", async () => {
    const groups = $("#kb-synonyms").value.split("\n").map((l) => l.split(/[,，=]/).map((w) => w.trim()).filter(Boolean)).filter((g) => g.length > 1);
    try {
      await api().post("/api/kb/synonyms", { groups });
      toast(t("admin.saved"), "ok");
      await loadSynonyms();
    } catch (err) {
      fail(err);
    }
  });
  $("#kb-open").addEventListener("click", () => { dialog.showModal(); if (!editing) fill(null); loadList(); loadSynonyms(); });
  $("#kb-close").addEventListener("click", () => dialog.close());

  // --- beside a conversation -------------------------------------------------

  let suggestTimer = 0;
  let shownFor = "";
  return {
    /** suggest looks for articles matching the conversation's words. */
    suggest(id, text) {
      clearTimeout(suggestTimer);
      suggestTimer = setTimeout(async () => {
        let hits = [];
        try {
          hits = (await api().post("/api/kb/suggest", { text })).results || [];
        } catch {
          // nothing to suggest
        }
        shownFor = id;
        $("#kb-suggestions").replaceChildren(...hits.map((h) => el("li", { class: "kb-suggestion", dataset: { testid: "kb-suggestion", id: h.id } },
          el("strong", { text: h.title }),
          el("span", { class: "muted", text: h.snippet }),
          el("button", {
            type: "button", class: "link", dataset: { testid: "kb-insert" }, text: t("kb.insert"),
            on: { click: () => insert(`📄 ${h.title}\n${summary(h.snippet, 60)}\n${link(h.id)}`) },
          }))));
        show($("#kb-none"), hits.length === 0);
      }, 400);
    },
    /** seen lists the articles the employee read before asking. */
    async seen(ids) {
      const items = [];
      for (const id of ids || []) {
        try {
          const a = await api().get(`/api/kb/articles/${encodeURIComponent(id)}`);
          items.push(el("li", {}, el("button", { type: "button", class: "link", text: a.title, on: { click: () => { dialog.showModal(); open(id); } } })));
        } catch {
          items.push(el("li", { class: "muted", text: id }));
        }
      }
      $("#kb-seen").replaceChildren(...items);
      show($("#kb-seen-block"), items.length > 0);
    },
    /** saveAsArticle opens a new draft from a reply. */
    saveAsArticle(title, body, category) {
      dialog.showModal();
      fill({ title, body, category, tags: [] });
      loadList();
    },
    current: () => shownFor,
  };
}
