// The reports (报表), for admins and team leads: a period and filters,
// the headline figures, three charts drawn here as SVG (volume and
// backlog by day, service levels met, ratings by score) with their
// numbers beside them, the tables, and each table as CSV from the server
// (GET /api/reports/{table}.csv: the same figures, defined once there).

import { $, el, setText } from "/shared/dom.js";

const svgNS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, ...kids) => {
  const n = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  for (const k of kids) if (k) n.append(k);
  return n;
};

/** bindReports wires the 报表 dialog. download(path, name) saves a file. */
export function bindReports({ api, i18n, toast, cats, download }) {
  const t = i18n.t;
  const dialog = $("#reports-dialog");
  let teams = [], agents = [];
  const dur = (s) => (s >= 3600 ? `${(s / 3600).toFixed(1)} ${t("reports.hours")}` : `${Math.round(s / 60)} ${t("reports.minutes")}`);

  const params = () => {
    const p = new URLSearchParams();
    for (const [k, id] of [["from", "#rep-from"], ["to", "#rep-to"], ["team", "#rep-team"], ["agent", "#rep-agent"], ["category", "#rep-category"], ["priority", "#rep-priority"]]) {
      if ($(id).value) p.set(k, $(id).value);
    }
    return p;
  };

  async function load() {
    let r;
    try {
      r = await api().get(`/api/reports?${params()}`);
    } catch (err) {
      toast(i18n.error(err), "error");
      return;
    }
    render(r);
    if (!$("#rep-to").value && r.days.length) {
      $("#rep-from").value = r.days[0].date;
      $("#rep-to").value = r.days[r.days.length - 1].date;
    }
    // The knowledge base's figures (admins): how often articles answered
    // before a person had to.
    const p = params();
    try {
      const k = await api().get(`/api/kb/stats?from=${p.get("from") || ""}&to=${p.get("to") || ""}`);
      $("#rep-kb").replaceChildren(el("h3", { text: t("reports.kb") }), el("div", { class: "report-stats" }, ...[
        ["reports.deflections", `${k.resolved} / ${k.deflections}`], ["reports.deflectionRate", `${Math.round(k.deflection_rate * 100)}%`],
        ["reports.views", k.views], ["reports.articlesViewed", k.articles_viewed], ["reports.helpedRatio", `${Math.round(k.helped_ratio * 100)}%`],
        // With an assistant configured: what it answered and what went on to a person.
        ...(k.assistant ? [["reports.botAnswered", k.assistant.answered], ["reports.botUnknown", k.assistant.unknown + k.assistant.failed],
          ["reports.botHandedOver", k.assistant.handed_over], ["reports.botDrafts", k.assistant.drafts]] : []),
      ].map(([key, v]) => el("div", { class: "stat", dataset: { testid: `kb-${key.split(".")[1]}` } }, el("span", { class: "muted", text: t(key) }), el("strong", { text: String(v) })))));
    } catch {
      $("#rep-kb").replaceChildren(); // team leads do not see these
    }
  }

  // volumeChart: created and resolved as bars per day, the backlog as a line.
  function volumeChart(days) {
    const w = 640, h = 180, pad = 24;
    const top = Math.max(1, ...days.map((d) => Math.max(d.created, d.resolved, d.backlog)));
    const step = (w - pad * 2) / Math.max(1, days.length);
    const y = (v) => h - pad - (v / top) * (h - pad * 2);
    const bars = days.flatMap((d, i) => [
      svg("rect", { class: "bar-created", x: pad + i * step + 1, y: y(d.created), width: Math.max(1, step / 2 - 1), height: h - pad - y(d.created) }),
      svg("rect", { class: "bar-resolved", x: pad + i * step + step / 2, y: y(d.resolved), width: Math.max(1, step / 2 - 1), height: h - pad - y(d.resolved) }),
    ]);
    const line = svg("polyline", { class: "line-backlog", fill: "none", points: days.map((d, i) => `${pad + i * step + step / 2},${y(d.backlog)}`).join(" ") });
    return svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": t("reports.volume"), "data-testid": "chart-volume" },
      svg("line", { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, class: "axis" }), ...bars, line,
      svg("text", { x: pad, y: 14, class: "chart-label" }, document.createTextNode(`${t("reports.max")} ${top}`)));
  }

  // barChart: one horizontal bar per row, its value written beside it.
  function barChart(rows, label) {
    const w = 640, rowH = 24, h = rows.length * rowH + 8;
    const top = Math.max(1, ...rows.map((r) => r.value));
    return svg("svg", { viewBox: `0 0 ${w} ${h}`, class: "chart", role: "img", "aria-label": label },
      ...rows.flatMap((r, i) => [
        svg("text", { x: 0, y: i * rowH + 17, class: "chart-label" }, document.createTextNode(r.label)),
        svg("rect", { class: "bar-created", x: 160, y: i * rowH + 4, width: Math.max(1, ((w - 240) * r.value) / top), height: rowH - 8 }),
        svg("text", { x: 168 + ((w - 240) * r.value) / top, y: i * rowH + 17, class: "chart-label" }, document.createTextNode(r.text)),
      ]));
  }

  function table(name, head, rows) {
    return el("section", { class: "report-table", dataset: { testid: `report-${name}` } },
      el("div", { class: "report-table-head" },
        el("h3", { text: t(`reports.table.${name}`) }),
        el("button", { type: "button", class: "link", dataset: { testid: `csv-${name}` }, text: t("reports.csv"),
          on: { click: () => download(`/api/reports/${name}.csv?${params()}`, `servicedesk-${name}.csv`) } })),
      el("table", { class: "admin-table" },
        el("thead", {}, el("tr", {}, ...head.map((x) => el("th", { text: x })))),
        el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((x) => el("td", { text: x })))))));
  }

  function render(r) {
    const s = r.satisfaction;
    $("#rep-summary").replaceChildren(...[
      ["reports.created", r.created], ["reports.resolved", r.resolved], ["reports.reopened", r.reopened],
      ["reports.firstResponse", r.first_response.count ? `${dur(r.first_response.median_seconds)} / ${dur(r.first_response.p90_seconds)}` : "—"],
      ["reports.resolution", r.resolution.count ? `${dur(r.resolution.median_seconds)} / ${dur(r.resolution.p90_seconds)}` : "—"],
      ["reports.csat", s.count ? `${s.average.toFixed(2)} (${s.count})` : "—"],
    ].map(([k, v]) => el("div", { class: "stat", dataset: { testid: `stat-${k.split(".")[1]}` } }, el("span", { class: "muted", text: t(k) }), el("strong", { text: String(v) }))));
    const kinds = { first_response: t("sla.kind.first_response"), next_response: t("sla.kind.next_response"), resolution: t("sla.kind.resolution") };
    $("#rep-charts").replaceChildren(
      el("h3", { text: t("reports.volume") }), volumeChart(r.days),
      el("p", { class: "muted legend" }, el("span", { class: "key key-created" }), t("reports.created"), " ", el("span", { class: "key key-resolved" }), t("reports.resolved"), " ", el("span", { class: "key key-backlog" }), t("reports.backlog")),
      el("h3", { text: t("reports.sla") }),
      barChart(r.sla.map((a) => ({ label: kinds[a.kind], value: a.rate * 100, text: a.met + a.breached ? `${Math.round(a.rate * 100)}% (${a.met}/${a.met + a.breached})` : "—" })), t("reports.sla")),
      el("h3", { text: t("reports.csatScores") }),
      barChart(s.scores.map((n, i) => ({ label: "★".repeat(i + 1), value: n, text: String(n) })), t("reports.csatScores")));
    $("#rep-tables").replaceChildren(
      table("days", [t("reports.date"), t("reports.created"), t("reports.resolved"), t("reports.reopened"), t("reports.withdrawn"), t("reports.backlog")],
        r.days.map((d) => [d.date, d.created, d.resolved, d.reopened, d.withdrawn, d.backlog])),
      table("agents", [t("admin.name"), t("reports.handled"), t("reports.firstResponses"), t("reports.medianResponse"), t("admin.ratings"), t("reports.csat")],
        r.agents.map((a) => [a.name || a.agent_id, a.handled, a.first_responses, a.first_responses ? dur(a.median_response_seconds) : "—", a.ratings, a.ratings ? a.csat.toFixed(2) : "—"])),
      table("sla", [t("reports.target"), t("reports.met"), t("reports.breached"), t("reports.rate")],
        r.sla.map((a) => [kinds[a.kind], a.met, a.breached, a.met + a.breached ? `${Math.round(a.rate * 100)}%` : "—"])),
      table("comments", [t("reports.date"), t("reports.score"), t("reports.comment")],
        s.comments.map((c) => [i18n.time(c.at), "★".repeat(c.score), c.comment])));
    setText($("#rep-rate"), s.count ? t("reports.responseRate", { rate: Math.round(s.response_rate * 100) }) : "");
  }

  $("#reports-open").addEventListener("click", async () => {
    try {
      [teams, agents] = await Promise.all([api().get("/api/teams").then((r) => r.teams), api().get("/api/agents").then((r) => r.agents)]);
    } catch {
      // the filters offer what they can
    }
    const opt = (v, text) => el("option", { value: v, text });
    $("#rep-team").replaceChildren(opt("", t("reports.allTeams")), ...teams.map((tm) => opt(tm.id, tm.name)));
    $("#rep-agent").replaceChildren(opt("", t("reports.allAgents")), ...agents.map((a) => opt(a.id, a.name || a.username)));
    $("#rep-category").replaceChildren(opt("", t("reports.allCategories")), ...cats.all().map((c) => opt(c.key, cats.name(c.key))));
    $("#rep-priority").replaceChildren(opt("", t("reports.allPriorities")), ...["low", "normal", "high", "urgent"].map((p) => opt(p, t(`priority.${p}`))));
    // The first time, the period is left to the server: its last 30 days
    // are the desk's days, in the desk's time zone, which the browser's
    // may not share (a date from the browser's clock can end before the
    // desk's today starts). load() then shows the dates it chose.
    dialog.showModal();
    load();
  });
  $("#reports-form").addEventListener("submit", (e) => { e.preventDefault(); load(); });
  $("#reports-close").addEventListener("click", () => dialog.close());
}
