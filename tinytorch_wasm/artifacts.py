"""Artifacts: named arrays a run leaves for later ones, such as the weights of the GPT the 2017 milestone trains,
which module 18 caches keys and values for.

    from tinytorch_wasm import artifacts
    artifacts.save("tiny-gpt", artifacts.state_dict(model), meta={"config": {...}, "validation_loss": 1.21})
    saved = artifacts.load("tiny-gpt")          # an Artifact, or None when no run saved one
    artifacts.load_state_dict(model, saved.arrays)

An artifact is one `.npz` file (arrays, and `meta` as JSON inside it) in the artifacts folder. On CPython that folder
is `$TINYTORCH_ARTIFACTS` or `~/.cache/tinytorch-browser/artifacts`, so a later command finds what an earlier one
saved. In the tab the page keeps artifacts in the browser's IndexedDB (runtime/src/artifacts.js): a request carries
the ones its page declares (`artifacts = [...]` in module.toml or milestone.toml) into a fresh folder, and save()
also sends the file to the page, which stores it.
"""
from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import types
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import host

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_BYTES = 16 * 2**20  # one artifact; the page keeps them in IndexedDB, and each request carries them as text
META_KEY = "__meta__"
NOT_LAYERS = (type, types.ModuleType, types.FunctionType, types.MethodType)  # attributes never searched for weights


@dataclass(frozen=True)
class Artifact:
    name: str
    arrays: dict  # {array name: np.ndarray}
    meta: dict    # what the run said about them (configuration, measured values, when)
    bytes: int    # size of the stored file


_folder: Path | None = None  # set by using(); otherwise the environment decides
_recorders: list[list] = []  # one list per open recording(): the descriptions of what was saved inside it


def folder() -> Path:
    """Where artifacts are read and written now."""
    if _folder is not None:
        return _folder
    return Path(os.environ.get("TINYTORCH_ARTIFACTS") or Path.home() / ".cache" / "tinytorch-browser" / "artifacts")


@contextmanager
def using(path: Path):
    """Read and write artifacts in `path` while inside the block (the tab, tests, the `--artifacts` option)."""
    global _folder
    before, _folder = _folder, Path(path)
    try:
        yield _folder
    finally:
        _folder = before


@contextmanager
def recording():
    """Collect the description of every artifact saved inside the block (a milestone's result lists them)."""
    saved: list[dict] = []
    _recorders.append(saved)
    try:
        yield saved
    finally:
        _recorders.remove(saved)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"an artifact name is 1-64 small letters, digits and dashes, starting with a letter or "
                         f"digit; got {name!r}")
    return name


def encode(arrays: dict, meta: dict | None = None) -> bytes:
    """The .npz bytes of `arrays` with `meta` (JSON) inside."""
    arrays = {str(k): np.asarray(v) for k, v in arrays.items()}
    if META_KEY in arrays:
        raise ValueError(f"{META_KEY!r} is reserved for the artifact's description")
    bad = [k for k, v in arrays.items() if v.dtype == object]
    if bad:
        raise TypeError(f"artifact array {bad[0]!r} holds Python objects; save numbers only")
    text = json.dumps(meta or {}, allow_nan=False)  # refuses NaN: the page's JSON has no such number
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, **{META_KEY: np.frombuffer(text.encode(), dtype=np.uint8)})
    return buffer.getvalue()


def decode(name: str, data: bytes) -> Artifact:
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files if k != META_KEY}
        meta = json.loads(npz[META_KEY].tobytes().decode()) if META_KEY in npz.files else {}
    return Artifact(name, arrays, meta, len(data))


def save(name: str, arrays: dict, meta: dict | None = None) -> dict:
    """Keep `arrays` under `name` for later runs (replacing an earlier artifact of that name); returns its
    description {name, bytes, meta, arrays: {array: shape}}. In the tab the page stores it in the browser."""
    _check_name(name)
    data = encode(arrays, meta)
    if len(data) > MAX_BYTES:
        raise ValueError(f"artifact {name!r} is {len(data) / 2**20:.1f} MB; at most {MAX_BYTES // 2**20} MB are "
                         "kept, since the browser stores it and every request of its pages carries it")
    where = folder()
    where.mkdir(parents=True, exist_ok=True)
    path = where / f"{name}.npz"
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(path)  # whole or not at all: a run stopped mid-write leaves the earlier artifact
    info = {"name": name, "bytes": len(data), "meta": meta or {},
            "arrays": {k: list(np.shape(v)) for k, v in arrays.items()}}
    for saved in _recorders:
        saved.append(info)
    if host.page() is not None:
        host.emit("artifact", {**info, "data": base64.b64encode(data).decode("ascii")})
    else:
        print(f"saved artifact {name!r} ({len(data) / 1024:.0f} KB) in {where}")
    return info


def load(name: str) -> Artifact | None:
    """The artifact saved under `name`, or None when there is none (never saved, or not carried to this page)."""
    path = folder() / f"{_check_name(name)}.npz"
    if not path.is_file():
        return None
    try:
        return decode(name, path.read_bytes())
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"the saved artifact {name!r} is damaged ({exc}); run what made it again to replace it") \
            from None


def unpack(carried: dict, into: Path) -> None:
    """Make `into` hold exactly the artifacts a request carried: {name: base64 of the .npz}."""
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    for name, data in (carried or {}).items():
        (into / f"{_check_name(name)}.npz").write_bytes(base64.b64decode(data))


# --- models: their parameters by name ------------------------------------------------------------------------

def named_parameters(model):
    """(name, Tensor) for every parameter of `model` by where it sits: ("blocks.0.attn.q_proj.weight", ...). Found by
    walking the model's attributes (layers, lists of layers) down to Tensors that require gradients, so it works for
    any model built from the course's layers, whatever order its parameters() lists them in."""
    from tinytorch.core.tensor import Tensor  # the package the run uses

    seen = set()

    def walk(obj, path):
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            if getattr(obj, "requires_grad", False):
                yield path, obj
            return
        if isinstance(obj, (list, tuple)):
            items = enumerate(obj)
        elif isinstance(obj, dict):
            items = obj.items()
        elif hasattr(obj, "__dict__") and not isinstance(obj, NOT_LAYERS):
            items = vars(obj).items()
        else:
            return
        for key, item in items:
            yield from walk(item, f"{path}.{key}" if path else str(key))

    yield from walk(model, "")


def state_dict(model) -> dict:
    """A copy of every parameter of `model`, by name (named_parameters)."""
    return {name: np.array(t.data, copy=True) for name, t in named_parameters(model)}


def load_state_dict(model, arrays: dict) -> None:
    """Copy saved parameters into `model` (one built with the same configuration), checking every name and shape
    first, so a mismatch changes nothing and says what differs."""
    current = dict(named_parameters(model))
    missing = sorted(set(current) - set(arrays))
    extra = sorted(set(arrays) - set(current))
    shapes = [f"{k}: saved {tuple(np.shape(arrays[k]))}, model {tuple(current[k].shape)}" for k in current
              if k in arrays and tuple(np.shape(arrays[k])) != tuple(current[k].shape)]
    if missing or extra or shapes:
        problems = ([f"the saved weights have no {', '.join(missing[:4])}"] if missing else []) + \
                   ([f"the model has no {', '.join(extra[:4])}"] if extra else []) + shapes[:4]
        raise ValueError("these weights do not fit this model: " + "; ".join(problems))
    for name, tensor in current.items():
        tensor.data[...] = arrays[name]
