"""Small trained models for lessons: the course's TinyDigits networks, trained in the tab with the learner's own
package (their Linear, Conv2d, Adam and Trainer), so that a measurement can start from a model that has learned.

    from tinytorch_wasm.trained import tinydigits_mlp, tinydigits_cnn, count_correct, tinytalks_gpt
    mlp = tinydigits_mlp()                  # the 1986 network, trained for a few epochs (seconds)
    count_correct(mlp, flat=True)           # of the 200 test digits
    talker = tinytalks_gpt()                # the 2017 tiny GPT: the learner's saved one, else a quick stand-in
    print(talker.source)                    # which of the two, and why

Several measurements on one page can share one training run: the learned weights are kept for the rest of the
session and loaded into a freshly built model on the next call, but only while the learner's package is unchanged
(any edit to it means training again, with the new code). Each call returns a model of its own to change freely.
"""
from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import artifacts
from .datasets import load_tinydigits, load_tinytalks

_kept: dict[tuple, object] = {}  # (what, settings, package fingerprint) -> the trained parameters (or tokenizer)


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
          "package; kept for the other measurements of this session)")
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


# --- the 2017 milestone's tiny GPT -----------------------------------------------------------------------------

TINY_GPT_ARTIFACT = "tiny-gpt"  # saved by the 2017 milestone: the GPT's weights, its shape and vocabulary in meta
TINY_GPT_SHAPE = {"embed_dim": 32, "num_layers": 1, "num_heads": 2, "max_seq_len": 32}  # the milestone's GPT


class TinyTalksGPT(NamedTuple):
    model: object      # a module-13 GPT of the learner's package
    tokenizer: object  # the module-10 CharTokenizer its ids belong to
    source: str        # which GPT this is, and why, in a sentence for the page
    saved: bool        # True: the one the learner trained in the 2017 milestone


def _describe(shape: dict) -> str:
    return (f"{shape.get('vocab_size', '?')} token ids, width {shape['embed_dim']}, {shape['num_layers']} layer(s), "
            f"{shape['num_heads']} heads, a window of {shape['max_seq_len']} tokens")


def _saved_tokenizer(spec: dict):
    """The learner's tokenizer the saved GPT's ids belong to, from the artifact's description of it: a CharTokenizer
    from its vocabulary, or their BPETokenizer trained again on TinyTalks (deterministic) and checked against the ids
    it gave when the GPT was saved. A ValueError says why it does not fit."""
    from tinytorch.text.tokenization import BPETokenizer, CharTokenizer
    if spec.get("kind") == "char":
        return CharTokenizer().build_vocab("".join(spec["vocab"][1:]))  # [0] is <unk>; the rest come back sorted
    if spec.get("kind") != "BPETokenizer":
        raise ValueError(f"a tokenizer of kind {spec.get('kind')!r} is not known here")
    key = ("BPE", spec["vocab_size"], _package_fingerprint())
    if key not in _kept:
        _kept[key] = BPETokenizer(spec["vocab_size"]).train(load_tinytalks().train)
    tokenizer = _kept[key]
    if tokenizer.encode(spec["check"]["text"]) != spec["check"]["ids"]:
        raise ValueError("your BPETokenizer cuts text differently from the one it learned with")
    return tokenizer


def _saved_gpt():
    """(TinyTalksGPT, None) from the 2017 milestone's artifact, or (None, why not)."""
    from tinytorch.models.transformer import GPT
    try:
        saved = artifacts.load(TINY_GPT_ARTIFACT)
    except ValueError as exc:
        return None, str(exc)
    if saved is None:
        return None, "no GPT of yours is saved yet (the 2017 milestone saves it when its run ends)"
    try:
        tokenizer = _saved_tokenizer(saved.meta["tokenizer"])
        model = GPT(**saved.meta["model"])
        artifacts.load_state_dict(model, saved.arrays)
    except (KeyError, TypeError, ValueError) as exc:
        return None, f"the saved GPT does not fit your package now ({exc})"
    loss = saved.meta.get("validation_loss")
    trained = f", validation loss {loss:.2f} nats/char" if isinstance(loss, (int, float)) else ""
    return TinyTalksGPT(model, tokenizer, f"your GPT from the 2017 milestone ({_describe(saved.meta['model'])}"
                                          f"{trained})", True), None


def tinytalks_gpt(steps: int = 40, seed: int = 2017, lr: float = 0.01, batch: int = 16) -> TinyTalksGPT:
    """The 2017 milestone's character-level GPT on TinyTalks: the one the learner trained and saved there when it
    is carried to this page and fits their package, else a GPT of the same shape trained here for `steps` steps
    (seconds; its text is far rougher). `.source` says which and why. The stand-in is trained with the learner's
    own GPT, Adam and cross-entropy and kept for the session while the package is unchanged, like the models
    above; each call returns a model of its own."""
    found, why = _saved_gpt()
    if found is not None:
        return found
    from tinytorch.core.autograd import enable_autograd
    from tinytorch.core.losses import CrossEntropyLoss
    from tinytorch.core.optimizers import Adam
    from tinytorch.models.transformer import GPT

    from tinytorch.text.tokenization import CharTokenizer

    talks = load_tinytalks()
    tokenizer = CharTokenizer().build_vocab(talks.train)
    key = ("tiny GPT", steps, seed, lr, batch, _package_fingerprint())
    np.random.seed(seed)
    model = GPT(tokenizer.vocab_size, **TINY_GPT_SHAPE)
    shape = _describe({"vocab_size": tokenizer.vocab_size, **TINY_GPT_SHAPE})
    source = (f"a stand-in GPT reading characters ({shape}) trained here for {steps} steps, because {why}; the 2017 "
              "milestone trains yours much further")
    if key in _kept:
        for p, value in zip(model.parameters(), _kept[key]):
            p.data[...] = value
        return TinyTalksGPT(model, tokenizer, source, False)
    enable_autograd()
    text = np.array(tokenizer.encode(talks.train), dtype=np.int64)
    context, vocab = TINY_GPT_SHAPE["max_seq_len"], tokenizer.vocab_size
    optimizer, loss_fn, rng = Adam(model.parameters(), lr=lr), CrossEntropyLoss(), np.random.default_rng(seed)
    started = time.perf_counter()
    for _ in range(steps):
        window = rng.integers(0, len(text) - context - 1, size=batch)[:, None] + np.arange(context + 1)
        optimizer.zero_grad()
        loss = loss_fn(model(text[window[:, :-1]]).reshape(batch * context, vocab), text[window[:, 1:]].reshape(-1))
        loss.backward()
        optimizer.step()
    print(f"(trained a stand-in tiny GPT on TinyTalks for {steps} steps in {time.perf_counter() - started:.1f} s "
          f"with your package, training loss {float(loss.data):.2f} nats/char; kept for the other measurements of "
          "this session)")
    _kept[key] = [np.array(p.data) for p in model.parameters()]
    return TinyTalksGPT(model, tokenizer, source, False)
