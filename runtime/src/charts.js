// Charts sent by Python (tinytorch_wasm.plot): lines, scatter plots and bars (bars.js) drawn with uPlot, image grids
// (images.js) on canvases.
// A chart is keyed by its title, so a training loop that re-sends the same title updates one chart in place instead
// of piling up new ones.
import uPlot from "uplot";
import { barChart } from "./bars.js";
import { imageGrid } from "./images.js";

const PALETTE = ["#e65100", "#1565c0", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037", "#ad1457"];

function lineData(spec) {
  const names = Object.keys(spec.series);
  return {
    data: [spec.x, ...names.map((n) => spec.series[n])],
    series: names.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 2,
      points: { show: spec.x.length <= 40 } })),
  };
}

// Scatter groups with their own x values become one sorted x axis with gaps (null) elsewhere. Background groups
// (a decision region on a grid) are drawn first, small and pale; the data points on top, large and outlined.
function scatterData(spec) {
  const kinds = [["background", spec.background], ["points", spec.groups], ["line", spec.lines]];
  const all = kinds.flatMap(([kind, named]) => Object.entries(named || {}).map(([label, xy]) => ({ label, xy, kind })));
  const points = [];
  all.forEach((g, gi) => g.xy[0].forEach((x, i) => points.push([x, gi, g.xy[1][i]])));
  points.sort((a, b) => a[0] - b[0]);
  const data = [points.map((p) => p[0]), ...all.map((_, gi) => points.map((p) => (p[1] === gi ? p[2] : null)))];
  const counters = { background: 0, points: 0, line: 0 };
  const series = all.map((g) => {
    const colour = PALETTE[counters[g.kind]++ % PALETTE.length];
    if (g.kind === "line") return { label: g.label, stroke: colour, width: 2, spanGaps: true, points: { show: false } };
    const background = g.kind === "background";
    // `fill` draws nothing here (no paths): it colours the series' square in the legend.
    return { label: g.label, stroke: background ? colour + "66" : "#000", fill: background ? colour + "66" : colour,
      width: 0, paths: () => null,
      points: { show: true, size: background ? 5 : 11, width: background ? 0 : 1.5,
        stroke: background ? colour + "66" : "#000", fill: background ? colour + "66" : colour } };
  });
  return { data, series };
}

// A margin around the data, so that points on the edge are drawn whole (and uPlot, which finds the visible points
// by index, draws every point of a column at the edge, not only the first).
const padded = (u, min, max) => {
  const pad = (max - min || 1) * 0.06;
  return [min - pad, max + pad];
};

export class ChartBoard {
  constructor(container) {
    this.container = container;
    this.charts = new Map(); // title -> { figure, plot (a uPlot, for lines and scatter plots) }
  }

  draw(spec) {
    if (spec.kind === "images") {
      this.place(spec.title, { figure: imageGrid(spec) });
      return;
    }
    const layout = spec.kind === "bars" ? barChart(spec, PALETTE) : spec.kind === "scatter" ? scatterData(spec) : lineData(spec);
    const { data, series } = layout;
    const existing = this.charts.get(spec.title);
    const sameSeries = existing && existing.plot && spec.kind !== "bars" &&
      existing.plot.series.slice(1).map((x) => x.label).join("\n") === series.map((x) => x.label).join("\n");
    if (sameSeries) {
      existing.plot.setData(data);
      return;
    }
    const figure = document.createElement("figure");
    figure.className = "tt-chart";
    figure.setAttribute("aria-label", spec.title);
    const chart = { figure };
    this.place(spec.title, chart); // in the page before uPlot measures it
    const width = Math.max(280, Math.min(640, this.container.clientWidth || 560));
    chart.plot = new uPlot({
      title: spec.title, width, height: layout.height || 260,
      legend: { live: false }, // the series names only: values under the cursor would show "--" until hovered
      scales: layout.scales || (spec.kind === "scatter" ? { x: { time: false, range: padded }, y: { range: padded } }
        : { x: { time: false, distr: spec.log_x ? 3 : 1 }, y: { distr: spec.log_y ? 3 : 1 } }),
      axes: layout.axes || [{ label: spec.xlabel, stroke: "currentColor" }, { label: spec.ylabel, stroke: "currentColor" }],
      series: [layout.xSeries || { label: spec.xlabel || "x" }, ...series],
    }, data, figure);
  }

  /** Show a chart's figure: where the chart of the same title was, or after the others. */
  place(title, chart) {
    const existing = this.charts.get(title);
    if (existing) existing.figure.replaceWith(chart.figure);
    else this.container.append(chart.figure);
    this.charts.set(title, chart);
  }

  clear() {
    this.charts.forEach(({ figure }) => figure.remove());
    this.charts.clear();
  }
}
