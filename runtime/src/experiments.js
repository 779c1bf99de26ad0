// Code blocks written ```{.python .tt-run} in a lesson get two buttons: run the measurement with the learner's
// package (their file of this module as the editor holds it), or with this module's reference, so that a
// measurement also runs for someone who has not solved the module (a deep link from lecture slides). Output and
// charts appear under the code.
import { ChartBoard } from "./charts.js";
import { el, OutputPanel } from "./ui.js";

export function makeRunnable(workbench) {
  const buttons = [];
  for (const block of document.querySelectorAll(".tt-run")) {
    const code = block.querySelector("code");
    if (!code) continue;
    const result = el("div", { class: "tt-experiment-result", hidden: true });
    const output = new OutputPanel(result);
    const charts = new ChartBoard(el("div", { class: "tt-charts" }));
    result.append(charts.container);

    const run = async (withReference) => {
      result.hidden = false;
      output.clear();
      if (workbench.runtime.pending) {
        output.note("Python is busy with another run: wait for it, or press Stop in the workbench.");
        return;
      }
      const focused = document.activeElement;
      buttons.forEach((b) => { b.disabled = true; });
      const whose = withReference ? `the reference of module ${workbench.module.id}` : "your code";
      output.running(`Running with ${whose}…`);
      workbench.announcer.say(`Running the measurement with ${whose}…`);
      const learner = withReference ? workbench.sources.learnerFiles() : workbench.learnerFiles();
      const reply = await workbench.request("run", { module: workbench.module.id, learner, code: code.textContent },
        { onOutput: (chunks) => output.append(chunks), onEvent: (kind, data) => kind === "chart" && charts.draw(data) });
      const said = output.finish(reply, "Measurement");
      const unfinished = !withReference && /NotImplementedError/.test(reply.error || (reply.result || {}).error || "");
      if (unfinished) {
        output.note(`Your module ${workbench.module.id} is not finished yet: "Run with the reference" runs this ` +
          "measurement on the course's implementation instead.");
      }
      workbench.announcer.say(said);
      buttons.forEach((b) => { b.disabled = false; });
      if (buttons.includes(focused) && document.activeElement === document.body) focused.focus(); // disabling lost it
    };
    const mine = el("button", { class: "md-button md-button--primary tt-run-button", type: "button",
      onclick: () => run(false) }, "Run this measurement");
    const reference = el("button", { class: "md-button tt-run-reference", type: "button",
      onclick: () => run(true), title: `Run it on the course's reference implementation of module ${workbench.module.id}` },
    "Run with the reference");
    buttons.push(mine, reference);
    // Inside the block, not after it: a new child of the lesson itself restyles the whole lesson (material's rules
    // on its children's order), a new child of the block only the block.
    block.append(el("div", { class: "tt-experiment" }, el("div", { class: "tt-buttons" }, mine, reference), result));
  }
}
