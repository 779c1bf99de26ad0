"""Course datasets. Stdlib + numpy only, so it runs in Pyodide and on CPython."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

# Same relative layout on disk and in the browser's virtual filesystem.
TINYDIGITS_PATH = (Path(__file__).resolve().parent.parent
                   / "curriculum" / "datasets" / "tinydigits.npz")


class TinyDigits(NamedTuple):
    x_train: np.ndarray  # float32 in [0, 1], (1000, 8, 8) or (1000, 64)
    y_train: np.ndarray  # int64, (1000,)
    x_test: np.ndarray   # float32 in [0, 1], (200, 8, 8) or (200, 64)
    y_test: np.ndarray   # int64, (200,)


def load_tinydigits(flatten: bool = False,
                    path: str | Path | None = None) -> TinyDigits:
    """Load TinyDigits: 8x8 grey digits, 100 per class train, 20 per class test.

    Pixels are stored as uint8 0..16; they come back as float32 in [0, 1].
    With flatten=True images are (N, 64) rows, ready for a Linear layer.
    """
    path = Path(path) if path is not None else TINYDIGITS_PATH
    if not path.is_file():
        raise FileNotFoundError(
            f"TinyDigits file not found: {path}. It ships with the course; "
            "regenerate it with curriculum/datasets/make_tinydigits.py.")
    with np.load(path) as data:
        def images(key: str) -> np.ndarray:
            x = data[key].astype(np.float32) / np.float32(16)
            return x.reshape(len(x), -1) if flatten else x

        return TinyDigits(images("x_train"), data["y_train"].astype(np.int64),
                          images("x_test"), data["y_test"].astype(np.int64))
