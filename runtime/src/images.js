// A grid of small grey pictures sent by plot.images (filters, feature maps, attention maps): one canvas per 2-D
// array, one canvas pixel per value, scaled up on screen without smoothing. Each picture is a labelled image for
// screen readers, with its size and the values black and white stand for.
import { el } from "./ui.js";

const CELL_PX = 96; // the longer side of each picture on screen, at least
const NOT_A_NUMBER = [198, 40, 40]; // NaN and infinities arrive as null: drawn red, never as a plausible grey

function valueRange(values) {
  const finite = values.filter((v) => v !== null);
  return finite.length ? [Math.min(...finite), Math.max(...finite)] : [0, 0];
}

const short = (v) => (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : `${+v.toFixed(3)}`);

function greyCanvas(image, [lo, hi]) {
  const rows = image.length;
  const cols = image[0].length;
  const canvas = el("canvas", { width: cols, height: rows });
  const context = canvas.getContext("2d");
  const pixels = context.createImageData(cols, rows);
  image.forEach((row, r) => row.forEach((value, c) => {
    const grey = hi > lo ? Math.round((255 * (value - lo)) / (hi - lo)) : 128;
    pixels.data.set(value === null ? [...NOT_A_NUMBER, 255] : [grey, grey, grey, 255], 4 * (r * cols + c));
  }));
  context.putImageData(pixels, 0, 0);
  const scale = Math.max(1, Math.ceil(CELL_PX / Math.max(rows, cols)));
  canvas.style.width = `${cols * scale}px`;
  canvas.style.height = `${rows * scale}px`;
  return canvas;
}

/** The figure for one `{kind: "images", title, images, labels, same_scale}` chart. */
export function imageGrid(spec) {
  const shared = spec.same_scale ? valueRange(spec.images.flat(2)) : null;
  const cells = spec.images.map((image, i) => {
    const range = shared || valueRange(image.flat());
    const label = spec.labels[i] || `image ${i + 1}`;
    const canvas = greyCanvas(image, range);
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${label}: ${image.length} by ${image[0].length} values, black ${short(range[0])}, ` +
      `white ${short(range[1])}`);
    return el("figure", { class: "tt-image" }, canvas, el("figcaption", {}, label));
  });
  return el("figure", { class: "tt-chart tt-images", role: "group", "aria-label": spec.title },
    el("figcaption", { class: "tt-images-title" }, spec.title), el("div", { class: "tt-image-grid" }, ...cells));
}
