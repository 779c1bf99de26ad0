// A milestone page's run panel: trains with the learner's own package in the worker, draws its charts live, and
// keeps the result (even a partial one after Stop) in the learner's progress.
import { ChartBoard } from "./charts.js";
import { SourcePicker } from "./sources.js";
import { el, seconds, reportStorage, OutputPanel, RuntimeStatus } from "./ui.js";

const percent = (v) => (v === null || v === undefined ? "n/a" : `${(100 * v).toFixed(1)} %`);

export class MilestonePanel {
  constructor(root, { milestone, course, state, runtime }) {
    Object.assign(this, { root, milestone, course, state, runtime });
    const notices = el("div", { class: "tt-notices", "aria-live": "polite" });
    const m = milestone;
    this.status = new RuntimeStatus(runtime);
    // The step-by-step line is not a live region (it changes many times a second); the verdict is.
    this.live = el("p", { class: "tt-live" });
    this.verdict = el("p", { class: "tt-summary", role: "status" });
    this.run = el("button", { class: "md-button md-button--primary", onclick: () => this.start() }, "Run milestone");
    this.stopButton = el("button", { class: "md-button", disabled: true, onclick: () => this.stop() }, "Stop");
    const sourceBox = el("div");
    const charts = el("div", { class: "tt-charts" });
    const output = el("div");
    root.replaceChildren(
      el("div", { class: "tt-bar" }, el("strong", {}, `${m.year} · ${m.title}`),
        el("span", {}, `Success: ${m.criterion}`)),
      this.status.node, notices, sourceBox, el("div", { class: "tt-buttons" }, this.run, this.stopButton),
      this.live, this.verdict, charts, output);
    this.sources = new SourcePicker(sourceBox, { modules: course.modules.filter((x) => x.id <= m.requires),
      course, state, title: "Your package for this run" });
    this.charts = new ChartBoard(charts);
    this.output = new OutputPanel(output);
    reportStorage(state.store, notices);
    this.showSaved();
    runtime.addEventListener("state", ({ detail }) => {
      this.run.disabled = detail.state === "busy";
      this.stopButton.disabled = detail.state !== "busy";
    });
  }

  showSaved() {
    const saved = this.state.progress().milestones[this.milestone.id];
    if (!saved) return;
    this.verdict.textContent = this.history(saved, "Your last run");
    this.root.dataset.result = saved.passed ? "passed" : "not-passed";
  }

  /** The latest attempt, and the best one when it is another (a stop or failure never hides a success). */
  history(saved, latest) {
    const when = (r) => new Date(r.at).toLocaleString();
    const text = `${latest} (${when(saved)}): ${this.describe(saved)}`;
    const best = saved.best;
    return best && best.at !== saved.at ? `${text} Your best run (${when(best)}): ${this.describe(best)}` : text;
  }

  describe(r) {
    const m = this.milestone;
    const value = `${m.metric} ${percent(r.value)} (target ${percent(m.target)})`;
    if (r.error) return `stopped by an error after ${seconds(r.seconds)}, ${value}.`;
    if (r.stopped) return `stopped after ${seconds(r.seconds)}, ${value}. Partial result kept.`;
    return r.passed ? `reached: ${value} in ${seconds(r.seconds)}.` : `not reached: ${value} in ${seconds(r.seconds)}.`;
  }

  async start() {
    if (this.runtime.pending) return;
    this.charts.clear();
    this.output.clear();
    this.verdict.textContent = "";
    this.live.textContent = "Running with your package…";
    this.last = null;
    delete this.root.dataset.result;
    const started = performance.now();
    const reply = await this.runtime.request("milestone", { milestone: this.milestone.id,
      learner: this.sources.learnerFiles() }, {
      onOutput: (chunks) => this.output.append(chunks),
      onEvent: (kind, data) => {
        if (kind === "chart") this.charts.draw(data);
        if (kind === "milestone-progress") this.progress(data);
      },
    });
    this.sources.render();
    const result = reply.result || this.partial(reply, (performance.now() - started) / 1000);
    if (result.error) this.output.error(result.error);
    const saved = { value: result.value, passed: result.passed === true, stopped: !!result.stopped,
      error: result.error ? result.error.split("\n").slice(-2).join(" ") : null,
      seconds: result.seconds, metric: this.milestone.metric, at: new Date().toISOString(),
      peakWasmBytes: reply.wasmHeapBytes || null };
    this.state.saveMilestone(this.milestone.id, saved);
    this.live.textContent = "";
    this.verdict.textContent = this.history(this.state.progress().milestones[this.milestone.id] || saved,
      `${this.milestone.year} ${this.milestone.title}, this run`);
    this.root.dataset.result = saved.passed ? "passed" : "not-passed";
    if (reply.wasmHeapBytes && !reply.memoryReleased) this.status.memory(reply.wasmHeapBytes);
  }

  progress(point) {
    this.last = point;
    const metrics = Object.entries(point.metrics).map(([k, v]) => `${k} ${Number(v).toFixed(3)}`).join(" · ");
    this.live.textContent = `Step ${point.step} of ${point.total} · ${metrics} · ${seconds(point.seconds)}`;
  }

  /** After Stop had to restart Python, the run returned nothing: keep what the live updates showed. */
  partial(reply, elapsed) {
    const value = this.last ? this.last.metrics[this.milestone.metric] ?? null : null;
    return { value, passed: false, stopped: !!reply.stopped, seconds: elapsed,
      error: reply.stopped ? null : reply.error };
  }

  async stop() {
    const how = await this.runtime.stop();
    if (how) this.root.dataset.lastStop = how.how;
  }
}
