// Canned replies in the console: "/" at the start of the composer opens a
// list to pick from by keyboard (arrows, Enter, Esc) or mouse; the reply's
// variables are filled in as it is inserted. The 快捷回复 dialog lists,
// adds, edits and deletes them: personal ones for everyone, shared ones
// for admins.

import { $, confirmAction, el, setText, show } from "/shared/dom.js";

/** fill replaces {{employee.name}}, {{agent.name}}, {{conversation.ref}}. */
export function fill(body, vars) {
  return body.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (m, key) => (key in vars ? vars[key] : m));
}

/**
 * bindCanned wires the picker to the composer and the dialog to its
 * button. api() returns the signed-in client's API (or null), vars() the
 * open conversation's variables, isAdmin() whether shared replies may be
 * changed. It returns { reload }.
 */
export function bindCanned({ api, vars, isAdmin, i18n, toast }) {
  const t = i18n.t;
  const input = $("#composer-input");
  const picker = $("#canned-picker");
  let replies = [];
  let teams = []; // for shared replies kept to one team
  let shown = [];
  let at = 0;

  const reload = async () => {
    const a = api();
    if (!a) return;
    try {
      [replies, teams] = await Promise.all([a.get("/api/canned").then((r) => r.replies), a.get("/api/teams").then((r) => r.teams)]);
    } catch {
      // the picker stays with what it had
    }
    renderManager();
  };

  // --- the picker ---------------------------------------------------------

  const query = () => {
    const v = input.value;
    return v.startsWith("/") && !v.includes("\n") ? v.slice(1).trim().toLowerCase() : null;
  };
  const close = () => {
    picker.hidden = true;
    shown = [];
  };
  const render = () => {
    const q = query();
    if (q === null || input.disabled) return close();
    shown = replies.filter((r) => !q || r.title.toLowerCase().includes(q) || r.body.toLowerCase().includes(q)).slice(0, 8);
    at = Math.min(at, Math.max(0, shown.length - 1));
    picker.replaceChildren(...(shown.length ? shown.map((r, i) => el("li", {
      class: `canned-option${i === at ? " active" : ""}`, role: "option", "aria-selected": i === at ? "true" : "false",
      dataset: { testid: "canned-option", id: r.id },
      on: { mousedown: (e) => { e.preventDefault(); choose(i); } },
    },
    el("span", { class: "canned-title", text: r.title }),
    el("span", { class: "canned-body", text: r.body.slice(0, 80) }))) : [el("li", { class: "canned-empty", text: t("canned.none") })]));
    picker.hidden = false;
  };
  const choose = (i) => {
    const r = shown[i];
    if (!r) return;
    input.value = fill(r.body, vars());
    input.dispatchEvent(new Event("input")); // the counter and typing see it
    close();
    input.focus();
  };
  input.addEventListener("input", () => { at = 0; render(); });
  input.addEventListener("blur", () => setTimeout(close, 100));
  // Capturing, so Enter picks a reply instead of sending "/vpn".
  input.addEventListener("keydown", (e) => {
    if (picker.hidden) return;
    const keys = { ArrowDown: 1, ArrowUp: -1 };
    if (e.key in keys) {
      at = (at + keys[e.key] + shown.length) % Math.max(1, shown.length);
      render();
    } else if (e.key === "Enter" || e.key === "Tab") {
      if (!shown.length) return;
      choose(at);
    } else if (e.key === "Escape") {
      close();
    } else {
      return;
    }
    e.preventDefault();
    e.stopImmediatePropagation();
  }, true);

  // --- the dialog ---------------------------------------------------------

  const dialog = $("#canned-dialog");
  const form = $("#canned-form");
  let editing = null; // the reply being edited, or null for a new one

  function renderManager() {
    $("#canned-list").replaceChildren(...replies.map((r) => {
      const mayChange = r.scope === "personal" || isAdmin();
      return el("li", { class: "canned-row", dataset: { testid: "canned-row", id: r.id } },
        el("div", { class: "canned-row-main" },
          el("span", { class: `badge canned-scope scope-${r.scope}`, text: r.team_id ? teamName(r.team_id) : t(`canned.scope.${r.scope}`) }),
          el("strong", { text: r.title }),
          el("p", { class: "canned-row-body", text: r.body })),
        mayChange ? el("div", { class: "canned-row-actions" },
          el("button", { type: "button", class: "link", text: t("canned.edit"), on: { click: () => edit(r) } }),
          el("button", { type: "button", class: "link link-danger", text: t("canned.delete"), on: { click: () => remove(r) } })) : null);
    }));
    show($("#canned-empty"), replies.length === 0);
    $("#canned-scope").disabled = Boolean(editing);
    $("#canned-scope-shared").disabled = !isAdmin();
    // A shared reply is the whole desk's or one team's.
    const team = $("#canned-team");
    const chosen = team.value;
    team.replaceChildren(el("option", { value: "", text: t("canned.everyTeam") }), ...teams.map((tm) => el("option", { value: tm.id, text: tm.name })));
    team.value = chosen;
    show(team, $("#canned-scope").value === "shared" && teams.length > 0);
  }
  const teamName = (id) => (teams.find((tm) => tm.id === id) || { name: t("canned.scope.shared") }).name;
  $("#canned-scope").addEventListener("change", () => renderManager());

  const edit = (r) => {
    editing = r;
    $("#canned-title").value = r ? r.title : "";
    $("#canned-body").value = r ? r.body : "";
    $("#canned-scope").value = r ? r.scope : "personal";
    $("#canned-team").value = (r && r.team_id) || "";
    setText($("#canned-submit"), t(r ? "canned.save" : "canned.add"));
    show($("#canned-cancel-edit"), Boolean(r));
    renderManager();
    $("#canned-title").focus();
  };

  const remove = async (r) => {
    if (!(await confirmAction(t("canned.confirmDelete", { title: r.title })))) return;
    try {
      await api().del(`/api/canned/${encodeURIComponent(r.id)}`);
      if (editing && editing.id === r.id) edit(null);
      await reload();
    } catch (err) {
      toast(i18n.error(err), "error");
    }
  };

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { title: $("#canned-title").value, body: $("#canned-body").value, scope: $("#canned-scope").value };
    if (body.scope === "shared") body.team_id = $("#canned-team").value;
    try {
      if (editing) await api().put(`/api/canned/${encodeURIComponent(editing.id)}`, body);
      else await api().post("/api/canned", body);
      edit(null);
      await reload();
    } catch (err) {
      toast(i18n.error(err), "error");
    }
  });
  $("#canned-cancel-edit").addEventListener("click", () => edit(null));
  $("#canned-open").addEventListener("click", () => {
    edit(null);
    reload();
    dialog.showModal();
  });
  $("#canned-close").addEventListener("click", () => dialog.close());
  i18n.onChange(renderManager);

  return { reload };
}
