// CodeMirror 6 set up for learners: Python highlighting, Ctrl/Cmd+Enter runs, no autocorrect, follows dark mode.
// Loaded only when a learner first reaches an editor (editor.js): it is most of the page's script.
import { EditorView, basicSetup } from "codemirror";
import { python } from "@codemirror/lang-python";
import { Compartment, Prec } from "@codemirror/state";
import { keymap } from "@codemirror/view";
import { indentWithTab } from "@codemirror/commands";
import { HighlightStyle, defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { oneDarkTheme, oneDarkHighlightStyle } from "@codemirror/theme-one-dark";

const isDark = () => document.body.getAttribute("data-md-color-scheme") === "slate";
// The stock colours, with those below WCAG AA's 4.5:1 on their background replaced: in the light style the orange
// of escapes and f-string braces and the red of invalid code; in One Dark its grey (comments, line numbers) and its
// coral (names, properties) and its violet (keywords), which the active line's highlight brings below 4.5:1.
const recoloured = (style, colours) => HighlightStyle.define(style.specs.map((spec) => ({
  ...spec, color: colours[spec.color] || spec.color })));
const readableLight = syntaxHighlighting(recoloured(defaultHighlightStyle, { "#e40": "#c03000", "#f00": "#d00000" }));
const readableDark = [oneDarkTheme, EditorView.theme({ ".cm-gutters": { color: "#a0a7b4" } }, { dark: true }),
  syntaxHighlighting(recoloured(oneDarkHighlightStyle, { "#7d8799": "#a0a7b4", "#e06c75": "#ef8a92", "#c678dd": "#d49fe6" }))];
const schemeTheme = () => (isDark() ? readableDark : readableLight);

// A CodeMirror editor holding `doc` with `selection` ({anchor, head}); the caller puts `view.dom` in the page.
export function createCodeMirror({ doc, selection, label, onRun, onChange, minLines }) {
  const theme = new Compartment();
  const view = new EditorView({
    doc,
    selection,
    extensions: [
      basicSetup,
      python(),
      keymap.of([indentWithTab]), // Tab indents; Esc then Tab moves focus on (CodeMirror's accessible escape)
      Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
      EditorView.contentAttributes.of({
        autocorrect: "off", autocapitalize: "off", spellcheck: "false", "aria-label": label,
        tabindex: "0", // keyboard users reach the scrolling editor (axe: scrollable-region-focusable)
      }),
      EditorView.theme({ ".cm-content, .cm-gutter": { minHeight: `${minLines * 1.4}em` } }),
      theme.of(schemeTheme()),
      EditorView.updateListener.of((update) => {
        if (update.docChanged && onChange) onChange(update.state.doc.toString());
      }),
    ],
  });
  // mkdocs-material switches the scheme with an attribute on <body>.
  new MutationObserver(() => view.dispatch({ effects: theme.reconfigure(schemeTheme()) }))
    .observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  return view;
}
