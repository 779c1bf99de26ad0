"""Charts for lessons and milestones: drawn on the page in the tab, summarised as text on CPython.

    from tinytorch_wasm import plot
    plot.line([64, 128, 256], {"matmul ms": [0.2, 1.1, 8.0]}, title="Matmul time", xlabel="n", ylabel="ms")
    plot.scatter({"class 0": (xs0, ys0), "class 1": (xs1, ys1)}, title="Data")
    plot.images("Filters", [w0, w1, w2], labels=["edge", "blob", "corner"])
    plot.bars(["conv", "relu", "linear"], {"ms": [1.2, 0.1, 0.4]}, title="Time per layer", xlabel="ms")

Calling again with the same `title` replaces that chart, so a training loop can redraw it live.
"""
from __future__ import annotations

import numpy as np

from .host import emit

MAX_IMAGE_VALUES = 250_000  # one chart's pictures together; each value travels to the page as JSON


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def _values(image):
    """The numbers of an array, a nested list, or a learner's Tensor (its `.data`)."""
    return image.data if hasattr(image, "data") and not isinstance(image, np.ndarray) else image


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


def images(title: str, images, labels=None, same_scale: bool = False) -> None:
    """A grid of small grey pictures, one per 2-D array (filters, feature maps, an attention map...).

    `images` is a list of 2-D arrays or Tensors (or one 3-D array, a stack of them); `labels` one caption each. Each picture
    is drawn from its own smallest value (black) to its largest (white); `same_scale=True` uses one range for all,
    so brightness compares across pictures.
    """
    pictures = [np.asarray(_values(image), dtype=np.float64) for image in images]
    bad = [i for i, p in enumerate(pictures) if p.ndim != 2 or p.size == 0]
    if bad:
        raise ValueError(f"plot.images draws 2-D arrays; image {bad[0]} has shape {pictures[bad[0]].shape}")
    values = sum(p.size for p in pictures)
    if values > MAX_IMAGE_VALUES:
        raise ValueError(f"plot.images got {values:,} values; it draws small pictures, at most "
                         f"{MAX_IMAGE_VALUES:,} in one chart: show fewer or smaller images (x[::2, ::2] halves one)")
    labels = [str(label) for label in labels] if labels is not None else [""] * len(pictures)
    if len(labels) != len(pictures):
        raise ValueError(f"plot.images got {len(pictures)} images but {len(labels)} labels")
    emit("chart", {"kind": "images", "title": title, "same_scale": bool(same_scale), "labels": labels,
                   "images": [p.tolist() for p in pictures]})


def bars(labels, series: dict, title: str, xlabel: str = "", ylabel: str = "", log: bool = False) -> None:
    """Horizontal bars: one row per label (top to bottom), one bar per series in each row, `{name: values}` with a
    value per label. `xlabel` names the values' axis (along the bars), `ylabel` the labels' axis."""
    labels = [str(label) for label in labels]
    for name, values in series.items():
        if len(values) != len(labels):
            raise ValueError(f"plot.bars got {len(labels)} labels but {len(values)} values for {name!r}")
    emit("chart", {"kind": "bars", "title": title, "xlabel": xlabel, "ylabel": ylabel, "log_y": log,
                   "labels": labels, "series": {k: _floats(v) for k, v in series.items()}})
