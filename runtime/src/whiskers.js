// Intervals on a scatter plot (plot.scatter(..., x_intervals=, y_intervals=)): each point's low-high range drawn as
// a whisker through it in its group's colour, with the axes widened so that no whisker is cut off. An interval is
// how a measurement says how sure it is; a point without its whisker would claim more than was measured.
import uPlot from "uplot";

const CAP = 4; // CSS pixels: half the width of a whisker's end caps

/** Whiskers as segments in data units, {color, x0, x1, y0, y1}, one per point and axis with an interval. */
export function whiskers(spec, palette) {
  const names = Object.keys(spec.groups);
  const segments = [];
  for (const [name, axes] of Object.entries(spec.intervals || {})) {
    const color = palette[names.indexOf(name) % palette.length];
    const [xs, ys] = spec.groups[name];
    xs.forEach((x, i) => {
      if (axes.x) segments.push({ color, x0: axes.x[0][i], x1: axes.x[1][i], y0: ys[i], y1: ys[i] });
      if (axes.y) segments.push({ color, x0: x, x1: x, y0: axes.y[0][i], y1: axes.y[1][i] });
    });
  }
  return segments.filter((s) => [s.x0, s.x1, s.y0, s.y1].every(Number.isFinite));
}

/** The scale range `range` gives, widened first to hold every whisker end on that axis (`holder.segments` may change
 * on a redraw). */
export function rangeWith(holder, axis, range) {
  return (u, min, max) => {
    for (const s of holder.segments) {
      min = Math.min(min, s[`${axis}0`], s[`${axis}1`]);
      max = Math.max(max, s[`${axis}0`], s[`${axis}1`]);
    }
    return range(u, min, max);
  };
}

/** uPlot draw hook: the whiskers over the points, clipped to the plotting area. */
export function drawWhiskers(holder) {
  return (u) => {
    const { ctx, bbox } = u;
    const cap = CAP * uPlot.pxRatio;
    ctx.save();
    ctx.beginPath();
    ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
    ctx.clip();
    ctx.lineWidth = 1.5 * uPlot.pxRatio;
    for (const s of holder.segments) {
      const [x0, x1] = [u.valToPos(s.x0, "x", true), u.valToPos(s.x1, "x", true)];
      const [y0, y1] = [u.valToPos(s.y0, "y", true), u.valToPos(s.y1, "y", true)];
      const along = y0 === y1 ? [0, cap] : [cap, 0]; // end caps across the whisker
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      ctx.lineTo(x1, y1);
      for (const [x, y] of [[x0, y0], [x1, y1]]) {
        ctx.moveTo(x - along[1], y - along[0]);
        ctx.lineTo(x + along[1], y + along[0]);
      }
      ctx.stroke();
    }
    ctx.restore();
  };
}
