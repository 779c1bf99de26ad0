// Code blocks written ```{.python .tt-run} in a lesson get a Run button: the measurement runs in the tab with the
// learner's package, and its output and charts appear under the block.
import { ChartBoard } from "./charts.js";
import { el, OutputPanel } from "./ui.js";

export function makeRunnable(workbench) {
  for (const block of document.querySelectorAll(".tt-run")) {
    const code = block.querySelector("code");
    if (!code) continue;
    const result = el("div", { class: "tt-experiment-result", hidden: true });
    const output = new OutputPanel(result);
    const charts = new ChartBoard(el("div", { class: "tt-charts" }));
    result.append(charts.container);
    const button = el("button", { class: "md-button md-button--primary tt-run-button" }, "Run this measurement");
    button.addEventListener("click", async () => {
      if (workbench.runtime.pending) {
        output.clear();
        result.hidden = false;
        output.note("Python is busy with another run: wait for it, or press Stop in the workbench.");
        return;
      }
      button.disabled = true;
      output.clear();
      result.hidden = false;
      output.note("Running…");
      const reply = await workbench.request("run", { module: workbench.module.id, learner: workbench.learnerFiles(),
        code: code.textContent }, { onOutput: (chunks) => output.append(chunks),
        onEvent: (kind, data) => kind === "chart" && charts.draw(data) });
      output.finish(reply, "Measurement");
      button.disabled = false;
    });
    block.after(el("div", { class: "tt-experiment" }, button, result));
  }
}
