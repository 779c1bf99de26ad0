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

// Scatter groups with their own x values become one sorted x axis with gaps (null) elsewhere.
function scatterData(spec) {
  const groups = Object.entries(spec.groups).map(([label, xy]) => ({ label, xy, points: true }));
  const lines = Object.entries(spec.lines || {}).map(([label, xy]) => ({ label, xy, points: false }));
  const all = [...groups, ...lines];
  const points = [];
  all.forEach((g, gi) => g.xy[0].forEach((x, i) => points.push([x, gi, g.xy[1][i]])));
  points.sort((a, b) => a[0] - b[0]);
  const data = [points.map((p) => p[0]), ...all.map((_, gi) => points.map((p) => (p[1] === gi ? p[2] : null)))];
  const series = all.map((g, i) => ({
    label: g.label, stroke: PALETTE[i % PALETTE.length],
    width: g.points ? 0 : 2, spanGaps: !g.points,
    paths: g.points ? () => null : undefined,
    points: { show: g.points, size: 6, fill: PALETTE[i % PALETTE.length] },
  }));
  return { data, series };
}

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
      scales: layout.scales || { x: { time: false, distr: spec.log_x ? 3 : 1 }, y: { distr: spec.log_y ? 3 : 1 } },
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
