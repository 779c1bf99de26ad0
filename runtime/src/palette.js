// The header's light/dark toggle, doing what mkdocs-material's does (site/overrides/partials/palette.html says why
// this one runs instead): the palette chosen is saved under material's own key, which material's inline script
// applies to <body> before the page's first paint, and on a first visit the one matching the system's preference
// is chosen and saved. Nothing here makes the browser compute styles.
const KEY = "__palette";
// Material's own helpers (its page's inline script) read localStorage outside their try: where storage is disabled,
// they throw.
const savedPalette = () => { try { return window.__md_get(KEY); } catch { return null; } };
const savePalette = (palette) => { try { window.__md_set(KEY, palette); } catch { /* kept for this page only */ } };

/** Run the toggle in `form` (the header's palette form) for as long as the tab lives. */
export function mountPalette(form = document.querySelector("[data-tt-palette]")) {
  if (!form) return;
  const inputs = [...form.querySelectorAll("input")];
  const saved = savedPalette();
  let index = saved && inputs[saved.index] ? saved.index
    : Math.max(0, inputs.findIndex((input) => matchMedia(input.dataset.mdColorMedia).matches));

  const choose = (next) => {
    index = next;
    inputs.forEach((input, k) => {
      input.checked = k === next;
      if (input.nextElementSibling instanceof HTMLLabelElement) input.nextElementSibling.hidden = k !== next;
    });
    const { mdColorMedia: media, mdColorScheme: scheme, mdColorPrimary: primary, mdColorAccent: accent } =
      inputs[next].dataset;
    const color = { media, scheme, primary, accent };
    const changed = Object.entries(color).filter(([key, value]) =>
      document.body.getAttribute(`data-md-color-${key}`) !== value);
    // As material does: no colour transitions while the page changes colour. Only where a colour changes: the mark
    // restyles every element twice, and a first visit in the light scheme only records which media query it follows.
    const recolours = changed.some(([key]) => key !== "media");
    if (recolours) document.body.setAttribute("data-md-color-switching", "");
    for (const [key, value] of changed) document.body.setAttribute(`data-md-color-${key}`, value);
    if (recolours) { // removed once a frame has been styled with it (material forces a restyle instead)
      const done = () => document.body.removeAttribute("data-md-color-switching");
      requestAnimationFrame(() => requestAnimationFrame(done));
    }
    savePalette({ index: next, color });
  };
  form.addEventListener("change", (event) => choose(inputs.indexOf(event.target)));
  form.addEventListener("keydown", (event) => { // Enter switches, as in material (Space and arrows are the radio's)
    if (event.key !== "Enter") return;
    event.preventDefault();
    const next = (index + 1) % inputs.length;
    inputs[next].click();
    inputs[next].focus();
  });
  choose(index);
}
