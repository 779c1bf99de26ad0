// The header's light/dark toggle, doing what mkdocs-material's does (site/overrides/partials/palette.html says why
// this one runs instead): the palette chosen is saved under material's own key, which material's inline script
// applies to <body> before the page's first paint, and on a first visit the one matching the system's preference
// is chosen and saved. Nothing here makes the browser compute styles while the page loads.
const KEY = "__palette";

/** Run the toggle in `form` (the header's palette form) for as long as the tab lives. */
export function mountPalette(form = document.querySelector("[data-tt-palette]")) {
  if (!form || !window.__md_get) return;
  const inputs = [...form.querySelectorAll("input")];
  const saved = window.__md_get(KEY);
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
    if (changed.length) { // as material does: no colour transitions while the whole page changes colour
      document.body.setAttribute("data-md-color-switching", "");
      for (const [key, value] of changed) document.body.setAttribute(`data-md-color-${key}`, value);
      setTimeout(() => document.body.removeAttribute("data-md-color-switching"));
    }
    window.__md_set(KEY, { index: next, color });
    whenIdle(themeMeta); // reads a computed style: not while the page loads
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

const whenIdle = (callback) => (window.requestIdleCallback ? requestIdleCallback(callback, { timeout: 2000 })
  : setTimeout(callback, 500)); // Safari has no requestIdleCallback

/** The browser's own colours follow the palette: scroll bars and form controls (color-scheme), and on phones the
 * bar around the page (theme-color, the header's colour). */
function themeMeta() {
  const header = document.querySelector("[data-md-component=header]");
  if (!header) return;
  const style = getComputedStyle(header);
  metaNamed("color-scheme").content = style.colorScheme;
  const rgb = style.backgroundColor.match(/\d+/g) || [];
  metaNamed("theme-color").content = `#${rgb.slice(0, 3).map((v) => (+v).toString(16).padStart(2, "0")).join("")}`;
}

function metaNamed(name) {
  let meta = document.head.querySelector(`meta[name="${name}"]`);
  if (!meta) document.head.append(meta = Object.assign(document.createElement("meta"), { name }));
  return meta;
}
