// A module page's workbench: the learner's file in an editor, its buttons (Run, Run tests, Profile, Stop, Reset),
// a scratch cell, and the results. It knows nothing of Python beyond the requests PythonRuntime sends.
import { createEditor } from "./editor.js";
import { ChartBoard } from "./charts.js";
import { SourcePicker } from "./sources.js";
import { Tabs } from "./tabs.js";
import { renderTests, testItem } from "./testlist.js";
import { describeStop } from "./python.js";
import { el, seconds, bytes, notice, reportStorage, Announcer, OutputPanel, RuntimeStatus } from "./ui.js";

const SAVE_DELAY_MS = 400;
const LIVE_FAILURES = 10; // failures shown while the tests still run; all of them are listed at the end
/** describeStop's words as a sentence of their own. */
const sentence = (text) => text[0].toUpperCase() + text.slice(1);
// A test run that never ends is stopped after this; ?test-time-limit=SECONDS in the URL shortens it for the browser
// tests of that very case.
const TEST_TIME_LIMIT_MS = 1000 * (Number(new URLSearchParams(location.search).get("test-time-limit")) || 60);

export class Workbench {
  constructor(root, { module, course, state, store, runtime, signal }) {
    Object.assign(this, { root, module, course, state, store, runtime, signal });
    this.render();
    this.restoreCode();
    this.watchRuntime();
    this.watchStorage();
  }

  // --- layout ---------------------------------------------------------------------------------------------
  render() {
    const m = this.module;
    this.status = new RuntimeStatus(this.runtime);
    this.announcer = new Announcer();
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
    this.tabs = new Tabs([["output", "Output"], ["tests", "Tests"], ["profile", "Profile"]],
      { label: `Results of module ${m.id}` });
    this.output = new OutputPanel(this.tabs.panel("output"));
    this.charts = new ChartBoard(el("div", { class: "tt-charts" }));
    this.tabs.panel("output").append(this.charts.container);
    this.testSummary = el("p", { class: "tt-summary", role: "status" }, "No test run yet.");
    this.firstFailure = el("a", { class: "tt-jump", href: "#", hidden: true, onclick: (event) => {
      event.preventDefault();
      this.jumpToFirstFailure();
    } }, "Go to the first failure");
    this.testList = el("div", { class: "tt-test-list", id: `tt-tests-${m.id}` });
    this.tabs.panel("tests").append(el("div", { class: "tt-bar" }, this.testSummary, this.firstFailure),
      this.testList);
    this.profileView = el("div", {}, el("p", {}, "Profile runs the scratch cell and shows where time and memory go."));
    this.tabs.panel("profile").append(this.profileView);

    this.root.replaceChildren(
      el("div", { class: "tt-bar" },
        el("strong", {}, `Module ${m.id} · ${m.title}`), el("code", {}, m.packagePath), this.saved),
      this.status.node, this.announcer.node, this.notices, sourceBox, editorBox,
      el("div", { class: "tt-buttons" }, this.buttons.run, this.buttons.test, this.buttons.profile,
        this.buttons.stop, this.buttons.reset),
      el("details", { class: "tt-scratch", open: true },
        el("summary", {}, "Scratch cell: try your code (runs with your package importable)"),
        scratchBox, el("div", { class: "tt-buttons" }, this.buttons.scratch)),
      this.tabs.tablist, this.tabs.panels,
    );
    const saved = this.state.code(m.id);
    this.editor = createEditor(editorBox, { doc: saved ? saved.code : m.starter, label: `Your file ${m.packagePath}`,
      onRun: () => this.runFile(), onChange: (text) => this.scheduleSave(text) });
    this.scratch = createEditor(scratchBox, { doc: m.scratch, label: "Scratch cell", minLines: 4,
      onRun: () => this.runScratch() });
    this.sources = new SourcePicker(sourceBox, { modules: this.course.modules.filter((x) => x.id < m.id),
      course: this.course, state: this.state, title: "Earlier modules this one builds on" });
    this.show("output");
  }

  show(key) {
    this.tabs.show(key);
  }

  notice(text, kind = "info", ...actions) {
    return notice(this.notices, text, kind, ...actions);
  }

  // --- the learner's code: restore, save, reset -----------------------------------------------------------
  restoreCode() {
    const saved = this.state.code(this.module.id);
    const text = saved ? saved.code : this.module.starter;
    if (this.editor.text !== text) { // the editor was made with it (render): replacing it would parse it again
      this.loading = true;
      this.editor.text = text;
      this.loading = false;
    }
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
      const focused = document.activeElement;
      this.buttons.stop.disabled = !busy;
      for (const key of ["run", "test", "profile", "scratch"]) this.buttons[key].disabled = busy;
      this.root.dataset.runtime = detail.state;
      // A disabled button loses the keyboard focus to the page: while a run lasts it goes to Stop, then back.
      if (busy && focused !== this.buttons.stop && Object.values(this.buttons).includes(focused)) {
        this.focusAfterRun = focused;
        this.buttons.stop.focus();
      } else if (!busy && this.focusAfterRun) {
        if ([this.buttons.stop, document.body].includes(document.activeElement)) this.focusAfterRun.focus();
        this.focusAfterRun = null;
      }
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
    // Leaving the tab; moving to another page of the course does not unload it (main.js saves then).
    window.addEventListener("beforeunload", () => this.save(), { signal: this.signal });
  }

  async request(action, payload, options = {}) {
    this.save();
    const reply = await this.runtime.request(action, payload, {
      onOutput: (chunks) => this.output.append(chunks),
      onEvent: (kind, data) => (kind === "chart" ? this.charts.draw(data) : kind === "test" && this.testArrived(data)),
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
    this.announcer.say("Running your file…");
    const reply = await this.request("run", { module: this.module.id, learner: this.learnerFiles() });
    this.announcer.say(this.output.finish(reply, "Run"));
  }

  async runScratch() {
    if (this.runtime.pending) return;
    this.output.clear();
    this.show("output");
    this.announcer.say("Running the scratch cell…");
    const reply = await this.request("run", { module: this.module.id, learner: this.learnerFiles(),
      code: this.scratch.text });
    this.announcer.say(this.output.finish(reply, "Scratch cell"));
  }

  async runTests() {
    if (this.runtime.pending) return;
    this.show("tests");
    this.testSummary.textContent = "Running tests…";
    this.firstFailure.hidden = true;
    this.testProgress = Object.assign(el("div", { class: "tt-test-progress" }, el("p", {}), el("ul", {})),
      { counts: { passed: 0, failing: 0 } });
    this.testList.replaceChildren(this.testProgress);
    this.output.clear();
    const tested = this.editor.text; // what the tests run on, whatever the editor holds by the time they end
    const reply = await this.request("test", { module: this.module.id, learner: this.learnerFiles() },
      { timeoutMs: TEST_TIME_LIMIT_MS });
    if (reply.ok && reply.result) {
      this.showTests(reply.result, tested);
    } else {
      this.root.dataset.tests = reply.tampered ? "tampered" : reply.stopped ? "stopped" : "error";
      this.testSummary.textContent = reply.tampered ? reply.error : reply.stopped ?
        `Tests stopped: ${describeStop(reply)}` : `The tests could not run: ${reply.error}`;
    }
    if (reply.timedOut) {
      this.root.dataset.tests = "stopped";
      this.testSummary.textContent = `Tests stopped: they ran longer than the time limit ` +
        `(${seconds(TEST_TIME_LIMIT_MS / 1000)}). Look for a loop in your code that never ends.` +
        (reply.restarted ? ` ${sentence(describeStop(reply))}` : "");
    }
  }

  // While the tests run, each result arrives as it comes (tab.py): a count, and each failure in full at once.
  // The summary above is the screen readers' (role=status): it is told once, at the end.
  testArrived({ done, of, test }) {
    const failing = test.outcome !== "passed" && test.outcome !== "skipped";
    const { counts } = this.testProgress;
    counts[failing ? "failing" : "passed"] += 1;
    this.testProgress.firstChild.textContent = `${done} of ${of} tests ran: ${counts.passed} passed` +
      (counts.failing ? `, ${counts.failing} failed so far` : "");
    const shown = this.testProgress.lastChild;
    if (failing && shown.childElementCount < LIVE_FAILURES) shown.append(testItem(test));
  }

  showTests(result, tested) {
    const c = result.counts;
    const failed = c.failed + c.error;
    const counts = `${c.passed} of ${c.total} tests passed${failed ? `, ${failed} failed` : ""}` +
      (c.not_run ? `, ${c.not_run} did not run` : "");
    this.testSummary.textContent = result.stopped ? `Tests stopped before the end: ${counts}.` :
      c.total === 0 && result.collection_errors.length ? "Your file could not be loaded, so no test ran: see below." :
        `${counts} in ${seconds(result.duration)}${result.passed ? ". Module complete!" : "."}`;
    this.root.dataset.tests = result.passed ? "passed" : "failed";
    this.firstFailure.hidden = !renderTests(this.testList, result);
    this.state.recordTests(this.module.id, tested, result);
    this.sources.render();
  }

  jumpToFirstFailure() {
    const first = this.testList.querySelector(".tt-collection-error, .tt-exercise-failed .tt-test");
    if (!first) return;
    first.tabIndex = -1;
    first.scrollIntoView({ block: "center" });
    first.focus();
  }

  async profile() {
    if (this.runtime.pending) return;
    this.show("profile");
    this.profileView.replaceChildren(el("p", {}, "Profiling the scratch cell…"));
    this.output.clear();
    this.announcer.say("Profiling the scratch cell…");
    const reply = await this.request("profile", { module: this.module.id, learner: this.learnerFiles(),
      code: this.scratch.text });
    const result = reply.result;
    if (!reply.ok || !result || result.stopped) {
      const text = reply.stopped || (result && result.stopped) ? `Stopped: ${describeStop(reply)}` :
        reply.error || "Profiling stopped.";
      this.profileView.replaceChildren(el("p", {}, text));
      this.announcer.say(text);
      return;
    }
    const table = (caption, rows) => el("table", { class: "tt-profile" }, el("caption", {}, caption),
      el("thead", {}, el("tr", {}, ...["Function", "Where", "Calls", "Own time", "Total time"]
        .map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows.map((f) => el("tr", { class: f.mine ? "tt-mine" : "" },
        el("td", {}, el("code", {}, f.function)), el("td", {}, f.where), el("td", {}, String(f.calls)),
        el("td", {}, `${f.own_ms} ms`), el("td", {}, `${f.total_ms} ms`)))));
    const mine = result.functions.filter((f) => f.mine);
    const theirs = result.functions.filter((f) => !f.mine);
    const summary = `Your code ran for ${seconds(result.duration)} under the profiler · peak Python memory ` +
      `${bytes(result.peak_bytes)} · WebAssembly memory ${bytes(reply.wasmHeapBytes || 0)}`;
    this.profileView.replaceChildren(...[
      el("p", { class: "tt-summary" }, summary),
      el("p", { class: "tt-note" }, "Measured: the scratch cell's own run. Not measured: setting up your package " +
        "and importing the modules it imports."),
      result.error ? el("pre", { class: "tt-output tt-error" }, result.error) : null,
      mine.length ? table("Your code (the scratch cell and your package), by total time", mine) : null,
      theirs.length ? table("What it called (NumPy, Python), by total time", theirs) : null,
    ].filter(Boolean));
    this.announcer.say(result.error ? `Profile: your code ended with an error` : `Profile ready. ${summary}`);
  }

  async stop() {
    const how = await this.runtime.stop();
    if (!how) return;
    // The run's own panel says how it stopped, in one line (OutputPanel.finish, the test summary).
    this.announcer.say(`Stopped: ${describeStop(how)}`);
    this.root.dataset.lastStop = how.how;
  }
}
