// The console's admin area, for agents with the admin role: the agents
// (add, rename, role, reset password, disable/enable), teams, categories
// business hours and, on desks with an AI assistant, the categories it
// answers first (admin-desk.js), satisfaction per agent and team
// over the last 30 days, and the audit log of what admins did.

import { $, $$, confirmAction, el, setText, show } from "/shared/dom.js";
import { bindDeskAdmin } from "./admin-desk.js";

/**
 * bindAdmin wires the 管理 dialog. api() returns the signed-in client's
 * API, me() the signed-in agent's id.
 */
export function bindAdmin({ api, me, i18n, toast, cats, assistant = () => false }) {
  const t = i18n.t;
  const desk = bindDeskAdmin({ api, i18n, toast, cats });
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
        el("td", { text: a.wecom_userid || "—" }),
        el("td", {}, role),
        el("td", { text: t(a.disabled ? "admin.disabled" : "admin.enabled") }),
        el("td", { class: "admin-actions" },
          el("button", { type: "button", class: "link", text: t("admin.rename"), on: { click: () => { editing = { id: a.id, what: "name" }; renderAgents(); } } }),
          el("button", { type: "button", class: "link", text: t("admin.resetPassword"), on: { click: () => { editing = { id: a.id, what: "password" }; renderAgents(); } } }),
          el("button", { type: "button", class: "link", text: t("admin.setWeCom"), on: { click: () => { editing = { id: a.id, what: "wecom_userid" }; renderAgents(); } } }),
          self ? null : el("button", {
            type: "button", class: `link${a.disabled ? "" : " link-danger"}`, dataset: { testid: "admin-toggle" },
            text: t(a.disabled ? "admin.enable" : "admin.disable"), on: { click: () => change(a.id, { disabled: !a.disabled }) },
          })));
      if (!editing || editing.id !== a.id) return [row];
      const input = el("input", {
        class: "tag-input", type: editing.what === "password" ? "password" : "text",
        placeholder: t({ password: "admin.newPassword", name: "admin.newName", wecom_userid: "admin.newWeCom" }[editing.what]),
        value: editing.what === "name" ? a.name : editing.what === "wecom_userid" ? a.wecom_userid || "" : null, autocomplete: "off",
      });
      const save = () => change(a.id, { [editing.what]: input.value });
      input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); save(); } });
      const form = el("tr", { class: "admin-edit" }, el("td", { colspan: "6" },
        el("div", { class: "canned-form-row" }, input,
          el("button", { type: "button", class: "btn btn-primary btn-small", text: t("canned.save"), on: { click: save } }),
          el("button", { type: "button", class: "btn btn-small", text: t("confirm.cancel"), on: { click: () => { editing = null; renderAgents(); } } }))));
      setTimeout(() => input.focus());
      return [row, form];
    }));
  }

  async function loadCsat() {
    try {
      const [st, teamList] = await Promise.all([api().get("/api/csat"), api().get("/api/teams").then((r) => r.teams)]);
      const teamName = (id) => (teamList.find((tm) => tm.id === id) || { name: id }).name;
      $("#admin-csat-teams").replaceChildren(...(st.teams || []).map((tr) => el("tr", { dataset: { testid: "csat-team" } },
        el("td", { text: teamName(tr.team_id) }),
        el("td", { text: tr.count }),
        el("td", { text: tr.average.toFixed(2) }),
        el("td", { text: tr.scores.join(" / ") }))));
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

  // --- teams ---------------------------------------------------------------

  let teams = [];
  let editingTeam = null;
  // The tab needs three lists (teams; agents for the lead and member boxes;
  // categories). One request lost on a busy server used to leave the form
  // without boxes, a toast the only sign, until the tab was opened again.
  // So each list is kept as it arrives, the tab shows what it has, and what
  // is missing is asked for again after these pauses (ms); only a list still
  // missing after the last, or refused for good (403), is reported.
  const teamRetryPauses = [300, 1000, 2500];
  let teamsLoad = 0; // bumped by each load, so an older one stops retrying

  async function loadTeams() {
    const load = ++teamsLoad;
    const lists = {
      teams: async () => { const r = await api().get("/api/teams"); if (load === teamsLoad) teams = r.teams; },
      agents: async () => { const r = await api().get("/api/staff"); if (load === teamsLoad) agents = r.agents; },
      categories: async () => { const err = await cats.load(api()); if (err) throw err; },
    };
    let missing = Object.keys(lists);
    for (let attempt = 0; ; attempt++) {
      const results = await Promise.allSettled(missing.map((name) => lists[name]()));
      if (load !== teamsLoad) return;
      const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason);
      missing = missing.filter((_, i) => results[i].status === "rejected");
      // Later rounds keep the boxes an admin may have ticked meanwhile.
      renderTeams(attempt > 0);
      if (!errors.length) return;
      // An ApiError says whether trying again may help; anything else may.
      if (attempt === teamRetryPauses.length || errors.some((err) => err.retryable === false)) {
        fail(errors[0]);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, teamRetryPauses[attempt]));
      if (load !== teamsLoad) return;
    }
  }

  /**
   * renderTeams shows the teams and fills the form from the team being
   * edited (none: a new team); with keepTicks, the boxes and lead already
   * on screen keep what the admin chose there.
   */
  function renderTeams(keepTicks = false) {
    const name = (id) => (agents.find((a) => a.id === id) || { name: id }).name;
    $("#admin-team-rows").replaceChildren(...teams.map((tm) => el("li", { class: "canned-row", dataset: { testid: "admin-team", id: tm.id } },
      el("div", { class: "canned-row-main" },
        el("strong", { text: tm.name }),
        el("span", { class: "muted", text: t("admin.teamSummary", {
          routing: t(`admin.routing.${tm.routing}`), capacity: tm.capacity, members: tm.members.length,
          categories: tm.categories.map((c) => cats.name(c)).join(t("list.sep")) || "—",
        }) }),
        el("span", { class: "muted", text: tm.members.map(name).join(t("list.sep")) })),
      el("div", { class: "canned-row-actions" },
        el("button", { type: "button", class: "link", text: t("canned.edit"), on: { click: () => editTeam(tm) } }),
        el("button", { type: "button", class: "link link-danger", text: t("canned.delete"), on: { click: () => deleteTeam(tm) } })))));
    const chosen = editingTeam || { members: [], categories: [] };
    const ticked = (box, from) => {
      const keys = new Set(from);
      if (keepTicks) for (const i of $$(`${box} input`)) keys[i.checked ? "add" : "delete"](i.value);
      return keys;
    };
    const members = ticked("#team-members", chosen.members);
    const categories = ticked("#team-categories", chosen.categories);
    const lead = $("#team-lead");
    // Only a list of agents was a choice; the lone "no lead" option was not.
    const leadID = keepTicks && lead.options.length > 1 ? lead.value : chosen.lead_id || "";
    lead.replaceChildren(el("option", { value: "", text: t("admin.noLead") }),
      ...agents.filter((a) => !a.disabled).map((a) => el("option", { value: a.id, text: a.name || a.username })));
    lead.value = leadID;
    $("#team-members").replaceChildren(...agents.filter((a) => !a.disabled).map((a) => el("label", { class: "check" },
      el("input", { type: "checkbox", value: a.id, checked: members.has(a.id) }), ` ${a.name}`)));
    // Active categories, and retired ones the team still answers.
    const offered = cats.all().filter((c) => c.active || chosen.categories.includes(c.key));
    $("#team-categories").replaceChildren(...offered.map((c) => el("label", { class: "check" },
      el("input", { type: "checkbox", value: c.key, checked: categories.has(c.key) }), ` ${cats.name(c.key)}`)));
  }

  function editTeam(tm) {
    editingTeam = tm;
    $("#team-name").value = tm ? tm.name : "";
    $("#team-routing").value = tm ? tm.routing : "manual";
    $("#team-capacity").value = tm ? tm.capacity : 5;
    setText($("#team-form-title"), t(tm ? "admin.editTeam" : "admin.newTeam"));
    show($("#team-cancel"), Boolean(tm));
    renderTeams();
  }

  async function deleteTeam(tm) {
    if (!(await confirmAction(t("admin.confirmDeleteTeam", { name: tm.name })))) return;
    try {
      await api().del(`/api/teams/${encodeURIComponent(tm.id)}`);
      if (editingTeam && editingTeam.id === tm.id) editTeam(null);
      await loadTeams();
    } catch (err) {
      fail(err);
    }
  }

  $("#admin-team-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const picked = (box) => $$(`${box} input:checked`).map((i) => i.value);
    const body = {
      name: $("#team-name").value, routing: $("#team-routing").value, capacity: Number($("#team-capacity").value),
      members: picked("#team-members"), categories: picked("#team-categories"), lead_id: $("#team-lead").value,
    };
    try {
      await api().post(editingTeam ? `/api/teams/${encodeURIComponent(editingTeam.id)}` : "/api/teams", body);
      toast(t("admin.saved"), "ok");
      editTeam(null);
      await loadTeams();
    } catch (err) {
      fail(err);
    }
  });
  $("#team-cancel").addEventListener("click", () => editTeam(null));

  function selectTab(name) {
    for (const b of $$("[data-admin-tab]")) b.classList.toggle("active", b.dataset.adminTab === name);
    for (const n of ["agents", "teams", "categories", "hours", "assistant", "sla", "csat", "audit"]) show($(`#admin-${n}`), n === name);
    ({ agents: loadAgents, teams: loadTeams, categories: desk.loadCategories, hours: desk.loadHours, assistant: desk.loadAssistant, sla: desk.loadSLA, csat: loadCsat, audit: loadAudit })[name]();
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
    show($("[data-admin-tab=assistant]"), assistant());
    selectTab("agents");
    dialog.showModal();
  });
  $("#admin-close").addEventListener("click", () => dialog.close());
  i18n.onChange(() => { if (dialog.open) renderAgents(); });
}
