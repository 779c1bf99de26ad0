"""Small trained models for lessons: the course's TinyDigits networks, trained in the tab with the learner's own
package (their Linear, Conv2d, Adam and Trainer), so that a measurement can start from a model that has learned.

    from tinytorch_wasm.trained import tinydigits_mlp, tinydigits_cnn, count_correct
    mlp = tinydigits_mlp()                  # the 1986 network, trained for a few epochs (seconds)
    count_correct(mlp, flat=True)           # of the 200 test digits

Several measurements on one page can share one training run: the learned weights are kept for the rest of the
session and loaded into a freshly built model on the next call, but only while the learner's package is unchanged
(any edit to it means training again, with the new code). Each call returns a model of its own to change freely.
"""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

import numpy as np

from .datasets import load_tinydigits

_kept: dict[tuple, list[np.ndarray]] = {}  # (what, settings, package fingerprint) -> the trained parameters


def _package_fingerprint() -> str:
    """A hash of every file of the tinytorch package now importable (the learner's, assembled for this run)."""
    import tinytorch
    digest = hashlib.sha256()
    for path in sorted(Path(tinytorch.__file__).parent.rglob("*.py")):
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _trained(what: str, build, images, epochs: int, seed: int, lr: float):
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.core.training import Trainer
    from tinytorch.data.loader import DataLoader, TensorDataset

    key = (what, epochs, seed, lr, _package_fingerprint())
    np.random.seed(seed)  # the layers draw their starting weights from np.random
    model = build()
    if key in _kept:
        for p, value in zip(model.parameters(), _kept[key]):
            p.data[...] = value
        return model
    digits = load_tinydigits()
    loader = DataLoader(TensorDataset(images(digits.x_train), digits.y_train), batch_size=32, shuffle=True, seed=seed)
    trainer = Trainer(model, Adam(model.parameters(), lr=lr), CrossEntropyLoss())
    started = time.perf_counter()
    for _ in range(epochs):
        trainer.train_epoch(loader)
    print(f"(trained the {what} on TinyDigits for {epochs} epochs in {time.perf_counter() - started:.1f} s with your "
          "package; kept for the other measurements of this session)", file=sys.stderr)
    _kept[key] = [np.array(p.data) for p in model.parameters()]
    return model


def flat_images(x):
    return x.reshape(len(x), -1)


def channel_images(x):
    return x.reshape(len(x), 1, 8, 8)


def tinydigits_mlp(epochs: int = 8, hidden: int = 64, seed: int = 1986, lr: float = 0.01):
    """The 1986 milestone's MLP (64 pixels -> hidden -> 10), trained with Adam, batch 32. Takes (N, 64) images."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    return _trained(f"MLP (64-{hidden}-10)", lambda: Sequential(Linear(64, hidden), ReLU(), Linear(hidden, 10)),
                    flat_images, epochs, seed, lr)


def tinydigits_cnn(epochs: int = 4, seed: int = 1998, lr: float = 0.01):
    """The 1998 milestone's CNN (3x3 conv 1->16 with padding, max-pool 2, Linear 256->10). Takes (N, 1, 8, 8)."""
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
    return _trained("CNN", lambda: Sequential(Conv2d(1, 16, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                                              Linear(256, 10)), channel_images, epochs, seed, lr)


def count_correct(model, flat: bool = True, images=None, labels=None) -> int:
    """How many test digits (or the given images and labels) `model` classifies right, as a whole count."""
    from tinytorch.core.autograd import no_grad
    from tinytorch.core.tensor import Tensor
    if images is None:
        digits = load_tinydigits()
        images, labels = digits.x_test, digits.y_test
    x = flat_images(images) if flat else channel_images(images)
    with no_grad():
        return int(np.sum(model(Tensor(x)).data.argmax(axis=-1) == np.asarray(labels)))
