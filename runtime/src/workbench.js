// A module page's workbench: the learner's file in an editor, its buttons (Run, Run tests, Profile, Stop, Reset),
// a scratch cell, and the results. It knows nothing of Python beyond the requests PythonRuntime sends.
import { createEditor } from "./editor.js";
import { ChartBoard } from "./charts.js";
import { SourcePicker } from "./sources.js";
import { el, seconds, bytes, notice, reportStorage, OutputPanel, RuntimeStatus } from "./ui.js";

const SAVE_DELAY_MS = 400;
// A test run that never ends is stopped after this; ?test-time-limit=SECONDS in the URL shortens it for the browser
// tests of that very case.
const TEST_TIME_LIMIT_MS = 1000 * (Number(new URLSearchParams(location.search).get("test-time-limit")) || 60);

export class Workbench {
  constructor(root, { module, course, state, store, runtime }) {
    Object.assign(this, { root, module, course, state, store, runtime });
    this.render();
    this.restoreCode();
    this.watchRuntime();
    this.watchStorage();
  }

  // --- layout ---------------------------------------------------------------------------------------------
  render() {
    const m = this.module;
    this.status = new RuntimeStatus(this.runtime);
    this.saved = el("span", { class: "tt-saved", role: "status" });
    this.notices = el("div", { class: "tt-notices", "aria-live": "polite" });
    const sourceBox = el("div");
    const editorBox = el("div", { class: "tt-editor" });
    const scratchBox = el("div", { class: "tt-editor tt-scratch-editor" });
    this.buttons = {
      run: el("button", { class: "md-button md-button--primary", onclick: () => this.runFile(),
        title: "Run your file (Ctrl/Cmd+Enter)" }, "Run"),
      test: el("button", { class: "md-button md-button--primary", onclick: () => this.runTests() }, "Run tests"),
      profile: el("button", { class: "md-button", onclick: () => this.profile(),
        title: "Time and memory of the scratch cell, per function" }, "Profile"),
      stop: el("button", { class: "md-button", onclick: () => this.stop(), disabled: true }, "Stop"),
      reset: el("button", { class: "md-button", onclick: () => this.reset() }, "Reset"),
      scratch: el("button", { class: "md-button", onclick: () => this.runScratch() }, "Run scratch"),
    };
    const tabs = el("div", { class: "tt-tabs", role: "tablist" });
    const panels = el("div", { class: "tt-panels" });
    this.panels = {};
    for (const [key, label] of [["output", "Output"], ["tests", "Tests"], ["profile", "Profile"]]) {
      const tab = el("button", { role: "tab", class: "tt-tab", "aria-selected": "false",
        onclick: () => this.show(key) }, label);
      const panel = el("div", { role: "tabpanel", class: "tt-panel", hidden: true, "aria-label": label });
      tabs.append(tab);
      panels.append(panel);
      this.panels[key] = { tab, panel };
    }
    this.output = new OutputPanel(this.panels.output.panel);
    this.charts = new ChartBoard(el("div", { class: "tt-charts" }));
    this.panels.output.panel.append(this.charts.container);
    this.testSummary = el("p", { class: "tt-summary", role: "status" }, "No test run yet.");
    this.testList = el("div", { class: "tt-test-list" });
    this.panels.tests.panel.append(this.testSummary, this.testList);
    this.profileView = el("div", {}, el("p", {}, "Profile runs the scratch cell and shows where time and memory go."));
    this.panels.profile.panel.append(this.profileView);

    this.root.replaceChildren(
      el("div", { class: "tt-bar" },
        el("strong", {}, `Module ${m.id} · ${m.title}`), el("code", {}, m.packagePath), this.saved),
      this.status.node, this.notices, sourceBox, editorBox,
      el("div", { class: "tt-buttons" }, this.buttons.run, this.buttons.test, this.buttons.profile,
        this.buttons.stop, this.buttons.reset),
      el("details", { class: "tt-scratch", open: true },
        el("summary", {}, "Scratch cell: try your code (runs with your package importable)"),
        scratchBox, el("div", { class: "tt-buttons" }, this.buttons.scratch)),
      tabs, panels,
    );
    this.editor = createEditor(editorBox, { doc: "", label: `Your file ${m.packagePath}`,
      onRun: () => this.runFile(), onChange: (text) => this.scheduleSave(text) });
    this.scratch = createEditor(scratchBox, { doc: m.scratch, label: "Scratch cell", minLines: 4,
      onRun: () => this.runScratch() });
    this.sources = new SourcePicker(sourceBox, { modules: this.course.modules.filter((x) => x.id < m.id),
      course: this.course, state: this.state, title: "Earlier modules this one builds on" });
    this.show("output");
  }

  show(key) {
    for (const [name, { tab, panel }] of Object.entries(this.panels)) {
      tab.setAttribute("aria-selected", String(name === key));
      panel.hidden = name !== key;
    }
  }

  notice(text, kind = "info", ...actions) {
    return notice(this.notices, text, kind, ...actions);
  }

  // --- the learner's code: restore, save, reset -----------------------------------------------------------
  restoreCode() {
    const saved = this.state.code(this.module.id);
    this.loading = true;
    this.editor.text = saved ? saved.code : this.module.starter;
    this.loading = false;
    this.lastSaved = this.editor.text;
    this.setSaved(saved ? "Saved" : "Starter");
    if (saved && saved.starterHash !== this.module.starterHash) {
      const newer = el("pre", { class: "tt-output" }, this.module.starter);
      this.notice("This module's starter changed in a new version of the course. Your code is kept as it was.",
        "note", " ", el("details", {}, el("summary", {}, "Show the new starter"), newer));
    }
  }

  scheduleSave(text) {
    if (this.loading) return;
    this.setSaved("Unsaved changes…");
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(text), SAVE_DELAY_MS);
  }

  save(text = this.editor.text) {
    clearTimeout(this.saveTimer);
    if (text === this.lastSaved && this.state.code(this.module.id)) return;
    const durable = this.state.saveCode(this.module.id, text, this.module.starterHash);
    this.lastSaved = text;
    this.setSaved(durable ? "Saved" : "Kept in this tab only (storage unavailable)");
  }

  setSaved(text) {
    this.saved.textContent = text;
  }

  reset() {
    if (!window.confirm(`Reset ${this.module.packagePath} to the starter? Your code in it will be replaced.`)) return;
    this.state.resetCode(this.module.id);
    this.loading = true;
    this.editor.text = this.module.starter;
    this.loading = false;
    this.lastSaved = this.editor.text;
    this.setSaved("Starter");
  }

  learnerFiles() {
    return this.sources.learnerFiles({ [this.module.id]: this.editor.text });
  }

  // --- running ---------------------------------------------------------------------------------------------
  watchRuntime() {
    this.runtime.addEventListener("state", ({ detail }) => {
      const busy = detail.state === "busy";
      this.buttons.stop.disabled = !busy;
      for (const key of ["run", "test", "profile", "scratch"]) this.buttons[key].disabled = busy;
      this.root.dataset.runtime = detail.state;
    });
  }

  watchStorage() {
    reportStorage(this.store, this.notices);
    const unsaved = (status) => status !== "ok" && this.setSaved("Kept in this tab only");
    unsaved(this.store.status); // storage may have failed before this page was set up
    this.store.addEventListener("status", ({ detail }) => unsaved(detail.status));
    // Another tab saved this file. Whichever version the editor ends up showing, the other stays one click away.
    this.store.addEventListener("external-change", ({ detail }) => {
      const other = detail.key === `module/${this.module.id}` && this.state.code(this.module.id);
      if (!other || other.code === this.editor.text) return;
      const switchTo = (label, code) => el("button", { class: "tt-link", onclick: () => { this.editor.text = code; } },
        label);
      if (this.editor.text === this.lastSaved) {
        const mine = this.editor.text;
        this.loading = true;
        this.editor.text = other.code;
        this.loading = false;
        this.lastSaved = other.code;
        this.notice("This file was changed in another tab; the editor now shows that version.", "info", " ",
          switchTo("Back to the version you had here", mine));
      } else {
        this.notice("This file was also changed in another tab. Your version here is kept; saving it will " +
          "replace the other tab's version.", "warning", " ", switchTo("Load the other tab's version", other.code));
      }
    });
    window.addEventListener("beforeunload", () => this.save());
  }

  async request(action, payload, options = {}) {
    this.save();
    const reply = await this.runtime.request(action, payload, {
      onOutput: (chunks) => this.output.append(chunks),
      onEvent: (kind, data) => kind === "chart" && this.charts.draw(data),
      ...options,
    });
    if (reply.result && reply.result.sources) this.sources.render();
    if (reply.wasmHeapBytes && !reply.memoryReleased) this.status.memory(reply.wasmHeapBytes);
    return reply;
  }

  async runFile() {
    if (this.runtime.pending) return;
    this.output.clear();
    this.show("output");
    const reply = await this.request("run", { module: this.module.id, learner: this.learnerFiles() });
    this.output.finish(reply, "Run");
  }

  async runScratch() {
    if (this.runtime.pending) return;
    this.output.clear();
    this.show("output");
    const reply = await this.request("run", { module: this.module.id, learner: this.learnerFiles(),
      code: this.scratch.text });
    this.output.finish(reply, "Scratch cell");
  }

  async runTests() {
    if (this.runtime.pending) return;
    this.show("tests");
    this.testSummary.textContent = "Running tests…";
    this.testList.replaceChildren();
    this.output.clear();
    const reply = await this.request("test", { module: this.module.id, learner: this.learnerFiles() },
      { timeoutMs: TEST_TIME_LIMIT_MS });
    if (reply.ok && reply.result) {
      this.showTests(reply.result);
    } else {
      this.root.dataset.tests = reply.tampered ? "tampered" : reply.stopped ? "stopped" : "error";
      this.testSummary.textContent = reply.tampered ? reply.error : reply.stopped ? `Tests stopped. ${reply.error}` :
        `The tests could not run: ${reply.error}`;
    }
    if (reply.timedOut) {
      this.root.dataset.tests = "stopped";
      this.testSummary.textContent = `Tests stopped: they ran longer than the time limit ` +
        `(${seconds(TEST_TIME_LIMIT_MS / 1000)}). Look for a loop in your code that never ends.` +
        (reply.restarted ? " Python did not respond, so it was restarted; your code is safe." : "");
    }
  }

  showTests(result) {
    const c = result.counts;
    const failed = c.failed + c.error;
    const counts = `${c.passed} of ${c.total} tests passed${failed ? `, ${failed} failed` : ""}` +
      (c.not_run ? `, ${c.not_run} did not run` : "");
    this.testSummary.textContent = result.stopped ? `Tests stopped before the end: ${counts}.` :
      c.total === 0 && result.collection_errors.length ? "Your file could not be loaded, so no test ran: see below." :
        `${counts} in ${seconds(result.duration)}${result.passed ? ". Module complete!" : "."}`;
    this.root.dataset.tests = result.passed ? "passed" : "failed";
    for (const error of result.collection_errors) {
      this.testList.append(el("div", { class: "tt-collection-error" },
        el("p", {}, "The tests could not load your file:"), el("pre", { class: "tt-output" }, error)));
    }
    for (const exercise of result.exercises) {
      const tests = result.tests.filter((t) => t.exercise === exercise.id);
      if (tests.length === 0) continue;
      const done = exercise.passed === exercise.total;
      this.testList.append(el("section", { class: "tt-exercise", "data-exercise": exercise.id || "" },
        el("h4", {}, `${done ? "✓" : "✗"} ${exercise.id ? exercise.id + " " : ""}${exercise.title} ` +
          `(${exercise.passed}/${exercise.total})`),
        el("ul", {}, ...tests.map((t) => el("li", { class: `tt-test tt-${t.outcome}`, "data-outcome": t.outcome },
          el("span", { class: "tt-test-name" }, `${t.outcome === "passed" ? "✓" : "✗"} ${t.id}`),
          el("span", { class: "tt-duration" }, ` ${seconds(t.duration)}`),
          t.message ? el("div", { class: "tt-message" }, t.message) : null,
          t.traceback && t.outcome !== "passed" ? el("details", {}, el("summary", {}, "Traceback"),
            el("pre", { class: "tt-output" }, t.traceback)) : null)))));
    }
    const at = new Date().toISOString();
    this.state.updateModule(this.module.id, {
      started: true, passed: result.passed, lastRun: { passed: c.passed, total: c.total, at },
      ...(result.passed ? { passedAt: at } : {}),
    });
  }

  async profile() {
    if (this.runtime.pending) return;
    this.show("profile");
    this.profileView.replaceChildren(el("p", {}, "Profiling the scratch cell…"));
    this.output.clear();
    const reply = await this.request("profile", { module: this.module.id, learner: this.learnerFiles(),
      code: this.scratch.text });
    const result = reply.result;
    if (!reply.ok || !result) {
      this.profileView.replaceChildren(el("p", {}, reply.error || "Profiling stopped."));
      return;
    }
    const rows = result.functions.map((f) => el("tr", {}, el("td", {}, el("code", {}, f.function)),
      el("td", {}, f.where), el("td", {}, String(f.calls)), el("td", {}, `${f.own_ms} ms`),
      el("td", {}, `${f.total_ms} ms`)));
    this.profileView.replaceChildren(
      el("p", { class: "tt-summary" }, `Wall time ${seconds(result.duration)} · peak Python memory ` +
        `${bytes(result.peak_bytes)} · WebAssembly memory ${bytes(reply.wasmHeapBytes || 0)}`),
      result.error ? el("pre", { class: "tt-output tt-error" }, result.error) : null,
      el("table", { class: "tt-profile" }, el("thead", {}, el("tr", {}, ...["Function", "Where", "Calls",
        "Own time", "Total time"].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)));
  }

  async stop() {
    const how = await this.runtime.stop();
    if (!how) return;
    this.output.note(how.how === "interrupt" ? `Stopped: Python was interrupted (${seconds(how.ms / 1000)}).` :
      `Stopped: Python did not respond to the interrupt, so it was restarted (${seconds(how.ms / 1000)}). ` +
      "Your code is safe.");
    this.root.dataset.lastStop = how.how;
  }
}
