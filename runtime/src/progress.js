// The Progress page: every module's state and every milestone's result, with export and import of all work.
import { exportWork, download, parseBackup, restoreBackup, checkSize } from "./backup.js";
import { measured } from "./criteria.js";
import { el, seconds, reportStorage } from "./ui.js";

const date = (iso) => (iso ? new Date(iso).toLocaleDateString() : "");

export class ProgressPage {
  constructor(root, { course, state }) {
    Object.assign(this, { root, course, state });
    this.message = el("div", { class: "tt-notices", role: "status", "aria-live": "polite" });
    const storageNotices = el("div", { class: "tt-notices", "aria-live": "polite" });
    this.tables = el("div");
    const file = el("input", { type: "file", accept: ".json,application/json", class: "tt-import-file",
      "aria-label": "Import a course backup", onchange: () => this.importFile(file) });
    root.replaceChildren(
      el("div", { class: "tt-buttons" },
        el("button", { class: "md-button md-button--primary", onclick: () => this.exportFile() }, "Export all work"),
        el("label", { class: "md-button" }, "Import a backup… ", file)),
      this.message, storageNotices, this.tables);
    reportStorage(state.store, storageNotices);
    this.render();
    state.store.addEventListener("external-change", () => this.render());
  }

  moduleState(m) {
    const progress = this.state.progress().modules[m.id] || {};
    const saved = this.state.code(m.id);
    if (progress.passed) return ["passed", `tests passing (${date(progress.passedAt)})`];
    if (saved || progress.started) {
      const run = progress.lastRun ? `, last run ${progress.lastRun.passed}/${progress.lastRun.total}` : "";
      return ["started", `started${run}`];
    }
    return ["not-started", "not started"];
  }

  render() {
    const rows = this.course.modules.map((m) => {
      const [key, text] = this.moduleState(m);
      return el("tr", { "data-module": m.id, "data-state": key }, el("td", {}, m.id),
        el("td", {}, el("a", { href: `${this.course.root}${m.url}` }, m.title)), el("td", {}, text));
    });
    const results = this.state.progress().milestones;
    const milestones = this.course.milestones.map((m) => {
      const r = results[m.id];
      const text = !r ? "not run yet" : `${r.passed ? "reached" : r.stopped ? "stopped" : "not reached"}: ` +
        `${measured(m, r)} in ${seconds(r.seconds || 0)} (${date(r.at)})`;
      return el("tr", { "data-milestone": m.id, "data-state": r ? (r.passed ? "passed" : "not-passed") : "not-run" },
        el("td", {}, String(m.year)), el("td", {}, el("a", { href: `${this.course.root}${m.url}` }, m.title)),
        el("td", {}, text));
    });
    const done = this.course.modules.filter((m) => this.moduleState(m)[0] === "passed").length;
    this.tables.replaceChildren(
      el("p", { class: "tt-summary" }, `${done} of ${this.course.modules.length} modules passing.`),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "Module"), el("th", {}, "State"))),
        el("tbody", {}, ...rows)),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Year"), el("th", {}, "Milestone"),
        el("th", {}, "Your result"))), el("tbody", {}, ...milestones)));
  }

  say(text, kind) {
    this.message.replaceChildren(el("div", { class: `admonition ${kind}` }, el("p", {}, text)));
  }

  exportFile() {
    const backup = exportWork(this.state, this.course);
    download(`tinytorch-progress-${backup.exportedAt.slice(0, 10)}.json`, JSON.stringify(backup, null, 1));
    this.say(`Exported ${Object.keys(backup.modules).length} modules' code and your progress.`, "success");
  }

  async importFile(input) {
    const file = input.files[0];
    input.value = "";
    if (!file) return;
    try {
      checkSize(file.size); // before reading: a huge file must not be loaded into memory
      const backup = parseBackup(await file.text(), this.course);
      const count = Object.keys(backup.modules).length;
      if (!window.confirm(`Replace the work in this browser with the backup from ${date(backup.exportedAt)} ` +
        `(${count} modules)?`)) return;
      restoreBackup(this.state, this.course, backup);
      this.say(`Imported ${count} modules' code and the progress from ${file.name}.`, "success");
    } catch (error) {
      this.say(`Not imported: ${error.message}. Nothing was changed.`, "failure");
    }
    this.render();
  }
}
