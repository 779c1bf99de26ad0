// Small DOM helpers. Learner-provided text only ever goes in as text (textContent), never as HTML.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value !== undefined) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function seconds(s) {
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(2)} s`;
}

export function bytes(n) {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

const DOM_OUTPUT_LIMIT = 200_000; // characters shown in one output panel; more would make the page sluggish

/** Where stdout, stderr, errors and notes of one run appear. */
export class OutputPanel {
  constructor(container) {
    this.pre = el("pre", { class: "tt-output", "aria-live": "polite", tabindex: "0" });
    container.append(this.pre);
    this.clear();
  }

  clear() {
    this.pre.replaceChildren();
    this.shown = 0;
    this.truncated = false;
  }

  append(chunks) {
    for (const { stream, text } of chunks) {
      if (this.shown + text.length > DOM_OUTPUT_LIMIT) {
        if (!this.truncated) this.note("… output truncated here: too much to show.");
        this.truncated = true;
        return;
      }
      this.shown += text.length;
      this.pre.append(el("span", { class: `tt-${stream}` }, text));
    }
  }

  error(text) {
    this.pre.append(el("span", { class: "tt-error" }, text.endsWith("\n") ? text : text + "\n"));
  }

  note(text) {
    this.pre.append(el("span", { class: "tt-note" }, text + "\n"));
  }

  /** The end of a run: its error (if any), how it stopped, and output that did not fit. */
  finish(reply, what) {
    const result = reply.result || {};
    if (reply.droppedWrites) this.note(`… ${reply.droppedWrites} more writes were not shown (output limit).`);
    const error = reply.error || result.error;
    if (error) this.error(error);
    if (reply.ok && result.ok) this.note(`${what} finished in ${seconds(result.duration)}.`);
  }
}

/** Python's start-up progress and state, for any panel that runs code. */
export class RuntimeStatus {
  constructor(runtime) {
    this.progress = el("progress", { class: "tt-progress", max: "4", value: "0", "aria-label": "Python start-up" });
    this.text = el("span", { class: "tt-runtime-status", role: "status" }, "Python: not started");
    this.node = el("div", { class: "tt-bar" }, this.progress, this.text);
    runtime.addEventListener("progress", ({ detail }) => {
      this.progress.value = detail.step;
      this.text.textContent = detail.step < detail.of ? `Starting Python: ${detail.text}…` : "Python ready";
    });
    runtime.addEventListener("state", ({ detail }) => this.show(detail));
    this.show({ state: runtime.state, readyMs: runtime.readyMs, error: runtime.error }); // it may predate this panel
  }

  show(detail) {
    if (detail.state === "ready" && detail.readyMs) {
      this.text.textContent = `Python ready (${seconds(detail.readyMs / 1000)})`;
      this.progress.hidden = true;
    } else if (detail.state === "starting") {
      this.progress.hidden = false;
      this.text.textContent = "Starting Python…";
    } else if (detail.state === "failed") {
      this.text.textContent = `Python could not start: ${detail.error}`;
    }
  }

  memory(bytesUsed) {
    this.text.textContent = `Python ready · memory ${bytes(bytesUsed)}`;
  }
}
