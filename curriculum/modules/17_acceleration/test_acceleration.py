"""Tests for module 17 (Acceleration). Products are compared with float64 NumPy within float32 rounding, GELU with
its formula in float64, gradients with central finite differences; never with a reference implementation.

The compiled kernel exists only in the browser tab. So that the backend's choices (kernel or NumPy, and which
operands) are checked everywhere, most backend tests hand it a stand-in that follows the kernel's rules and counts
its calls; one test uses whatever this Python really has: the kernel in the tab, none on CPython."""
import tracemalloc

import numpy as np
import pytest

from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.acceleration import (backend_matmul, fused_gelu, get_backend, row_matmul, set_backend,
                                                 tiled_matmul, vectorized_matmul)
from tinytorch_wasm import kernels
from tinytorch_wasm.gradcheck import numeric_grad

enable_autograd()

RNG = np.random.default_rng(1717)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def assert_product(got, a, b, what):
    """`got` equals a @ b within float32 rounding. Adding K float32 products, in any order, is exact up to about
    K * 2**-24 of the sum of their magnitudes; allow twice that: |got - exact| <= K * 2**-23 * (|a| @ |b|)."""
    got = np.asarray(got.data if isinstance(got, Tensor) else got)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = np.matmul(a64, b64)
    assert got.shape == exact.shape, f"{what}: the result has shape {got.shape}, expected {exact.shape}"
    bound = a.shape[-1] * 2.0 ** -23 * np.matmul(np.abs(a64), np.abs(b64)) + 1e-30
    excess = np.abs(got - exact) - bound
    assert np.all(excess <= 0), (f"{what}: wrong at {np.unravel_index(np.argmax(excess), excess.shape)}; largest "
                                 f"error {np.abs(got - exact).max():.3g}\ngot\n{np.round(got, 3)}\nexpected\n"
                                 f"{np.round(exact, 3)}")


@pytest.fixture(autouse=True)
def numpy_backend_afterwards():
    """Every test starts and ends with your Tensor's own matmul, so one test's backend never leaks into the next."""
    yield
    try:
        set_backend("numpy")
    except Exception:  # noqa: BLE001 - a set_backend still to be written: its own tests say so
        pass


class KernelStandIn:
    """Plays the tab's compiled kernel: takes exactly what the real one takes (kernels.unsupported decides, as it
    does in the tab), computes the product, and records each call's operand shapes."""

    def __init__(self):
        self.calls = []

    def available(self):
        return True

    def matmul(self, a, b):
        problem = kernels.unsupported(a, b)
        assert problem is None, f"the compiled kernel was handed operands it cannot take: {problem}"
        self.calls.append((a.shape, b.shape))
        return (a.astype(np.float64) @ b).astype(np.float32)


@pytest.fixture
def kernel(monkeypatch):
    stand_in = KernelStandIn()
    monkeypatch.setattr(kernels, "available", stand_in.available)
    monkeypatch.setattr(kernels, "matmul", stand_in.matmul)
    return stand_in


# --- 17.1 from loops to one call ------------------------------------------------------------------------------

SHAPES = [(1, 1, 1), (2, 3, 4), (5, 7, 3), (16, 16, 16), (9, 1, 6), (1, 12, 1)]


@pytest.mark.exercise("17.1")
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_row_matmul_equals_the_product(m, k, n):
    a, b = rand(m, k), rand(k, n)
    out = row_matmul(Tensor(a), Tensor(b))
    assert isinstance(out, Tensor), f"row_matmul should return a Tensor, got {type(out).__name__}"
    assert_product(out, a, b, f"row_matmul of {a.shape} and {b.shape}")


@pytest.mark.exercise("17.1")
def test_vectorized_matmul_multiplies_matrices_and_batches():
    for a, b in [(rand(4, 3), rand(3, 5)), (rand(3, 3), rand(3, 3)),
                 (rand(2, 4, 3), rand(3, 5)),        # a batch of matrices times one matrix
                 (rand(2, 4, 3), rand(2, 3, 5)),     # two batches, entry by entry
                 (rand(2, 1, 4, 3), rand(3, 3, 5))]:  # batch dimensions that broadcast
        out = vectorized_matmul(Tensor(a), b)
        assert isinstance(out, Tensor), f"vectorized_matmul should return a Tensor, got {type(out).__name__}"
        assert out.data.dtype == np.float32, f"the product should stay float32, got {out.data.dtype}"
        assert_product(out, a, b, f"vectorized_matmul of {a.shape} and {b.shape}")


@pytest.mark.exercise("17.1")
def test_mismatched_shapes_name_both_shapes():
    for f in (row_matmul, vectorized_matmul):
        with pytest.raises(ValueError) as error:
            f(Tensor(rand(2, 3)), Tensor(rand(4, 5)))
        assert "(2, 3)" in str(error.value) and "(4, 5)" in str(error.value), (
            f"{f.__name__}: the error should name both shapes, got: {error.value}")
    with pytest.raises(ValueError):
        vectorized_matmul(Tensor(rand(3)), Tensor(rand(3, 2)))  # a vector is not a matrix here


# --- 17.2 fusion ------------------------------------------------------------------------------------------------

def gelu64(x):
    x = x.astype(np.float64)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


@pytest.mark.exercise("17.2")
def test_fused_gelu_equals_the_formula():
    x = np.concatenate([np.linspace(-6, 6, 49), [0.0, -0.5, 0.5, 20.0, -20.0]]).astype(np.float32)
    for shaped in (x, x[:48].reshape(6, 8), x[:48].reshape(2, 3, 8)):
        out = fused_gelu(Tensor(shaped))
        assert isinstance(out, Tensor), f"fused_gelu should return a Tensor, got {type(out).__name__}"
        assert out.shape == shaped.shape, f"GELU keeps the shape {shaped.shape}, got {out.shape}"
        assert np.allclose(out.data, gelu64(shaped), rtol=1e-5, atol=1e-6), (
            f"fused_gelu differs from 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) by up to "
            f"{np.abs(out.data - gelu64(shaped)).max():.3g}")


@pytest.mark.exercise("17.2")
def test_fused_gelu_leaves_its_input_alone():
    data = rand(4, 5)
    x = Tensor(data)
    fused_gelu(x)
    assert np.array_equal(x.data, data), "fused_gelu changed its input: work in place only in the new array"


@pytest.mark.exercise("17.2")
def test_fused_gelu_needs_one_new_array_of_memory():
    # The result is one new array, and your Tensor copies it once: 2 arrays' worth at the peak. An unfused formula
    # keeps several temporaries alive at once (module 02's GELU: about 5), and a float64 step doubles them.
    x = Tensor(rand(100_000))
    fused_gelu(x)  # anything imported or cached on the first call is not counted
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = fused_gelu(x)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert out.shape == x.shape
    assert peak <= 2.5 * x.data.nbytes, (
        f"fused_gelu needed {peak / x.data.nbytes:.1f} arrays' worth of memory at its peak; one new array, changed "
        "in place (out *= ..., np.tanh(out, out=out)), needs 2 with your Tensor's copy. Keep every step float32.")


@pytest.mark.exercise("17.2")
def test_fused_gelu_has_gelus_gradient():
    data = rand(3, 4)
    x = Tensor(data, requires_grad=True)
    upstream = rand(3, 4)
    fused_gelu(x).backward(Tensor(upstream))
    eps = 1e-3
    slope = (gelu64(data.astype(np.float64) + eps) - gelu64(data.astype(np.float64) - eps)) / (2 * eps)
    assert x.grad is not None, "no gradient reached x through fused_gelu"
    assert np.allclose(x.grad.data, upstream * slope, atol=1e-4), "fused_gelu's gradient is not GELU's"


# --- 17.3 tiling ------------------------------------------------------------------------------------------------

@pytest.mark.exercise("17.3")
@pytest.mark.parametrize("m, k, n, tile", [
    (5, 7, 3, 1), (5, 7, 3, 2), (16, 16, 16, 4), (64, 64, 64, 64), (65, 33, 130, 16), (30, 40, 50, 7),
    (3, 100, 2, 32), (10, 10, 10, 200), (1, 1, 1, 64)])
def test_tiled_matmul_equals_the_product(m, k, n, tile):
    a, b = rand(m, k), rand(k, n)
    out = tiled_matmul(Tensor(a), Tensor(b), tile)
    assert isinstance(out, Tensor), f"tiled_matmul should return a Tensor, got {type(out).__name__}"
    assert out.data.dtype == np.float32, f"the product should stay float32, got {out.data.dtype}"
    assert_product(out, a, b, f"tiled_matmul of {a.shape} and {b.shape} in {tile} x {tile} tiles")


@pytest.mark.exercise("17.3")
def test_tiled_matmul_refuses_what_it_cannot_do():
    for bad in (0, -4, 2.5, "64", True):
        with pytest.raises(ValueError):
            tiled_matmul(Tensor(rand(4, 4)), Tensor(rand(4, 4)), bad)
    with pytest.raises(ValueError) as error:
        tiled_matmul(Tensor(rand(2, 3)), Tensor(rand(4, 5)), 2)
    assert "(2, 3)" in str(error.value) and "(4, 5)" in str(error.value)


# --- 17.4 a matmul backend --------------------------------------------------------------------------------------

@pytest.mark.exercise("17.4")
def test_set_backend_knows_its_backends():
    assert get_backend() == "numpy", "NumPy is the backend until set_backend chooses another"
    set_backend("simd")
    assert get_backend() == "simd"
    with pytest.raises(ValueError) as error:
        set_backend("cuda")
    assert "numpy" in str(error.value) and "simd" in str(error.value), (
        f"an unknown backend's error should list the choices, got: {error.value}")
    assert get_backend() == "simd", "a refused backend must leave the current one in place"
    set_backend("numpy")
    assert get_backend() == "numpy"


@pytest.mark.exercise("17.4")
def test_simd_backend_sends_matrices_to_the_kernel(kernel):
    a, b = rand(33, 20), rand(20, 17)
    set_backend("simd")
    assert_product(backend_matmul(a, b), a, b, "backend_matmul on simd")
    # Transposed views (every backward pass makes them) are copied contiguous and still go to the kernel.
    at, bt = a.T, b.T  # (20, 33) and (17, 20), not C-contiguous
    assert_product(backend_matmul(bt, at), bt, at, "backend_matmul of two transposed views on simd")
    assert kernel.calls == [((33, 20), (20, 17)), ((17, 20), (20, 33))], (
        f"both products should have been computed by the kernel, it saw: {kernel.calls}")
    set_backend("numpy")
    assert_product(backend_matmul(a, b), a, b, "backend_matmul on numpy")
    assert len(kernel.calls) == 2, "the numpy backend must not call the kernel"


@pytest.mark.exercise("17.4")
def test_simd_backend_falls_back_to_numpy_for_what_the_kernel_cannot_take(kernel):
    set_backend("simd")
    for a, b in [(rand(3, 4, 5), rand(3, 5, 2)),   # a batch of weights
                 (rand(4), rand(4, 3)),             # a vector
                 (rand(4, 3), rand(3))]:
        assert_product(backend_matmul(a, b), a, b, f"backend_matmul of {a.shape} and {b.shape} on simd")
    assert kernel.calls == [], f"the kernel takes only two matrices, but it was handed {kernel.calls}"
    a, b = rand(3, 4, 5), rand(5, 2)  # a batch times ONE weight: one tall product (given), for the kernel
    assert_product(backend_matmul(a, b), a, b, "backend_matmul of a batch and one matrix on simd")
    assert kernel.calls == [((12, 5), (5, 2))], f"a batch times one matrix should be one kernel call: {kernel.calls}"


@pytest.mark.exercise("17.4")
def test_simd_backend_where_there_is_no_kernel_uses_numpy(monkeypatch):
    # As on CPython or in a browser without WebAssembly SIMD: asking the kernel anyway raises, as the real one does.
    def no_kernel(a, b):
        raise kernels.KernelUnavailable("there is no compiled kernel in this test")
    monkeypatch.setattr(kernels, "available", lambda: False)
    monkeypatch.setattr(kernels, "matmul", no_kernel)
    set_backend("simd")
    a, b = rand(7, 5), rand(5, 3)
    assert_product(backend_matmul(a, b), a, b, "backend_matmul on simd where there is no kernel")


@pytest.mark.exercise("17.4")
def test_simd_backend_with_or_without_a_compiled_kernel():
    """The kernel this Python really has: in the tab the product must come from it; on CPython, where there is none,
    the simd backend must still give the product (from NumPy) instead of failing."""
    a, b = rand(40, 24), rand(24, 30)
    set_backend("simd")
    before = kernels.call_count()
    assert_product(backend_matmul(a, b), a, b, "backend_matmul on simd with this Python's kernel")
    if kernels.available():
        assert kernels.call_count() == before + 1, "the tab has a compiled kernel, but the simd backend did not use it"
    else:
        assert kernels.call_count() == before


# --- 17.5 the backend in your Tensor ----------------------------------------------------------------------------

@pytest.mark.exercise("17.5")
def test_tensor_matmul_goes_through_the_backend(kernel):
    a, b = rand(6, 5), rand(5, 4)
    set_backend("simd")
    assert_product(Tensor(a) @ Tensor(b), a, b, "Tensor @ Tensor on simd")
    assert_product(Tensor(a).matmul(b), a, b, "Tensor.matmul on simd")
    assert len(kernel.calls) == 2, f"on simd, both products should reach the kernel; it saw {kernel.calls}"
    with pytest.raises(ValueError) as error:
        Tensor(a) @ Tensor(rand(4, 4))
    assert "(6, 5)" in str(error.value) and "(4, 4)" in str(error.value)
    set_backend("numpy")
    assert_product(Tensor(a) @ Tensor(b), a, b, "Tensor @ Tensor back on numpy")
    assert len(kernel.calls) == 2, "after set_backend('numpy') your Tensor's own matmul must be back"


@pytest.mark.exercise("17.5")
def test_gradients_on_the_simd_backend_match_finite_differences(kernel):
    set_backend("simd")
    x, w1, w2 = (Tensor(rand(*s), requires_grad=True) for s in [(5, 4), (4, 6), (6, 3)])
    upstream = rand(5, 3)

    def forward():
        h = x @ w1
        return (h * h) @ w2

    out = forward()
    forward_calls = len(kernel.calls)
    out.backward(Tensor(upstream))
    assert len(kernel.calls) - forward_calls == 4, (
        f"backward of two matmuls needs 4 products (grad_output @ b.T and a.T @ grad_output for each); "
        f"{len(kernel.calls) - forward_calls} reached the kernel")

    def weighted_output():
        with no_grad():
            return float(np.sum(forward().data.astype(np.float64) * upstream))

    for name, t in [("x", x), ("w1", w1), ("w2", w2)]:
        assert t.grad is not None, f"no gradient reached {name} through the simd backend's matmul"
        numeric = numeric_grad(weighted_output, t)
        assert np.allclose(t.grad.data, numeric, atol=5e-3, rtol=1e-2), (
            f"the gradient of {name} is wrong on the simd backend; largest error "
            f"{np.abs(t.grad.data - numeric).max():.3g}")


@pytest.mark.exercise("17.5")
def test_batched_matmul_gradients_on_the_simd_backend(kernel):
    set_backend("simd")
    a, w = Tensor(rand(2, 3, 4), requires_grad=True), Tensor(rand(4, 5), requires_grad=True)
    upstream = rand(2, 3, 5)
    (a @ w).backward(Tensor(upstream))
    assert kernel.calls == [((6, 4), (4, 5)), ((6, 5), (5, 4)), ((4, 6), (6, 5))], (
        f"a batch times one weight is one tall product forward and two backward, all for the kernel: {kernel.calls}")
    assert a.grad is not None and w.grad is not None, "no gradient reached a batched matmul's operands on simd"
    assert np.allclose(a.grad.data, upstream @ w.data.T, atol=1e-5), "the batch's gradient is grad_output @ w^T"
    assert np.allclose(w.grad.data, np.einsum("bmk,bmn->kn", a.data, upstream), atol=1e-4), (
        "a weight shared by the whole batch gets the sum of every entry's a^T @ grad_output")
    x, y = Tensor(rand(2, 3, 4), requires_grad=True), Tensor(rand(2, 4, 5), requires_grad=True)
    (x @ y).backward(Tensor(upstream))
    assert len(kernel.calls) == 3, "a batch of weights is NumPy's to multiply, forward and backward"
    assert np.allclose(x.grad.data, upstream @ np.swapaxes(y.data, 1, 2), atol=1e-5)
    assert np.allclose(y.grad.data, np.swapaxes(x.data, 1, 2) @ upstream, atol=1e-5)
