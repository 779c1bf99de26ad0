// The Progress page: every module's state and every milestone's result, with export and import of all work.
import { exportWork, download, parseBackup, restoreBackup, checkSize } from "./backup.js";
import { measured, resultVerdict } from "./criteria.js";
import { el, seconds, localDate, reportStorage } from "./ui.js";

const date = (iso) => (iso ? localDate(iso) : "");
const modulesCount = (n) => (n === 1 ? "the code of 1 module" : `the code of ${n} modules`);

export class ProgressPage {
  constructor(root, { course, state }) {
    Object.assign(this, { root, course, state });
    this.message = el("div", { class: "tt-notices", role: "status", "aria-live": "polite" });
    const storageNotices = el("div", { class: "tt-notices", "aria-live": "polite" });
    this.tables = el("div");
    // The file field stays hidden: the button opens it (the browser's own "Choose file" is no part of the page).
    const file = el("input", { type: "file", accept: ".json,application/json", class: "tt-import-file", hidden: true,
      tabindex: "-1", "aria-hidden": "true", onchange: () => this.importFile(file) });
    root.replaceChildren(
      el("div", { class: "tt-buttons" },
        el("button", { class: "md-button md-button--primary", type: "button", onclick: () => this.exportFile() },
          "Export all work"),
        el("button", { class: "md-button", type: "button", onclick: () => file.click() }, "Import a backup…"), file),
      this.message, storageNotices, this.tables);
    reportStorage(state.store, storageNotices);
    this.render();
    state.store.addEventListener("external-change", () => this.render());
  }

  /** `progress`: what the learner's progress holds for module `m`. */
  moduleState(m, progress) {
    const saved = this.state.code(m.id);
    if (progress.passed) return ["passed", `tests passing (${date(progress.passedAt)})`];
    if (saved || progress.started) {
      const run = progress.lastRun ? `, last run ${progress.lastRun.passed}/${progress.lastRun.total}` : "";
      return ["started", `started${run}`];
    }
    return ["not-started", "not started"];
  }

  /** A line per result the module's page saved (the capstone's submission): when, and what it says of itself. */
  savedResults(m, progress) {
    const saved = progress.results || {};
    return (m.results || []).filter((r) => saved[r.name]).map((r) => el("div", { "data-result": r.name },
      `${r.title} saved ${date(saved[r.name].at)} (${resultVerdict(saved[r.name].value)})`));
  }

  render() {
    const progress = this.state.progress(); // read once: each read parses the whole record from storage
    const rows = this.course.modules.map((m) => {
      const mine = progress.modules[m.id] || {};
      const [key, text] = this.moduleState(m, mine);
      return el("tr", { "data-module": m.id, "data-state": key }, el("td", {}, m.id),
        el("td", {}, el("a", { href: `${this.course.root}${m.url}` }, m.title)),
        el("td", {}, text, ...this.savedResults(m, mine)));
    });
    const results = progress.milestones;
    const describe = (m, r) => `${r.passed ? "reached" : r.stopped ? "stopped" : "not reached"}: ` +
      `${measured(m, r)} in ${seconds(r.seconds || 0)} (${date(r.at)})`;
    const milestones = this.course.milestones.map((m) => {
      const latest = results[m.id];
      const best = latest && (latest.best || latest);
      const cells = !latest ? [el("td", {}, "not run yet"), el("td", {}, "")] :
        [el("td", { class: "tt-best" }, describe(m, best)),
          el("td", { class: "tt-latest" }, best.at === latest.at ? "the same run" : describe(m, latest))];
      return el("tr", { "data-milestone": m.id, "data-state": best ? (best.passed ? "passed" : "not-passed") : "not-run" },
        el("td", {}, String(m.year)), el("td", {}, el("a", { href: `${this.course.root}${m.url}` }, m.title)),
        ...cells);
    });
    const done = rows.filter((row) => row.dataset.state === "passed").length;
    this.tables.replaceChildren(
      el("p", { class: "tt-summary" }, `${done} of ${this.course.modules.length} modules passing.`),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "#"), el("th", {}, "Module"), el("th", {}, "State"))),
        el("tbody", {}, ...rows)),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Year"), el("th", {}, "Milestone"),
        el("th", {}, "Your best result"), el("th", {}, "Your latest attempt"))), el("tbody", {}, ...milestones)));
  }

  say(text, kind) {
    this.message.replaceChildren(el("div", { class: `admonition ${kind}` }, el("p", {}, text)));
  }

  exportFile() {
    const backup = exportWork(this.state, this.course);
    download(`tinytorch-progress-${backup.exportedAt.slice(0, 10)}.json`, JSON.stringify(backup, null, 1));
    this.say(`Exported ${modulesCount(Object.keys(backup.modules).length)} and your progress.`, "success");
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
        `(${count === 1 ? "1 module" : `${count} modules`})?`)) return;
      restoreBackup(this.state, this.course, backup);
      this.say(`Imported ${modulesCount(count)} and the progress from ${file.name}.`, "success");
    } catch (error) {
      this.say(`Not imported: ${error.message}. Nothing was changed.`, "failure");
    }
    this.render();
  }
}
