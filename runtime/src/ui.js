// Small DOM helpers. Learner-provided text only ever goes in as text (textContent), never as HTML.
import { describeStop } from "./python.js";

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
  const [unit, size] = [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]].find((u) => n >= u[1]) || ["B", 1];
  return size === 1 ? `${n} B` : `${(n / size).toFixed(1)} ${unit}`;
}

/** A dismissable notice for the learner, appended to `container`. */
export function notice(container, text, kind = "info", ...actions) {
  const box = el("div", { class: `admonition ${kind} tt-notice` }, el("p", {}, text, ...actions),
    el("button", { class: "tt-dismiss", "aria-label": "Dismiss", onclick: () => box.remove() }, "×"));
  container.append(box);
  return box;
}

function describeKey(key) {
  if (key === "progress") return "Your saved progress";
  return key.startsWith("module/") ? `Your saved code for module ${key.slice(7)}` : `Saved data (${key})`;
}

/** Tell the learner in `container` when storage fails or saved data cannot be read, including what happened
 * before this page was set up. */
export function reportStorage(store, container) {
  const warn = (status) => status !== "ok" && notice(container, `Your browser's storage ` +
    `${status === "full" ? "is full" : "is unavailable (disabled or blocked)"}: your work is kept in this tab only. ` +
    "Use Export on the Progress page to keep a copy before closing it.", "warning");
  const keptAside = ({ key, aside }) => notice(container, `${describeKey(key)} could not be read (it is not in ` +
    `this course's format), so this page does not use it. Nothing was deleted: it is kept in this browser's ` +
    `storage under the key "${aside}".`, "warning");
  warn(store.status);
  store.unreadable.forEach(keptAside);
  store.addEventListener("status", ({ detail }) => warn(detail.status));
  store.addEventListener("unreadable", ({ detail }) => keptAside(detail));
}

const DOM_OUTPUT_LIMIT = 200_000; // characters shown in one output panel; more would make the page sluggish

/** A polite live region: what screen readers announce when a run starts, ends, or Python's state changes. */
export class Announcer {
  constructor() {
    this.node = el("div", { class: "tt-sr-only tt-announcer", role: "status", "aria-live": "polite",
      "aria-atomic": "true" });
  }

  say(text) {
    // Emptied first, so that the same words twice in a row are announced twice.
    this.node.textContent = "";
    clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.node.textContent = text; }, 60);
  }
}

/** Where stdout, stderr, errors and notes of one run appear. Not a live region itself: a run's whole output read
 * out would drown everything; `finish` returns one line for an Announcer instead. */
export class OutputPanel {
  constructor(container) {
    this.pre = el("pre", { class: "tt-output", tabindex: "0", "aria-label": "Output" });
    container.append(this.pre);
    this.clear();
  }

  clear() {
    this.pre.replaceChildren();
    this.shown = 0;
    this.truncated = false;
    this.placeholder = null;
  }

  /** A note ("Running…") that the first output or the end of the run replaces. */
  running(text) {
    this.placeholder = this.note(text);
  }

  dropPlaceholder() {
    if (this.placeholder) this.placeholder.remove();
    this.placeholder = null;
  }

  append(chunks) {
    this.dropPlaceholder();
    for (const { stream, text } of chunks) {
      if (this.truncated) return;
      const room = DOM_OUTPUT_LIMIT - this.shown;
      this.pre.append(el("span", { class: `tt-${stream}` }, text.slice(0, room)));
      this.shown += Math.min(text.length, room);
      if (text.length > room) {
        this.truncated = true;
        this.note("… output truncated here: too much to show.");
      }
    }
  }

  error(text) {
    this.pre.append(el("span", { class: "tt-error" }, text.endsWith("\n") ? text : text + "\n"));
  }

  note(text) {
    const span = el("span", { class: "tt-note" }, text + "\n");
    this.pre.append(span);
    return span;
  }

  /** The end of a run: its error (if any), how it stopped, and output that did not fit. Returns one line saying
   * how it ended, for screen readers. */
  finish(reply, what) {
    this.dropPlaceholder();
    const result = reply.result || {};
    if (reply.droppedWrites) this.note(`… the output went on past the limit: ${reply.droppedWrites} more lines.`);
    let said;
    if (reply.stopped || result.stopped) {
      said = `Stopped: ${describeStop(reply)}`; // one line, not Python's KeyboardInterrupt as well
      this.note(said);
    } else {
      const error = reply.error || result.error;
      if (error) this.error(error);
      said = error ? `${what} ended with an error: ${error.trim().split("\n").pop()}` : `${what} finished.`;
    }
    if (result.note) this.note(result.note);
    if (reply.ok && result.ok) {
      said = `${what} finished in ${seconds(result.duration)}.`;
      this.note(said);
    }
    if (reply.memoryReleased) {
      this.note(`Python had grown to ${bytes(reply.wasmHeapBytes)} of memory, which WebAssembly never gives back, ` +
        "so it is being restarted to return it to your computer (a few seconds). Your code is safe.");
    }
    return said;
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
