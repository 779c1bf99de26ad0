"""Course datasets. Stdlib + numpy only, so it runs in Pyodide and on CPython."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

# Same relative layout on disk and in the browser's virtual filesystem.
DATASETS = Path(__file__).resolve().parent.parent / "curriculum" / "datasets"
TINYDIGITS_PATH = DATASETS / "tinydigits.npz"
TINYTALKS_PATHS = (DATASETS / "tinytalks_train.txt", DATASETS / "tinytalks_validation.txt")


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


class TinyTalks(NamedTuple):
    train: str       # ~600 question-answer pairs, "Q: ...\nA: ...\n\n" each
    validation: str  # ~70 other pairs: no question or answer of them is in train


def load_tinytalks(folder: str | Path | None = None) -> TinyTalks:
    """Load TinyTalks, the course's generated question-answer text: (train, validation) strings.

    See curriculum/datasets/README.md for how it is made and what the two parts share.
    """
    paths = TINYTALKS_PATHS if folder is None else tuple(Path(folder) / p.name for p in TINYTALKS_PATHS)
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"TinyTalks file not found: {path}. It ships with the course; "
                "regenerate it with curriculum/datasets/make_tinytalks.py.")
    return TinyTalks(*(path.read_text(encoding="utf-8") for path in paths))


def char_ngram_cross_entropy(train: str, validation: str, order: int, alpha: float = 0.1) -> float:
    """Cross-entropy in nats per character of `validation` under a character n-gram model counted on `train`.

    order=1 is the unigram baseline (each character's frequency), order=2 the bigram (the next character given
    the one before): what a language model must beat to have learned more than character counts. Counts get
    add-`alpha` smoothing over every character of either text, so a pair never seen in train costs a finite
    amount. The first order-1 characters of `validation`, which have no full context, are not scored.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 (unigram) or 2 (bigram), got {order}")
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, or an unseen character costs infinitely many nats; got {alpha}")
    alphabet = {c: i for i, c in enumerate(sorted(set(train) | set(validation)))}
    k = len(alphabet)
    tr = np.array([alphabet[c] for c in train], dtype=np.intp)
    va = np.array([alphabet[c] for c in validation], dtype=np.intp)
    if order == 1:
        counts = np.bincount(tr, minlength=k) + alpha
        log_p = np.log(counts / counts.sum())
        return float(-log_p[va].mean())
    pairs = np.bincount(tr[:-1] * k + tr[1:], minlength=k * k).reshape(k, k) + alpha
    log_p = np.log(pairs / pairs.sum(axis=1, keepdims=True))
    return float(-log_p[va[:-1], va[1:]].mean())


def text_baselines(train: str, validation: str) -> dict[str, float]:
    """The unigram and bigram cross-entropies (nats/char) of `validation`, for a language model to beat."""
    return {"unigram": char_ngram_cross_entropy(train, validation, 1),
            "bigram": char_ngram_cross_entropy(train, validation, 2)}
