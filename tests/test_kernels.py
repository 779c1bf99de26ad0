"""The compiled matmul kernel's Python side (tinytorch_wasm.kernels) on CPython, where there is no kernel. The kernel's
own tests run in Node (tests/test_runtime_node.py); the browser tests run it on NumPy's memory in the tab."""
import ctypes
import sys

import numpy as np
import pytest

from tinytorch_wasm import kernels


def test_on_cpython_there_is_no_kernel_and_it_says_why():
    assert not kernels.available()
    assert "only in the browser tab" in kernels.why_unavailable()
    a = np.ones((2, 2), np.float32)
    with pytest.raises(kernels.KernelUnavailable, match="only in the browser tab"):
        kernels.matmul(a, a)


@pytest.mark.parametrize("a, b, reason", [
    (np.ones((2, 3)), np.ones((3, 4), np.float32), "a is float64"),
    (np.ones((2, 3), np.float32), np.ones((3, 4), np.int64), "b is int64"),
    (np.ones(3, np.float32), np.ones((3, 4), np.float32), "a has 1 dimension"),
    (np.ones((2, 2, 3), np.float32), np.ones((3, 4), np.float32), "a has 3 dimension"),
    (np.ones((3, 2), np.float32).T, np.ones((3, 4), np.float32), "a is not C-contiguous"),
    (np.ones((2, 3), np.float32), np.ones((4, 6), np.float32)[:3, ::2], "b is not C-contiguous"),
    (np.ones((2, 3), np.float32), np.ones((4, 5), np.float32), "cannot multiply shapes (2, 3) and (4, 5)"),
    ([[1.0]], np.ones((1, 1), np.float32), "a is a list"),
])
def test_what_the_kernel_cannot_take_is_named(a, b, reason):
    assert reason in kernels.unsupported(a, b)


def test_what_the_kernel_can_take():
    for m, k, n in [(1, 1, 1), (3, 0, 2), (0, 4, 5), (7, 13, 17)]:
        assert kernels.unsupported(np.ones((m, k), np.float32), np.ones((k, n), np.float32)) is None
    view = np.ones((6, 4), np.float32)[2:]  # a C-contiguous view that starts inside another array
    assert kernels.unsupported(view, np.ones((4, 3), np.float32)) is None


class KernelInMemory:
    """Stands in for the tab's `tt_kernels` on CPython, with the kernel's contract: addresses of A (M x K), B (K x N)
    and C (M x N), C-contiguous float32, then M, N, K, and scratch room for K * 8 + 32 floats; it reads and writes
    memory at those addresses, as the kernel does in Python's memory."""
    unavailable = None

    def __init__(self):
        self.calls = []

    @staticmethod
    def _view(address, shape):
        size = int(np.prod(shape))
        if size == 0:
            return np.zeros(shape, np.float32)
        return np.ctypeslib.as_array(ctypes.cast(address, ctypes.POINTER(ctypes.c_float)), (size,)).reshape(shape)

    def matmul_f32(self, a, b, c, m, n, k, scratch):
        self.calls.append((m, n, k))
        self._view(scratch, (k * 8 + 32,))[:] = np.nan  # the kernel may overwrite its scratch room, all of it
        self._view(c, (m, n))[:] = self._view(a, (m, k)).astype(np.float64) @ self._view(b, (k, n))


def test_matmul_passes_the_kernel_the_arrays_addresses_and_shapes(monkeypatch):
    fake = KernelInMemory()
    monkeypatch.setattr(kernels, "tt_kernels", fake)
    assert kernels.available() and kernels.why_unavailable() is None
    rng = np.random.default_rng(11)
    before = kernels.call_count()
    for m, k, n in [(3, 5, 7), (1, 9, 1), (4, 0, 2)]:
        a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
        c = kernels.matmul(a, b)
        assert c.shape == (m, n) and c.dtype == np.float32 and c.flags.c_contiguous
        np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-6, atol=1e-6)
    assert fake.calls == [(3, 7, 5), (1, 1, 9), (4, 2, 0)]
    assert kernels.call_count() == before + 3
    with pytest.raises(kernels.UnsupportedInput, match="not C-contiguous"):
        kernels.matmul(np.ones((3, 2), np.float32).T, np.ones((3, 2), np.float32))


def test_a_browser_without_simd_is_reported_as_such(monkeypatch):
    class NoSimd:
        unavailable = "this browser's WebAssembly has no SIMD instructions"
    monkeypatch.setattr(kernels, "tt_kernels", NoSimd)
    assert not kernels.available()
    with pytest.raises(kernels.KernelUnavailable, match="no SIMD"):
        kernels.matmul(np.ones((1, 1), np.float32), np.ones((1, 1), np.float32))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
