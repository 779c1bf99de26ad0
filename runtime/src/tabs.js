// Tabs as the WAI-ARIA tabs pattern: one tab stop for the tab list (the selected tab), arrow keys, Home and End move
// between tabs, each panel labelled by its tab and reachable with Tab.
import { el } from "./ui.js";

let counter = 0;

export class Tabs {
  /** `labels`: [[key, label], ...]. `tablist` and `panels` are the nodes to place; `panel(key)` is a panel. */
  constructor(labels, { label }) {
    const prefix = `tt-tabs-${++counter}`;
    this.tablist = el("div", { class: "tt-tabs", role: "tablist", "aria-label": label });
    this.panels = el("div", { class: "tt-panels" });
    this.entries = {};
    for (const [key, text] of labels) {
      const tab = el("button", { role: "tab", class: "tt-tab", id: `${prefix}-${key}`, type: "button",
        "aria-controls": `${prefix}-${key}-panel`, "aria-selected": "false", tabindex: "-1",
        onclick: () => this.show(key) }, text);
      const panel = el("div", { role: "tabpanel", class: "tt-panel", id: `${prefix}-${key}-panel`, hidden: true,
        "aria-labelledby": tab.id, tabindex: "0" });
      this.tablist.append(tab);
      this.panels.append(panel);
      this.entries[key] = { tab, panel };
    }
    this.tablist.addEventListener("keydown", (event) => this.keydown(event));
  }

  panel(key) {
    return this.entries[key].panel;
  }

  show(key, { focus = false } = {}) {
    for (const [name, { tab, panel }] of Object.entries(this.entries)) {
      const selected = name === key;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      panel.hidden = !selected;
    }
    this.current = key;
    if (focus) this.entries[key].tab.focus();
  }

  keydown(event) {
    const keys = Object.keys(this.entries);
    const at = keys.indexOf(this.current);
    const next = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: keys.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    this.show(keys[(next + keys.length) % keys.length], { focus: true });
  }
}
