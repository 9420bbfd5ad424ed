// The console's admin area, for agents with the admin role: the agents
// (add, rename, role, reset password, disable/enable), satisfaction per
// agent over the last 30 days, and the audit log of what admins did.

import { $, $$, el, setText, show } from "/shared/dom.js";

/**
 * bindAdmin wires the 管理 dialog. api() returns the signed-in client's
 * API, me() the signed-in agent's id.
 */
export function bindAdmin({ api, me, i18n, toast }) {
  const t = i18n.t;
  const dialog = $("#admin-dialog");
  let agents = [];
  let editing = null; // {id, what: "name" | "password"}

  const fail = (err) => toast(i18n.error(err), "error");

  async function loadAgents() {
    try {
      agents = (await api().get("/api/staff")).agents;
    } catch (err) {
      fail(err);
    }
    renderAgents();
  }

  async function change(id, body) {
    try {
      await api().post(`/api/staff/${encodeURIComponent(id)}`, body);
      toast(t("admin.saved"), "ok");
      editing = null;
      await loadAgents();
    } catch (err) {
      fail(err);
    }
  }

  function renderAgents() {
    $("#admin-agent-rows").replaceChildren(...agents.flatMap((a) => {
      const self = a.id === me();
      const role = el("select", { class: "select", disabled: self, "aria-label": t("admin.role"), on: { change: (e) => change(a.id, { role: e.target.value }) } },
        el("option", { value: "agent", text: t("admin.role.agent") }),
        el("option", { value: "admin", text: t("admin.role.admin") }));
      role.value = a.role;
      const row = el("tr", { dataset: { testid: "admin-agent", id: a.id }, class: a.disabled ? "row-disabled" : "" },
        el("td", { text: a.name }),
        el("td", { text: a.username }),
        el("td", {}, role),
        el("td", { text: t(a.disabled ? "admin.disabled" : "admin.enabled") }),
        el("td", { class: "admin-actions" },
          el("button", { type: "button", class: "link", text: t("admin.rename"), on: { click: () => { editing = { id: a.id, what: "name" }; renderAgents(); } } }),
          el("button", { type: "button", class: "link", text: t("admin.resetPassword"), on: { click: () => { editing = { id: a.id, what: "password" }; renderAgents(); } } }),
          self ? null : el("button", {
            type: "button", class: `link${a.disabled ? "" : " link-danger"}`, dataset: { testid: "admin-toggle" },
            text: t(a.disabled ? "admin.enable" : "admin.disable"), on: { click: () => change(a.id, { disabled: !a.disabled }) },
          })));
      if (!editing || editing.id !== a.id) return [row];
      const input = el("input", {
        class: "tag-input", type: editing.what === "password" ? "password" : "text",
        placeholder: t(editing.what === "password" ? "admin.newPassword" : "admin.newName"),
        value: editing.what === "name" ? a.name : null, autocomplete: "off",
      });
      const save = () => change(a.id, { [editing.what]: input.value });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); save(); } });
      const form = el("tr", { class: "admin-edit" }, el("td", { colspan: "5" },
        el("div", { class: "canned-form-row" }, input,
          el("button", { type: "button", class: "btn btn-primary btn-small", text: t("canned.save"), on: { click: save } }),
          el("button", { type: "button", class: "btn btn-small", text: t("confirm.cancel"), on: { click: () => { editing = null; renderAgents(); } } }))));
      setTimeout(() => input.focus());
      return [row, form];
    }));
  }

  async function loadCsat() {
    try {
      const st = await api().get("/api/csat");
      setText($("#admin-csat-summary"), t("admin.csatSummary", {
        count: st.overall.count, avg: st.overall.average.toFixed(2), rate: Math.round(st.response_rate * 100), resolved: st.resolved,
      }));
      $("#admin-csat-rows").replaceChildren(...st.agents.map((a) => el("tr", {},
        el("td", { text: a.name || a.agent_id }),
        el("td", { text: a.count }),
        el("td", { text: a.average.toFixed(2) }),
        el("td", { text: a.scores.join(" / ") }))));
    } catch (err) {
      fail(err);
    }
  }

  async function loadAudit() {
    try {
      const { entries } = await api().get("/api/audit?limit=100");
      $("#admin-audit-rows").replaceChildren(...entries.map((e) => el("li", { class: "audit-entry", dataset: { testid: "audit-entry" } },
        el("time", { class: "muted", text: i18n.time(e.at) }),
        el("span", { class: "audit-what", text: `${e.actor_id} · ${e.action} · ${e.target}` }),
        e.after ? el("code", { class: "audit-json", text: JSON.stringify(e.after) }) : null)));
    } catch (err) {
      fail(err);
    }
  }

  function selectTab(name) {
    for (const b of $$("[data-admin-tab]")) b.classList.toggle("active", b.dataset.adminTab === name);
    for (const n of ["agents", "csat", "audit"]) show($(`#admin-${n}`), n === name);
    ({ agents: loadAgents, csat: loadCsat, audit: loadAudit })[name]();
  }
  for (const b of $$("[data-admin-tab]")) b.addEventListener("click", () => selectTab(b.dataset.adminTab));

  $("#admin-new-agent").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      username: $("#new-agent-username").value, name: $("#new-agent-name").value,
      password: $("#new-agent-password").value, role: $("#new-agent-role").value,
    };
    try {
      const m = await api().post("/api/staff", body);
      toast(t("admin.created", { name: m.name }), "ok");
      for (const id of ["#new-agent-username", "#new-agent-name", "#new-agent-password"]) $(id).value = "";
      await loadAgents();
    } catch (err) {
      fail(err);
    }
  });
  $("#admin-open").addEventListener("click", () => {
    editing = null;
    selectTab("agents");
    dialog.showModal();
  });
  $("#admin-close").addEventListener("click", () => dialog.close());
  i18n.onChange(() => { if (dialog.open) renderAgents(); });
}
