// Bar charts sent by plot.bars: one row per label, top to bottom, one bar per series in each row. The bars lie
// horizontally so that long labels (layer names) stay readable; uPlot draws them with its bars paths, a series'
// bars shifted within each row when there are several series.
import uPlot from "uplot";

const ROW_PX = 22; // height of one label's row, per series

export function barChart(spec, palette) {
  const names = Object.keys(spec.series);
  const labels = spec.labels;
  const rows = labels.map((_, i) => i);
  const share = 0.8 / names.length; // each series' slice of a row
  const series = names.map((label, k) => ({
    label, fill: palette[k % palette.length], stroke: palette[k % palette.length], width: 0,
    paths: uPlot.paths.bars({
      disp: {
        x0: { unit: 1, values: (u) => u.data[0].map((row) => row - 0.4 + k * share) },
        size: { unit: 1, values: (u) => u.data[0].map(() => share) },
      },
    }),
    points: { show: false },
  }));
  return {
    data: [rows, ...names.map((n) => spec.series[n])],
    series,
    xSeries: { label: spec.ylabel || "row", value: (u, row) => labels[row] ?? "" },
    height: 70 + Math.max(3, labels.length) * Math.max(ROW_PX, ROW_PX * 0.6 * names.length),
    scales: {
      x: { time: false, ori: 1, dir: -1, range: [-0.5, labels.length - 0.5] },
      y: { ori: 0, distr: spec.log_y ? 3 : 1, range: spec.log_y ? undefined : (u, min, max) => [Math.min(0, min), max * 1.05] },
    },
    axes: [
      { side: 3, label: spec.ylabel, stroke: "currentColor", splits: () => rows, values: (u, splits) => splits.map((i) => labels[i] ?? ""),
        size: Math.min(220, 14 + 7 * Math.max(...labels.map((l) => l.length))), gap: 4, grid: { show: false } },
      { side: 2, label: spec.xlabel, stroke: "currentColor" },
    ],
  };
}
