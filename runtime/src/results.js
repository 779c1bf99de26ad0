// JSON results a module's page saves to the learner's progress (tinytorch_wasm.results; the capstone's submission).
// Python sends one as a "result" event; it is checked against the schema its module declares (course.json carries
// it: the very file the grader reads, with @cfworker/json-schema here, jsonschema there) and kept in
// progress.modules[id].results[name], so the export file carries it. A value the schema refuses is not kept: the
// page says where it is wrong, and any earlier saved one stays.
import { Validator } from "@cfworker/json-schema";
import { resultVerdict } from "./criteria.js";
import { el } from "./ui.js";

const validators = new Map(); // result name -> compiled schema

/** [] when `value` follows the declared result's schema, else one "at where: what" line per problem. */
export function resultProblems(declared, value) {
  if (!validators.has(declared.name)) validators.set(declared.name, new Validator(declared.schema, "2020-12", false));
  const checked = validators.get(declared.name).validate(value);
  if (checked.valid) return [];
  // cfworker reports each failing keyword up the tree; the deepest ones say what is really wrong.
  const depth = Math.max(...checked.errors.map((e) => e.instanceLocation.length));
  return checked.errors.filter((e) => e.instanceLocation.length === depth)
    .map((e) => `at ${e.instanceLocation.replace(/^#\/?/, "") || "the top level"}: ${e.error}`);
}

/** Keep every result Python sends through `runtime`, on any page; tells `target` ("saved" / "refused" events). */
export function listenForResults(runtime, { course, state }, target = new EventTarget()) {
  runtime.addEventListener("python-event", ({ detail }) => {
    if (detail.kind !== "result") return;
    const { module: moduleId, name, title, value } = detail.payload;
    const module = course.modules.find((m) => m.id === moduleId);
    const declared = module && (module.results || []).find((r) => r.name === name);
    const refuse = (problems) => target.dispatchEvent(new CustomEvent("refused", { detail: { moduleId, name, title,
      problems } }));
    if (!declared) return refuse([`no module of this course declares a result named ${name}`]);
    const problems = resultProblems(declared, value);
    if (problems.length) return refuse(problems);
    const saved = (state.progress().modules[moduleId] || {}).results || {};
    const at = new Date().toISOString();
    const stored = state.updateModule(moduleId, { results: { ...saved, [name]: { value, at } } });
    target.dispatchEvent(new CustomEvent("saved", { detail: { moduleId, name, title, value, at, stored } }));
  });
  return target;
}

/** One line per result a module's page declares: saved (when, whether it says every budget was met) or not yet,
 * and why the last one sent was refused. */
export class ResultNotice {
  constructor(container, { module, state, events }) {
    Object.assign(this, { module, state });
    this.node = el("div", { class: "tt-results", role: "status" });
    container.append(this.node);
    this.refused = new Map();
    events.addEventListener("saved", ({ detail }) => { this.refused.delete(detail.name); this.render(detail); });
    events.addEventListener("refused", ({ detail }) => { this.refused.set(detail.name, detail.problems); this.render(); });
    this.render();
  }

  render(latest = null) {
    const saved = (this.state.progress().modules[this.module.id] || {}).results || {};
    this.node.replaceChildren(...this.module.results.map((r) => {
      const problems = this.refused.get(r.name);
      if (problems) {
        return el("p", { class: "admonition failure", "data-result": r.name, "data-state": "refused" },
          `${r.title} not saved: it does not follow ${r.schemaFile} (${problems.slice(0, 3).join("; ")}).` +
          (saved[r.name] ? " Your earlier one is kept." : ""));
      }
      const record = saved[r.name];
      if (!record) return el("p", { "data-result": r.name, "data-state": "missing" }, `${r.title}: none saved yet.`);
      const verdict = resultVerdict(record.value);
      const unsaved = latest && latest.name === r.name && !latest.stored;
      return el("p", { "data-result": r.name, "data-state": unsaved ? "memory" : "saved",
        class: unsaved ? "admonition warning" : "" },
      unsaved ? `${r.title} could not be stored: this browser's storage is full or disabled.`
        : `${r.title}: saved in your progress ${new Date(record.at).toLocaleString()} (${verdict}); ` +
          "it goes into your export file, and the grader runs it again to check it.");
    }));
  }
}
