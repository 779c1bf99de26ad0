// The text box a milestone offers after its run (`[interact]` in milestone.toml, `interact(text)` in milestone.py):
// what the learner types goes to Python with the same package as the run and the artifacts the run saved, and
// what interact returns is shown. It waits until those artifacts exist, and says so.
import { el, seconds } from "./ui.js";

export class PromptBox {
  constructor(container, { milestone, runtime, artifacts, learnerFiles }) {
    Object.assign(this, { milestone, runtime, artifacts, learnerFiles });
    const spec = milestone.interact;
    const id = `tt-prompt-${milestone.id}`;
    this.input = el("textarea", { id, class: "tt-prompt", rows: "3", placeholder: spec.placeholder || "",
      spellcheck: "false" });
    this.button = el("button", { class: "md-button md-button--primary", disabled: true, onclick: () => this.send() },
      spec.button || "Send");
    this.hint = el("p", { class: "tt-prompt-hint" });
    this.reply = el("pre", { class: "tt-prompt-reply", "aria-live": "polite", tabindex: "0" });
    this.node = el("section", { class: "tt-interact" }, el("label", { for: id }, el("strong", {}, spec.label || "Try it")),
      this.input, el("div", { class: "tt-buttons" }, this.button), this.hint, this.reply);
    container.append(this.node);
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) this.send();
    });
    artifacts.addEventListener("saved", () => this.refresh());
    runtime.addEventListener("state", () => this.refresh());
    this.refresh();
  }

  /** Usable once every artifact the milestone reads exists and Python is free. */
  async refresh() {
    const turn = (this.turn = (this.turn || 0) + 1); // refreshes overlap: only the latest decides
    const missing = [];
    for (const name of this.milestone.artifacts) if (!(await this.artifacts.get(name))) missing.push(name);
    if (turn !== this.turn) return;
    this.ready = missing.length === 0;
    this.button.disabled = !this.ready || this.runtime.state === "busy";
    this.hint.textContent = this.ready ? "Ctrl+Enter sends it too." : "Run the milestone first: this box uses " +
      `what the run saves (${missing.join(", ")}).`;
  }

  async send() {
    if (!this.ready || this.runtime.pending) return;
    const text = this.input.value || this.milestone.interact.placeholder || "";
    this.reply.textContent = "…";
    delete this.node.dataset.state;
    const reply = await this.runtime.request("interact", { milestone: this.milestone.id, learner: this.learnerFiles(),
      text });
    const result = reply.result || {};
    const error = reply.error || result.error;
    this.reply.textContent = error ? error : result.text;
    this.reply.classList.toggle("tt-error", Boolean(error));
    if (!error) this.reply.title = `written in ${seconds(result.seconds)}`;
    this.node.dataset.state = error ? "error" : "answered";
  }
}
