// The admin area's desk settings: the categories employees file requests
// under (names, colour, default priority, team, retired or not), the
// business hours, holidays and automatic replies, the categories the AI
// assistant answers first (both in GET/POST /api/settings), and the
// service-level policies (/api/sla/policies).

import { $, confirmAction, el, setText, show } from "/shared/dom.js";

const priorities = ["low", "normal", "high", "urgent"];
const noticeKinds = ["closed", "no_agents", "auto_resolve"];
const languages = ["zh-CN", "en"];
const clockKinds = ["first_response", "next_response", "resolution"];
const actions = ["notify_assignee", "notify_lead", "raise_priority", "requeue"];

/**
 * bindDeskAdmin wires the 分类 and 营业时间 tabs and returns their loaders.
 * cats is the shared category list, reloaded after every change so the
 * console's own labels follow at once.
 */
export function bindDeskAdmin({ api, i18n, toast, cats }) {
  const t = i18n.t;
  const fail = (err) => toast(i18n.error(err), "error");
  let teams = [];
  let editing = null; // the category being edited, or null for a new one

  // --- categories ----------------------------------------------------------

  async function loadCategories() {
    try {
      teams = (await api().get("/api/teams")).teams;
      await cats.load(api());
    } catch (err) {
      fail(err);
    }
    renderCategories();
  }

  function renderCategories() {
    const teamName = (id) => (teams.find((tm) => tm.id === id) || {}).name || t("admin.noTeam");
    $("#admin-category-rows").replaceChildren(...cats.all().map((c) => el("tr", { dataset: { testid: "admin-category", key: c.key }, class: c.active ? "" : "row-disabled" },
      el("td", {}, cats.chip(el, c.key), el("span", { class: "muted", text: ` ${c.key}` })),
      el("td", { text: c.name_en || "—" }),
      el("td", { text: c.default_priority ? t(`priority.${c.default_priority}`) : "—" }),
      el("td", { text: teamName(c.team_id) }),
      el("td", { text: t(c.active ? "admin.active" : "admin.retired") }),
      el("td", { class: "admin-actions" },
        el("button", { type: "button", class: "link", text: t("canned.edit"), on: { click: () => edit(c) } }),
        el("button", {
          type: "button", class: `link${c.active ? " link-danger" : ""}`, dataset: { testid: "category-toggle" },
          text: t(c.active ? "admin.retire" : "admin.restore"), on: { click: () => save({ ...c, active: !c.active }) },
        })))));
    $("#category-priority").replaceChildren(el("option", { value: "", text: t("admin.priorityNone") }),
      ...priorities.map((p) => el("option", { value: p, text: t(`priority.${p}`) })));
    $("#category-team").replaceChildren(el("option", { value: "", text: t("admin.noTeam") }),
      ...teams.map((tm) => el("option", { value: tm.id, text: tm.name })));
    fill(editing);
  }

  function fill(c) {
    $("#category-key").value = c ? c.key : "";
    $("#category-key").disabled = Boolean(c); // a key never changes
    $("#category-zh").value = c ? c.name_zh : "";
    $("#category-en").value = c ? c.name_en : "";
    $("#category-color").value = (c && c.color) || "#2563eb";
    $("#category-priority").value = c ? c.default_priority : "";
    $("#category-team").value = c ? c.team_id : "";
    $("#category-active").checked = c ? c.active : true;
    setText($("#category-form-title"), t(c ? "admin.editCategory" : "admin.newCategory"));
    show($("#category-cancel"), Boolean(c));
  }

  function edit(c) {
    editing = c;
    fill(c);
    $("#category-zh").focus();
  }

  async function save(c) {
    try {
      await api().post(`/api/categories/${encodeURIComponent(c.key)}`, c);
      toast(t("admin.saved"), "ok");
      editing = null;
      await loadCategories();
    } catch (err) {
      fail(err);
    }
  }

  $("#admin-category-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = editing ? editing.key : $("#category-key").value.trim();
    save({
      key, name_zh: $("#category-zh").value, name_en: $("#category-en").value, color: $("#category-color").value,
      default_priority: $("#category-priority").value, team_id: $("#category-team").value,
      active: $("#category-active").checked, position: editing ? editing.position : cats.all().length + 1,
    });
  });
  $("#category-cancel").addEventListener("click", () => edit(null));

  // --- business hours and automatic replies ----------------------------------

  const lines = (s) => s.split(/[\s,，]+/).map((x) => x.trim()).filter(Boolean);
  // The settings as last read: a tab saves its own fields over them, so
  // saving business hours keeps the assistant's switches and the reverse.
  let settings = null;

  async function loadSettings() {
    try {
      settings = await api().get("/api/settings");
      return settings;
    } catch (err) {
      fail(err);
      return null;
    }
  }

  async function saveSettings(fields, reload) {
    try {
      // Read again first: another admin may have saved meanwhile.
      const base = (await api().get("/api/settings")) || settings || {};
      await api().post("/api/settings", { ...base, ...fields });
      toast(t("admin.saved"), "ok");
      await reload();
    } catch (err) {
      fail(err);
    }
  }

  async function loadHours() {
    const s = await loadSettings();
    if (!s) return;
    $("#hours-enabled").checked = s.enabled;
    $("#hours-zone").value = s.time_zone;
    $("#hours-week").value = s.week;
    $("#hours-holidays").value = (s.holidays || []).join("\n");
    $("#hours-workdays").value = (s.workdays || []).join("\n");
    const notices = s.notices || {};
    $("#hours-notices").replaceChildren(...noticeKinds.map((kind) => el("fieldset", { class: "checks" },
      el("legend", { text: t(`admin.notice.${kind}`) }),
      ...languages.map((lang) => el("label", { class: "field" },
        el("span", { class: "muted", text: t(`admin.lang.${lang}`) }),
        el("textarea", { rows: "2", maxlength: "500", dataset: { kind, lang, testid: `notice-${kind}-${lang}` } }))))));
    for (const box of $("#hours-notices").querySelectorAll("textarea")) {
      box.value = (notices[box.dataset.kind] || {})[box.dataset.lang] || "";
    }
  }

  $("#admin-hours-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const notices = {};
    for (const box of $("#hours-notices").querySelectorAll("textarea")) {
      if (!box.value.trim()) continue;
      (notices[box.dataset.kind] ||= {})[box.dataset.lang] = box.value;
    }
    saveSettings({
      enabled: $("#hours-enabled").checked, time_zone: $("#hours-zone").value, week: $("#hours-week").value,
      holidays: lines($("#hours-holidays").value), workdays: lines($("#hours-workdays").value), notices,
    }, loadHours);
  });

  // --- the AI assistant's categories -------------------------------------------

  // A ticked category's new requests are answered by the assistant first;
  // the settings keep the others, as assistant_off.
  async function loadAssistant() {
    await cats.load(api());
    const s = await loadSettings();
    if (!s) return;
    const off = new Set(s.assistant_off || []);
    $("#assistant-categories").replaceChildren(...cats.all().map((c) => el("label", { class: `check${c.active ? "" : " muted"}` },
      el("input", { type: "checkbox", value: c.key, checked: !off.has(c.key), dataset: { testid: "assistant-category" } }),
      " ", cats.name(c.key), c.active ? null : ` (${t("admin.retired")})`)));
  }

  $("#admin-assistant-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const shown = [...$("#assistant-categories").querySelectorAll("input[type=checkbox]")];
    const listed = new Set(shown.map((box) => box.value));
    // Keys the list no longer shows stay as they were.
    const kept = ((settings && settings.assistant_off) || []).filter((k) => !listed.has(k));
    saveSettings({ assistant_off: [...kept, ...shown.filter((box) => !box.checked).map((box) => box.value)] }, loadAssistant);
  });

  // --- service levels --------------------------------------------------------

  let policies = [];
  let editingPolicy = null;
  const mins = (m) => (m ? (m % 60 ? `${m}${t("sla.m")}` : `${m / 60}${t("sla.h")}`) : "—");

  async function loadSLA() {
    try {
      [policies, teams] = await Promise.all([api().get("/api/sla/policies").then((r) => r.policies), api().get("/api/teams").then((r) => r.teams)]);
      await cats.load(api());
    } catch (err) {
      fail(err);
    }
    renderSLA();
  }

  function renderSLA() {
    const teamName = (id) => (teams.find((tm) => tm.id === id) || { name: id }).name;
    $("#admin-sla-rows").replaceChildren(...policies.map((p) => el("tr", { dataset: { testid: "admin-sla", id: p.id } },
      el("td", { text: p.name }),
      el("td", { text: t(`priority.${p.priority}`) }),
      el("td", { text: [p.category ? cats.name(p.category) : "", p.team_id ? teamName(p.team_id) : ""].filter(Boolean).join(" · ") || t("admin.slaAll") }),
      el("td", { text: t("admin.slaSummary", { first: mins(p.first_response_minutes), next: mins(p.next_response_minutes), res: mins(p.resolution_minutes) }) }),
      el("td", { class: "admin-actions" },
        el("button", { type: "button", class: "link", text: t("canned.edit"), on: { click: () => editPolicy(p) } }),
        el("button", { type: "button", class: "link link-danger", text: t("canned.delete"), on: { click: () => deletePolicy(p) } })))));
    $("#sla-priority").replaceChildren(...priorities.map((p) => el("option", { value: p, text: t(`priority.${p}`) })));
    $("#sla-category").replaceChildren(el("option", { value: "", text: t("admin.slaAll") }), ...cats.all().map((c) => el("option", { value: c.key, text: cats.name(c.key) })));
    $("#sla-team").replaceChildren(el("option", { value: "", text: t("admin.slaAll") }), ...teams.map((tm) => el("option", { value: tm.id, text: tm.name })));
    fillPolicy(editingPolicy);
  }

  function fillPolicy(p) {
    $("#sla-name").value = p ? p.name : "";
    $("#sla-priority").value = p ? p.priority : "normal";
    $("#sla-category").value = p ? p.category || "" : "";
    $("#sla-team").value = p ? p.team_id || "" : "";
    $("#sla-first").value = p ? p.first_response_minutes : "";
    $("#sla-next").value = p ? p.next_response_minutes : "";
    $("#sla-resolution").value = p ? p.resolution_minutes : "";
    $("#sla-business").checked = p ? p.business_hours : true;
    $("#sla-warn").value = Math.round((p ? p.warn_share : 0.75) * 100);
    $("#sla-escalations").replaceChildren(...((p && p.escalations) || []).map(escalationRow));
    setText($("#sla-form-title"), t(p ? "admin.editSla" : "admin.newSla"));
    show($("#sla-cancel"), Boolean(p));
  }

  // escalationRow is one escalation's line in the form: clock, minutes
  // from the due time, action.
  function escalationRow(e = { clock: "resolution", offset_minutes: 0, action: "notify_assignee" }) {
    const clock = el("select", { class: "select", dataset: { field: "clock" } }, ...clockKinds.map((k) => el("option", { value: k, text: t(`sla.kind.${k}`) })));
    const action = el("select", { class: "select", dataset: { field: "action" } }, ...actions.map((a) => el("option", { value: a, text: t(`admin.esc.${a}`) })));
    clock.value = e.clock;
    action.value = e.action;
    const row = el("div", { class: "canned-form-row", dataset: { testid: "sla-escalation" } }, clock,
      el("input", { class: "tag-input", type: "number", value: String(e.offset_minutes), title: t("admin.escOffset"), "aria-label": t("admin.escOffset"), dataset: { field: "offset" } }),
      action,
      el("button", { type: "button", class: "link link-danger", text: t("admin.remove"), on: { click: () => row.remove() } }));
    return row;
  }
  $("#sla-add-escalation").addEventListener("click", () => $("#sla-escalations").append(escalationRow()));

  function editPolicy(p) {
    editingPolicy = p;
    fillPolicy(p);
  }

  async function deletePolicy(p) {
    if (!(await confirmAction(t("admin.confirmDeleteSla", { name: p.name })))) return;
    try {
      await api().del(`/api/sla/policies/${encodeURIComponent(p.id)}`);
      if (editingPolicy && editingPolicy.id === p.id) editPolicy(null);
      await loadSLA();
    } catch (err) {
      fail(err);
    }
  }

  $("#admin-sla-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: $("#sla-name").value, priority: $("#sla-priority").value, category: $("#sla-category").value, team_id: $("#sla-team").value,
      first_response_minutes: Number($("#sla-first").value || 0), next_response_minutes: Number($("#sla-next").value || 0),
      resolution_minutes: Number($("#sla-resolution").value || 0), business_hours: $("#sla-business").checked,
      warn_share: Number($("#sla-warn").value || 75) / 100,
      escalations: [...$("#sla-escalations").children].map((row) => ({
        clock: row.querySelector("[data-field=clock]").value, action: row.querySelector("[data-field=action]").value,
        offset_minutes: Number(row.querySelector("[data-field=offset]").value || 0),
      })),
    };
    try {
      await api().post(editingPolicy ? `/api/sla/policies/${encodeURIComponent(editingPolicy.id)}` : "/api/sla/policies", body);
      toast(t("admin.saved"), "ok");
      editPolicy(null);
      await loadSLA();
    } catch (err) {
      fail(err);
    }
  });
  $("#sla-cancel").addEventListener("click", () => editPolicy(null));

  return { loadCategories, loadHours, loadAssistant, loadSLA };
}
