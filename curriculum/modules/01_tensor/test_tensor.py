"""Tests for module 01 (Tensor). Expected values come from hand-worked numbers and NumPy, never from a reference."""
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor

# Small inputs with known values, shared by several tests.
M23 = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]        # shape (2, 3)
NEG = [[3.0, -1.0, 2.0], [-4.0, 5.0, 0.5]]      # shape (2, 3), mixed signs so max/sum differ by axis


def values(t):
    """A Tensor's values as a float64 array, so comparisons do not depend on how the learner stored them."""
    assert isinstance(t, Tensor), f"expected a Tensor, got {type(t).__name__}"
    return np.asarray(t.data, dtype=np.float64)


# --- 1.1 construction, dtype and memory ---------------------------------------------------------------------

@pytest.mark.exercise("1.1")
@pytest.mark.parametrize("source, shape, expected", [
    (5, (), [5.0]),
    (2.5, (), [2.5]),
    ([1, 2, 3], (3,), [1.0, 2.0, 3.0]),
    ([[1, 2], [3, 4]], (2, 2), [1.0, 2.0, 3.0, 4.0]),
    (np.array([1.5, -2.0], dtype=np.float64), (2,), [1.5, -2.0]),
    (np.arange(6, dtype=np.int64).reshape(2, 3), (2, 3), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]),
], ids=["int-scalar", "float-scalar", "list", "nested-list", "float64-array", "int64-array"])
def test_construction_gives_float32_data(source, shape, expected):
    t = Tensor(source)
    assert isinstance(t.data, np.ndarray), f"self.data should be a NumPy array, got {type(t.data).__name__}"
    assert t.data.dtype == np.float32, f"self.data should be float32 whatever the input, got {t.data.dtype}"
    assert t.dtype == np.float32, f"t.dtype should report float32, got {t.dtype}"
    assert t.shape == shape, f"Tensor({source!r}) should have shape {shape}, got {t.shape}"
    assert values(t).ravel().tolist() == expected, f"Tensor({source!r}) holds {t.data.tolist()}"


@pytest.mark.exercise("1.1")
def test_construction_from_tensor_copies_its_values():
    original = Tensor([[1, 2], [3, 4]])
    copy = Tensor(original)
    assert copy.data.dtype == np.float32 and copy.shape == (2, 2), "Tensor(t) should hold t's float32 values"
    assert values(copy).tolist() == [[1.0, 2.0], [3.0, 4.0]], f"Tensor(t) holds {copy.data.tolist()}"
    original.data[0, 0] = 99.0
    assert copy.data[0, 0] == 1.0, ("Tensor(t) shares memory with t: copy the data "
                                    "(np.array copies, np.asarray may not)")


@pytest.mark.exercise("1.1")
def test_construction_copies_a_float32_array():
    source = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t = Tensor(source)
    source[0] = 99.0
    assert t.data[0] == 1.0, ("changing the array a Tensor was built from changed the Tensor: "
                              "copy the data (np.array copies, np.asarray returns the same float32 array)")


@pytest.mark.exercise("1.1")
@pytest.mark.parametrize("shape", [(), (7,), (2, 3), (4, 5, 6)])
def test_shape_size_and_memory_footprint(shape):
    n = int(np.prod(shape))
    t = Tensor(np.ones(shape))  # float64 input: the Tensor must still store 4-byte floats
    assert t.shape == shape, f"shape should be {shape}, got {t.shape}"
    assert t.size == n, f"size should be the number of elements, {n}, got {t.size}"
    assert t.memory_footprint() == 4 * n, (f"a float32 tensor of {n} elements holds {4 * n} bytes, "
                                           f"memory_footprint() gave {t.memory_footprint()}")


@pytest.mark.exercise("1.1")
def test_numpy_returns_the_values():
    arr = Tensor(M23).numpy()
    assert isinstance(arr, np.ndarray), f"numpy() should return an ndarray, got {type(arr).__name__}"
    assert arr.tolist() == M23, f"numpy() returned {arr.tolist()}"


@pytest.mark.exercise("1.1")
@pytest.mark.parametrize("requires_grad", [False, True])
def test_autograd_attributes_are_dormant(requires_grad):
    t = Tensor([1.0, 2.0], requires_grad=requires_grad)
    assert t.requires_grad is requires_grad, f"requires_grad should be stored as given ({requires_grad})"
    assert t.grad is None, f"grad should start as None, got {t.grad!r}"
    assert t.backward() is None, "backward() should exist and do nothing (return None) until module 06"
    assert t.grad is None, "backward() should not set grad before module 06"


@pytest.mark.exercise("1.1")
def test_requires_grad_defaults_to_false():
    assert Tensor([1.0]).requires_grad is False, "requires_grad should default to False"


# --- 1.2 arithmetic with broadcasting -----------------------------------------------------------------------

OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


def apply(op, a, b):
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()


@pytest.mark.exercise("1.2")
@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("left, right", [
    ([[1.0, 2.0], [3.0, 4.0]], 2.0),                              # tensor with a number
    ([[1.0, 2.0], [3.0, 4.0]], [[5.0, -6.0], [0.5, 8.0]]),        # same shapes
    ([[1.0], [2.0], [4.0]], [[1.0, 2.0, -3.0, 0.5]]),             # (3, 1) with (1, 4) -> (3, 4)
    ([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], [10.0, 20.0, 40.0]),     # (2, 3) with (3,) -> (2, 3)
], ids=["scalar", "same-shape", "3x1-with-1x4", "row-vector"])
def test_elementwise_ops_broadcast(op, left, right):
    a = Tensor(left)
    b = right if isinstance(right, float) else Tensor(right)
    expected = OPS[op](np.array(left), np.array(right))
    out = apply(op, a, b)
    assert isinstance(out, Tensor), f"a {op} b should return a Tensor, got {type(out).__name__}"
    assert out.shape == expected.shape, f"a {op} b should broadcast to {expected.shape}, got {out.shape}"
    assert np.allclose(values(out), expected, rtol=1e-6), (
        f"a {op} b gave {out.data.tolist()}, want {expected.tolist()}")


@pytest.mark.exercise("1.2")
def test_addition_by_hand():
    out = Tensor([[1.0], [2.0], [3.0]]) + Tensor([[10.0, 20.0, 30.0, 40.0]])
    want = [[11, 21, 31, 41], [12, 22, 32, 42], [13, 23, 33, 43]]
    assert out.shape == (3, 4), f"(3, 1) + (1, 4) should give shape (3, 4), got {out.shape}"
    assert values(out).tolist() == want, f"(3, 1) + (1, 4) gave {out.data.tolist()}"


@pytest.mark.exercise("1.2")
@pytest.mark.parametrize("expr, expected", [
    (lambda t: 2 - t, [1.0, 0.0, -2.0]),
    (lambda t: 1 / t, [1.0, 0.5, 0.25]),
    (lambda t: 3 + t, [4.0, 5.0, 7.0]),
    (lambda t: 3 * t, [3.0, 6.0, 12.0]),
    (lambda t: -t, [-1.0, -2.0, -4.0]),
], ids=["2 - t", "1 / t", "3 + t", "3 * t", "-t"])
def test_number_on_the_left(expr, expected):
    out = expr(Tensor([1.0, 2.0, 4.0]))
    assert isinstance(out, Tensor), f"the result should be a Tensor, got {type(out).__name__}"
    assert values(out).tolist() == expected, f"got {out.data.tolist()}, want {expected}"


@pytest.mark.exercise("1.2")
@pytest.mark.parametrize("op", list(OPS))
def test_ops_leave_inputs_unchanged(op):
    a, b = Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([[5.0, 6.0], [7.0, 8.0]])
    out = apply(op, a, b)
    assert out is not a and out is not b, f"a {op} b should return a new Tensor, not one of its inputs"
    for name, t, before in [("a", a, [[1.0, 2.0], [3.0, 4.0]]), ("b", b, [[5.0, 6.0], [7.0, 8.0]])]:
        assert t.data.tolist() == before, f"a {op} b changed {name} to {t.data.tolist()}: do not modify inputs"


@pytest.mark.exercise("1.2")
def test_results_stay_float32():
    out = Tensor([1.0, 2.0]) * 0.5 + Tensor([1.0, 1.0]) / 3
    assert out.data.dtype == np.float32, f"arithmetic should keep float32, got {out.data.dtype}"


# --- 1.3 matrix multiplication ------------------------------------------------------------------------------

@pytest.mark.exercise("1.3")
def test_matmul_by_hand():
    a, b = Tensor([[1.0, 2.0], [3.0, 4.0]]), Tensor([[5.0, 6.0], [7.0, 8.0]])
    want = [[19.0, 22.0], [43.0, 50.0]]  # row . column, e.g. 1*5 + 2*7 = 19
    for name, out in [("a @ b", a @ b), ("a.matmul(b)", a.matmul(b))]:
        assert isinstance(out, Tensor), f"{name} should return a Tensor, got {type(out).__name__}"
        assert values(out).tolist() == want, f"{name} gave {out.data.tolist()}, want {want} (not elementwise *)"


@pytest.mark.exercise("1.3")
@pytest.mark.parametrize("shape_a, shape_b", [
    ((2, 3), (3, 4)),
    ((1, 5), (5, 1)),
    ((4, 3), (3,)),
    ((2, 3, 4), (2, 4, 5)),   # a batch of two matrix products
    ((2, 3, 4), (4, 2)),      # one matrix applied to every matrix in the batch
], ids=["2x3@3x4", "row@column", "matrix@vector", "batched", "batch@matrix"])
def test_matmul_matches_sum_of_products(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=shape_a), rng.normal(size=shape_b)
    # out[..., i, j] = sum_k a[..., i, k] * b[..., k, j], written out with broadcasting
    b2 = b[:, None] if b.ndim == 1 else b
    expected = (a[..., :, :, None] * b2[..., None, :, :]).sum(axis=-2)
    if b.ndim == 1:
        expected = expected[..., 0]
    out = Tensor(a) @ Tensor(b)
    assert out.shape == expected.shape, f"{shape_a} @ {shape_b} should have shape {expected.shape}, got {out.shape}"
    assert np.allclose(values(out), expected, atol=1e-5), f"{shape_a} @ {shape_b} gave wrong values"


@pytest.mark.exercise("1.3")
@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3, 2), (3, 2)), ((2, 3, 4), (2, 5, 6))],
                         ids=["2x3@4x5", "3x2@3x2", "batched"])
def test_matmul_shape_mismatch_names_both_shapes(shape_a, shape_b):
    with pytest.raises(ValueError) as err:
        Tensor(np.ones(shape_a)) @ Tensor(np.ones(shape_b))
    message = str(err.value)
    assert str(shape_a) in message and str(shape_b) in message, (
        f"the ValueError should name both shapes {shape_a} and {shape_b} so the caller can fix them; "
        f"it said: {message!r}")


# --- 1.4 indexing, reshape and transpose --------------------------------------------------------------------

@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("key, shape, expected", [
    (0, (3,), [1.0, 2.0, 3.0]),
    ((1, 2), (), 6.0),
    ((slice(None), 1), (2,), [2.0, 5.0]),
    ((slice(None), slice(1, 3)), (2, 2), [[2.0, 3.0], [5.0, 6.0]]),
    (slice(None, None, -1), (2, 3), [[4.0, 5.0, 6.0], [1.0, 2.0, 3.0]]),
], ids=["t[0]", "t[1, 2]", "t[:, 1]", "t[:, 1:3]", "t[::-1]"])
def test_indexing_returns_tensors(key, shape, expected):
    out = Tensor(M23)[key]
    assert isinstance(out, Tensor), f"t[{key!r}] should return a Tensor, got {type(out).__name__}"
    assert out.shape == shape, f"t[{key!r}] should have shape {shape}, got {out.shape}"
    assert values(out).tolist() == expected, f"t[{key!r}] gave {out.data.tolist()}, want {expected}"


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("args, shape", [
    ((3, 2), (3, 2)),
    (((3, 2),), (3, 2)),
    (([6],), (6,)),
    ((-1,), (6,)),
    ((3, -1), (3, 2)),
    (((-1, 1, 3),), (2, 1, 3)),
], ids=["reshape(3, 2)", "reshape((3, 2))", "reshape([6])", "reshape(-1)", "reshape(3, -1)", "reshape((-1, 1, 3))"])
def test_reshape_shapes_and_order(args, shape):
    out = Tensor(M23).reshape(*args)
    assert isinstance(out, Tensor), f"reshape should return a Tensor, got {type(out).__name__}"
    assert out.shape == shape, f"reshape{args} of a (2, 3) tensor should give {shape}, got {out.shape}"
    flat = values(out).ravel().tolist()
    assert flat == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], f"reshape must keep the row-major order of elements, got {flat}"


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("args", [(4, 2), ((5,),), (-1, 4), (-1, -1)],
                         ids=["size-8", "size-5", "6-not-divisible-by-4", "two-minus-ones"])
def test_reshape_rejects_impossible_shapes(args):
    with pytest.raises(ValueError):
        Tensor(M23).reshape(*args)


@pytest.mark.exercise("1.4")
def test_transpose_matrix_by_default():
    out = Tensor(M23).transpose()
    assert isinstance(out, Tensor), f"transpose() should return a Tensor, got {type(out).__name__}"
    assert out.shape == (3, 2), f"transpose() of (2, 3) should be (3, 2), got {out.shape}"
    assert values(out).tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]], (
        f"transpose() should swap rows and columns (out[i][j] = t[j][i]), got {out.data.tolist()}; "
        "note that reshape keeps element order, transpose does not")


@pytest.mark.exercise("1.4")
@pytest.mark.parametrize("dims, axes", [
    ((), (0, 2, 1)),          # default: the last two
    ((0, 2), (2, 1, 0)),
    ((0, 1), (1, 0, 2)),
    ((-1, 0), (2, 1, 0)),     # negative dims count from the end
], ids=["default-last-two", "0-and-2", "0-and-1", "negative"])
def test_transpose_swaps_the_given_dims(dims, axes):
    x = np.arange(24.0).reshape(2, 3, 4)
    expected = np.transpose(x, axes)
    out = Tensor(x).transpose(*dims)
    assert out.shape == expected.shape, f"transpose{dims} of (2, 3, 4) should give {expected.shape}, got {out.shape}"
    assert np.array_equal(values(out), expected), f"transpose{dims} put elements in the wrong places"


# --- 1.5 reductions -----------------------------------------------------------------------------------------

def _by_hand(op, rows, axis):
    """Reduce a list of rows with plain Python, as the independent check."""
    reduce = {"sum": sum, "mean": lambda v: sum(v) / len(v), "max": max}[op]
    if axis is None:
        return reduce([v for row in rows for v in row])
    if axis == 0:
        return [reduce(col) for col in zip(*rows)]
    return [reduce(row) for row in rows]


@pytest.mark.exercise("1.5")
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=lambda a: f"axis={a}")
@pytest.mark.parametrize("keepdims", [False, True], ids=["keepdims=False", "keepdims=True"])
def test_reductions_over_axis(op, axis, keepdims):
    out = getattr(Tensor(NEG), op)(axis=axis, keepdims=keepdims)
    assert isinstance(out, Tensor), f"{op} should return a Tensor, got {type(out).__name__}"
    shape = {None: (), 0: (3,), 1: (2,), -1: (2,)}[axis]
    if keepdims:
        shape = {None: (1, 1), 0: (1, 3), 1: (2, 1), -1: (2, 1)}[axis]
    assert out.shape == shape, (
        f"{op}(axis={axis}, keepdims={keepdims}) of (2, 3) should have shape {shape}, got {out.shape}")
    want = np.reshape(_by_hand(op, NEG, 1 if axis == -1 else axis), shape)
    assert np.allclose(values(out), want), f"{op}(axis={axis}) gave {out.data.tolist()}, want {want.tolist()}"


@pytest.mark.exercise("1.5")
def test_reductions_by_hand():
    t = Tensor(M23)
    assert values(t.sum()).tolist() == 21.0, f"sum() of 1..6 should be 21, got {t.sum().data}"
    assert values(t.sum(axis=0)).tolist() == [5.0, 7.0, 9.0], (
        f"sum(axis=0) adds down columns, got {t.sum(axis=0).data}")
    assert values(t.mean(axis=1)).tolist() == [2.0, 5.0], (
        f"mean(axis=1) averages each row (divide by the row length 3), got {t.mean(axis=1).data}")
    assert values(t.max(axis=0)).tolist() == [4.0, 5.0, 6.0], f"max(axis=0) is per column, got {t.max(axis=0).data}"
