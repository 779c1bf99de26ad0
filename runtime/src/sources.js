// Which earlier modules a run takes from the learner and which from the reference implementation, shown on the
// page and switchable per module. Used by module workbenches and milestone panels alike.
import { el } from "./ui.js";

export class SourcePicker {
  constructor(container, { modules, course, state, title }) {
    Object.assign(this, { container, modules, course, state, title });
    this.render();
  }

  render() {
    if (this.modules.length === 0) {
      this.container.replaceChildren();
      return;
    }
    const items = this.modules.map((m) => {
      const source = this.source(m);
      const passing = (this.state.progress().modules[m.id] || {}).passed;
      const label = source === "mine" ? (passing ? "yours (tests passing)" : "yours (tests not passing yet)")
        : source === "missing" ? "not written yet (this course has no reference for it)" : "reference implementation";
      // Where the course withholds the reference there is nothing to switch to.
      const toggle = m.reference === false ? null : el("button", { class: "tt-link", onclick: () => {
        this.state.updateModule(m.id, { source: source === "mine" ? "reference" : "mine" });
        this.render();
      }, disabled: source === "reference" && !this.state.code(m.id) }, source === "mine" ? "use reference" : "use mine");
      return el("li", { "data-module": m.id, "data-source": source },
        el("a", { href: `${this.course.root}${m.url}` }, `${m.id} ${m.title}`), `: ${label} `, toggle);
    });
    const summary = this.modules.map((m) => `${m.id} ${{ mine: "yours", missing: "missing" }[this.source(m)] ||
      "reference"}`);
    this.container.replaceChildren(el("details", { class: "tt-sources" },
      el("summary", {}, `${this.title}: `, el("span", { class: "tt-source-summary" }, summary.join(", "))),
      el("ul", {}, ...items)));
  }

  /** "mine" or "reference" as chosen; where the course withholds the reference, "mine" or "missing". */
  source(m) {
    if (m.reference === false) return this.state.code(m.id) ? "mine" : "missing";
    return this.state.source(m.id);
  }

  /** The learner's files for the modules they chose to use, plus `current` (an editor's text) if given. */
  learnerFiles(current = {}) {
    const files = {};
    for (const m of this.modules) {
      const saved = this.state.code(m.id);
      if (saved && this.source(m) === "mine") files[m.id] = saved.code;
    }
    return { ...files, ...current };
  }
}
