"""Compiled kernels: a WebAssembly SIMD float32 matrix product working on NumPy arrays where they lie in memory.

    from tinytorch_wasm import kernels
    if kernels.available():
        c = kernels.matmul(a, b)          # a (M, K), b (K, N): float32, C-contiguous
    else:
        print(kernels.why_unavailable())  # on CPython, or in a browser without WebAssembly SIMD

The kernel itself is runtime/kernels/matmul.wat; the worker links it against Python's memory (runtime/src/kernels.js)
and offers it as the JS module `tt_kernels`. It exists only in the tab: on CPython (tests, grading) `available()` is
False, `matmul` raises KernelUnavailable, and code that wants speed where there is some falls back to NumPy.
Its results equal NumPy's within float32 rounding: it adds the same products in another order.
"""
from __future__ import annotations

import numpy as np

try:
    import tt_kernels  # registered by runtime/src/kernels.js in the tab
except ImportError:
    tt_kernels = None

NOT_IN_A_TAB = ("the compiled kernels exist only in the browser tab (WebAssembly, linked by the course's worker); "
                "this Python has none, so NumPy does the work")


class KernelUnavailable(RuntimeError):
    """There is no compiled kernel in this Python (CPython, or a browser without WebAssembly SIMD)."""


class UnsupportedInput(ValueError):
    """The kernel cannot take these arrays (dtype, dimensions, layout or shapes); NumPy can."""


_calls = 0


def why_unavailable() -> str | None:
    """Why there is no kernel here, or None when there is one."""
    if tt_kernels is None:
        return NOT_IN_A_TAB
    return tt_kernels.unavailable


def available() -> bool:
    return why_unavailable() is None


def unsupported(a, b) -> str | None:
    """Why `matmul(a, b)` cannot take these operands, or None when it can. The same rules hold everywhere, so this
    answers on CPython too."""
    for name, x in (("a", a), ("b", b)):
        if not isinstance(x, np.ndarray):
            return f"{name} is a {type(x).__name__}, not a NumPy array"
        if x.dtype != np.float32:
            return f"{name} is {x.dtype}; the kernel multiplies float32 only"
        if x.ndim != 2:
            return f"{name} has {x.ndim} dimension(s) (shape {x.shape}); the kernel multiplies two matrices"
        if not x.flags.c_contiguous:
            return (f"{name} is not C-contiguous (strides {x.strides}): the kernel walks rows packed one after "
                    "another; np.ascontiguousarray makes such a copy")
    if a.shape[1] != b.shape[0]:
        return f"cannot multiply shapes {a.shape} and {b.shape}: inner dimensions {a.shape[1]} and {b.shape[0]} differ"
    return None


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b by the compiled kernel, as a new float32 array. Raises KernelUnavailable where there is no kernel and
    UnsupportedInput for operands it cannot take (see `unsupported`)."""
    global _calls
    reason = why_unavailable()
    if reason is not None:
        raise KernelUnavailable(reason)
    problem = unsupported(a, b)
    if problem is not None:
        raise UnsupportedInput(problem)
    (m, k), n = a.shape, b.shape[1]
    out = np.empty((m, n), dtype=np.float32)
    scratch = np.empty(k * 8 + 32, dtype=np.float32)  # the kernel's packed columns of b, and one edge tile
    tt_kernels.matmul_f32(_address(a), _address(b), _address(out), m, n, k, _address(scratch))
    _calls += 1
    return out


def call_count() -> int:
    """How many products the kernel has computed in this Python: proof that a backend really used it."""
    return _calls


def _address(x: np.ndarray) -> int:
    return x.__array_interface__["data"][0]
