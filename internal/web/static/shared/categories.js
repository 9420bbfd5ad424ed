// The desk's categories as admins named them (GET /api/categories), for
// both pages: names in the reader's language, each category's colour, and
// the active ones an employee may still choose. Until the list arrives, or
// for a key it does not hold, the built-in names stand in.

/** createCategories returns the list, empty until load is called. */
export function createCategories(i18n) {
  let list = [];
  const listeners = new Set();
  const byKey = (key) => list.find((c) => c.key === key);
  return {
    /**
     * load reads the list. A failure keeps what was there (the built-in
     * names serve) and is returned, for a caller that would try again;
     * null means the list loaded.
     */
    async load(api) {
      try {
        list = (await api.get("/api/categories")).categories || [];
      } catch (err) {
        return err;
      }
      for (const fn of listeners) fn();
      return null;
    },
    /** onChange calls fn after every load. */
    onChange(fn) { listeners.add(fn); },
    all: () => list.slice(),
    active: () => list.filter((c) => c.active),
    /** name is key's name in the current language. */
    name(key) {
      const c = byKey(key);
      if (c) return (i18n.lang === "en" && c.name_en) || c.name_zh;
      const builtIn = i18n.t(`cat.${key}`);
      return builtIn === `cat.${key}` ? key : builtIn;
    },
    color: (key) => (byKey(key) || {}).color || "",
    /** chip is a category's label, tinted with its colour. */
    chip(el, key) {
      const node = el("span", { class: "chip", text: this.name(key) });
      const color = this.color(key);
      // Through the CSSOM: the pages' CSP forbids style attributes.
      if (color) { node.style.borderColor = color; node.style.color = color; }
      return node;
    },
  };
}
