// The learner's editors. Each starts as a plain text area holding the code and becomes a CodeMirror editor
// (codemirror.js) when the learner first reaches it, by pointer or keyboard. CodeMirror is most of a module page's
// script: loading and building it with the page blocked a phone's main thread for seconds (Lighthouse mobile, total
// blocking time 3.9 s). The text area costs nothing, shows the same text, and keeps whatever is typed into it while
// CodeMirror loads; the switch keeps the text, the selection and the focus.
import { el } from "./ui.js";

let codemirror = null; // one import for every editor of the tab
const loadCodeMirror = () => (codemirror ||= import("./codemirror.js"));

const LINE_EM = 1.4; // CodeMirror's line height: the text area takes the room the editor will, so nothing moves

export function createEditor(parent, { doc, label, onRun, onChange, minLines = 12 }) {
  const area = el("textarea", { class: "tt-code", "aria-label": label, spellcheck: "false", autocorrect: "off",
    autocapitalize: "off", wrap: "off" });
  area.value = doc;
  const fit = () => { area.style.height = `${Math.max(minLines, area.value.split("\n").length) * LINE_EM + 0.6}em`; };
  fit();
  let keyDown = false; // a key being typed lands in the text area: the switch to CodeMirror waits for its keyup
  area.addEventListener("input", () => { fit(); if (onChange) onChange(area.value); });
  area.addEventListener("keydown", (event) => {
    keyDown = true;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      onRun();
    }
  });
  area.addEventListener("keyup", () => { keyDown = false; });
  parent.append(area);

  let view = null;
  let upgrading = null;
  const keyUp = () => new Promise((resolve) => {
    if (!keyDown) return resolve();
    const done = () => setTimeout(resolve, 0);
    area.addEventListener("keyup", done, { once: true });
    area.addEventListener("blur", done, { once: true });
  });
  const upgrade = () => (upgrading ||= loadCodeMirror().then(async ({ createCodeMirror }) => {
    await keyUp();
    const focused = document.activeElement === area;
    view = createCodeMirror({ doc: area.value, label, onRun, onChange, minLines,
      selection: { anchor: area.selectionStart, head: area.selectionEnd } });
    area.replaceWith(view.dom);
    if (focused) view.focus();
  }));
  for (const kind of ["pointerdown", "focus"]) area.addEventListener(kind, upgrade, { once: true });

  return {
    get view() {
      return view; // null until the learner reaches the editor
    },
    get text() {
      return view ? view.state.doc.toString() : area.value;
    },
    set text(value) {
      if (view) view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
      else if (value !== area.value) {
        area.value = value;
        fit();
        if (onChange) onChange(value);
      }
    },
  };
}
