"""Charts for lessons and milestones: drawn on the page in the tab, summarised as text on CPython.

    from tinytorch_wasm import plot
    plot.line([64, 128, 256], {"matmul ms": [0.2, 1.1, 8.0]}, title="Matmul time", xlabel="n", ylabel="ms")
    plot.scatter({"class 0": (xs0, ys0), "class 1": (xs1, ys1)}, title="Data")

Calling again with the same `title` replaces that chart, so a training loop can redraw it live.
"""
from __future__ import annotations

from .host import emit


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def line(x, series: dict, title: str, xlabel: str = "", ylabel: str = "", log_x: bool = False,
         log_y: bool = False) -> None:
    """One or more lines over a shared x axis."""
    emit("chart", {"kind": "line", "title": title, "xlabel": xlabel, "ylabel": ylabel, "log_x": log_x,
                   "log_y": log_y, "x": _floats(x), "series": {k: _floats(v) for k, v in series.items()}})


def scatter(groups: dict, title: str, xlabel: str = "", ylabel: str = "", lines: dict | None = None,
            background: dict | None = None) -> None:
    """Point clouds, `{name: (xs, ys)}`, drawn large; optional straight segments `{name: ((x0, x1), (y0, y1))}`;
    and optional `background` point clouds drawn small and pale beneath them (say, a model's answer on a grid)."""
    def pairs(named):
        return {k: [_floats(xs), _floats(ys)] for k, (xs, ys) in (named or {}).items()}
    emit("chart", {"kind": "scatter", "title": title, "xlabel": xlabel, "ylabel": ylabel,
                   "groups": pairs(groups), "lines": pairs(lines), "background": pairs(background)})
