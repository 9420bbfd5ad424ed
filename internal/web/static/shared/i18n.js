// Translation helpers. Each page keeps its strings in one file
// ({ "zh-CN": {...}, en: {...} }); this module picks the language, looks
// keys up and fills the static page from data-i18n attributes.

const storageKey = "servicedesk.lang";
const defaultLang = "zh-CN";

/**
 * createI18n returns the page's translator. A string may hold {name}
 * placeholders; a function gets the params object.
 */
export function createI18n(strings) {
  let lang = strings[localStorage.getItem(storageKey)] ? localStorage.getItem(storageKey) : defaultLang;
  const listeners = [];

  function t(key, params = {}) {
    const value = strings[lang][key] ?? strings[defaultLang][key];
    if (value === undefined) return key;
    if (typeof value === "function") return value(params);
    return value.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  }

  // apply fills every element marked with data-i18n (its text) and
  // data-i18n-placeholder / -title / -aria-label (those attributes).
  function apply(root = document) {
    document.documentElement.lang = lang;
    for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const attr of ["placeholder", "title", "aria-label"]) {
      const data = "i18n" + attr.split("-").map((p) => p[0].toUpperCase() + p.slice(1)).join("");
      for (const node of root.querySelectorAll(`[data-i18n-${attr}]`)) node.setAttribute(attr, t(node.dataset[data]));
    }
  }

  function setLang(next) {
    if (!strings[next] || next === lang) return;
    lang = next;
    localStorage.setItem(storageKey, lang);
    apply();
    for (const fn of listeners) fn(lang);
  }

  const locale = () => (lang === "en" ? "en-US" : "zh-CN");
  const timeFmt = () => new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", hour12: false });
  const dateFmt = () => new Intl.DateTimeFormat(locale(), { month: "short", day: "numeric" });

  return {
    t,
    apply,
    get lang() { return lang; },
    setLang,
    toggle: () => setLang(lang === "en" ? "zh-CN" : "en"),
    onChange: (fn) => listeners.push(fn),
    /** time formats a timestamp as HH:MM today, or with its date otherwise. */
    time(iso) {
      if (!iso) return "";
      const d = new Date(iso);
      const today = new Date().toDateString() === d.toDateString();
      return today ? timeFmt().format(d) : `${dateFmt().format(d)} ${timeFmt().format(d)}`;
    },
    /**
     * error words a failure from the server or the network for the reader:
     * by its protocol code (err.{code}), never the server's English text.
     */
    error(err) {
      if (!err) return t("err.other");
      if (err.network || err.status === 0) return t("err.network");
      const code = err.code === "internal_error" ? "internal" : err.code;
      const key = `err.${code}`;
      return code && t(key) !== key ? t(key) : t("err.other");
    },
    /** since formats the time elapsed since iso with the page's duration strings. */
    since(iso, now = Date.now()) {
      const secs = Math.max(0, Math.floor((now - new Date(iso).getTime()) / 1000));
      if (secs < 60) return t("duration.seconds", { n: secs });
      const mins = Math.floor(secs / 60);
      if (mins < 60) return t("duration.minutes", { n: mins });
      const hours = Math.floor(mins / 60);
      if (hours < 24) return t("duration.hours", { h: hours, m: mins % 60 });
      return t("duration.days", { n: Math.floor(hours / 24) });
    },
  };
}

/** bindLangToggle wires #lang-toggle (or the given button) to i18n. */
export function bindLangToggle(i18n, button = document.getElementById("lang-toggle")) {
  button.addEventListener("click", () => i18n.toggle());
}
