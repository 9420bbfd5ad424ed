// Service-level clocks in the console: a badge per conversation with the
// most pressing running clock (green, amber past its policy's warn share,
// red once breached; paused while pending), the "due soonest" order and
// the breached / due-within-an-hour filter. The server moves the clocks
// and says so with sla.updated events; between events the badges count
// down here.

import { el } from "/shared/dom.js";

/** createSLA returns the helpers, with the policies' warn shares once loaded. */
export function createSLA(i18n) {
  const t = i18n.t;
  let warnShare = new Map(); // policy id → share of the target that turns amber

  // pressing returns the clock that matters most now: a running one due
  // soonest (breached ones first), else a paused one.
  const pressing = (clocks) => {
    const live = (clocks || []).filter((c) => c.state === "running" && c.due_at);
    live.sort((a, b) => (b.breached - a.breached) || (new Date(a.due_at) - new Date(b.due_at)));
    return live[0] || (clocks || []).find((c) => c.state === "paused") || null;
  };
  const short = (ms) => {
    const m = Math.max(0, Math.round(Math.abs(ms) / 60000));
    return m >= 60 * 24 ? `${Math.floor(m / 1440)}${t("sla.d")}${Math.floor((m % 1440) / 60)}${t("sla.h")}`
      : m >= 60 ? `${Math.floor(m / 60)}${t("sla.h")}${m % 60}${t("sla.m")}` : `${m}${t("sla.m")}`;
  };
  return {
    async load(api) {
      try {
        const { policies } = await api.get("/api/sla/policies");
        warnShare = new Map(policies.map((p) => [p.id, p.warn_share || 0.75]));
      } catch {
        // default shares serve
      }
    },
    /** due is when the pressing clock falls due (ms), Infinity if none. */
    due(c) {
      const p = pressing(c.sla);
      return p && p.state === "running" ? new Date(p.due_at).getTime() : Infinity;
    },
    /** matches applies the list filter: "breached" or "soon" (due within an hour). */
    matches(c, filter) {
      if (!filter) return true;
      const p = pressing(c.sla);
      if (!p || p.state !== "running") return false;
      if (filter === "breached") return p.breached || new Date(p.due_at) <= Date.now();
      return !p.breached && new Date(p.due_at) - Date.now() <= 3600_000;
    },
    /** badge is the conversation's clock badge, or null without clocks. */
    badge(clocks) {
      const p = pressing(clocks);
      if (!p) return null;
      const label = t(`sla.kind.${p.kind}`);
      if (p.state === "paused") return el("span", { class: "sla sla-paused", dataset: { testid: "sla-badge", level: "paused" }, title: label, text: `${label} ${t("sla.paused")}` });
      const left = new Date(p.due_at).getTime() - Date.now();
      const used = (p.used_secs * 1000 + (p.target_secs * 1000 - p.used_secs * 1000 - left));
      const level = p.breached || left <= 0 ? "breached" : used >= (warnShare.get(p.policy_id) || 0.75) * p.target_secs * 1000 ? "warn" : "ok";
      const text = level === "breached" ? t("sla.over", { d: short(left) }) : t("sla.left", { d: short(left) });
      return el("span", { class: `sla sla-${level}`, dataset: { testid: "sla-badge", level, due: p.due_at }, title: label, text: `${label} ${text}` });
    },
    /** apply puts a clock from an sla.updated event into a clocks list. */
    apply(clocks, clock) {
      const out = (clocks || []).filter((c) => c.kind !== clock.kind);
      out.push(clock);
      return out;
    },
  };
}
