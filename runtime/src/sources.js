// Which earlier modules a run takes from the learner and which from the reference implementation, and why: shown
// on the page and switchable per module. Used by module workbenches and milestone panels alike.
// By default a module's own code stands in only once it passed its tests exactly as saved (CourseState.sourceOf);
// an untouched starter or unfinished code never silently replaces the reference. The learner can still choose.
// Where the course withholds a module's reference (course.toml), the learner's code is all there is: no switch.
import { el } from "./ui.js";

const SHOWN = { mine: "yours", reference: "reference", missing: "missing" };

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
    const sources = this.modules.map((m) => [m, this.sourceOf(m)]);
    const items = sources.map(([m, { source, why }]) => {
      const other = source === "mine" ? "reference" : "mine";
      const toggle = m.reference === false ? null : el("button", { class: "tt-link", onclick: () => {
        this.state.chooseSource(m.id, other);
        this.render();
      }, disabled: other === "mine" && !this.state.code(m.id) }, other === "mine" ? "use mine" : "use the reference");
      return el("li", { "data-module": m.id, "data-source": source },
        el("a", { href: `${this.course.root}${m.url}` }, `${m.id} ${m.title}`), `: ${SHOWN[source]} (${why}) `, toggle);
    });
    const summary = sources.map(([m, { source }]) => `${m.id} ${SHOWN[source]}`);
    // Open when the learner has code the run does not use (they should not have to look for why), and open still
    // if they opened it or just chose in it.
    const unused = sources.some(([m, { source }]) => source === "reference" && this.state.code(m.id));
    const wasOpen = !!(this.container.querySelector("details.tt-sources") || {}).open;
    this.container.replaceChildren(el("details", { class: "tt-sources", open: unused || wasOpen },
      el("summary", {}, `${this.title}: `, el("span", { class: "tt-source-summary" }, summary.join(", "))),
      el("ul", {}, ...items)));
  }

  /** {source: "mine" | "reference" | "missing", why} for module `m`. */
  sourceOf(m) {
    if (m.reference !== false) return this.state.sourceOf(m.id);
    return this.state.code(m.id) ? { source: "mine", why: "this course ships no reference for it" }
      : { source: "missing", why: "not written yet, and this course ships no reference for it" };
  }

  /** The learner's files for the modules that use theirs, plus `current` (an editor's text) if given. */
  learnerFiles(current = {}) {
    const files = {};
    for (const m of this.modules) {
      const saved = this.state.code(m.id);
      if (saved && this.sourceOf(m).source === "mine") files[m.id] = saved.code;
    }
    return { ...files, ...current };
  }
}
