// CodeMirror 6 set up for learners: Python highlighting, Ctrl/Cmd+Enter runs, no autocorrect, follows dark mode.
import { EditorView, basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { Compartment, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { oneDark } from "@codemirror/theme-one-dark";

const isDark = () => document.body.getAttribute("data-md-color-scheme") === "slate";

export function createEditor(parent, { doc, label, onRun, onChange, minLines = 12 }) {
  const theme = new Compartment();
  const view = new EditorView({
    parent,
    doc,
    extensions: [
      basicSetup,
      python(),
      keymap.of([indentWithTab]), // Tab indents; Esc then Tab moves focus on (CodeMirror's accessible escape)
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
      EditorView.contentAttributes.of({
        autocorrect: "off", autocapitalize: "off", spellcheck: "false", "aria-label": label,
      }),
      EditorView.theme({ ".cm-content, .cm-gutter": { minHeight: `${minLines * 1.4}em` } }),
      theme.of(isDark() ? oneDark : []),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && onChange) onChange(update.state.doc.toString());
      }),
    ],
  });
  // mkdocs-material switches the scheme with an attribute on <body>.
  new MutationObserver(() => view.dispatch({ effects: theme.reconfigure(isDark() ? oneDark : []) }))
    .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  return {
    view,
    get text() {
      return view.state.doc.toString();
    },
    set text(value) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value } });
    },
  };
}
