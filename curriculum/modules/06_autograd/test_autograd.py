"""Tests for module 06 (Autograd). Gradients are checked against central finite differences of the forward pass
(your module 01-04 code: nudge one input element by +-eps and watch the output move; `check_gradients` does that
for every element of every input) or against derivatives worked out by hand, never against a reference
implementation."""
import numpy as np
import pytest

from tinytorch.core.autograd import (AddBackward, DivBackward, MulBackward, SubBackward, enable_autograd, no_grad,
                                     topological_order, unbroadcast)
from tinytorch.core.tensor import Tensor
from tinytorch_wasm.gradcheck import check_gradients, gradient_of as grad_of

enable_autograd()

RNG = np.random.default_rng(606)


def rand(*shape, low=-1.0, high=1.0):
    return np.asarray(RNG.uniform(low, high, size=shape), dtype=np.float32)


def away_from_zero(*shape):
    """Values in +-[0.2, 1]: far enough from ReLU's kink at 0 that finite differences do not straddle it."""
    return (rand(*shape, low=0.2, high=1.0) * RNG.choice([-1.0, 1.0], size=shape)).astype(np.float32)


def leaf(array):
    return Tensor(array, requires_grad=True)


# --- 6.1 local gradients of arithmetic ---------------------------------------------------------------------

@pytest.mark.exercise("6.1")
@pytest.mark.parametrize("grad_shape, shape, axes", [
    ((3, 4), (3, 4), ()),
    ((3, 4), (3, 1), (1,)),
    ((3, 4), (1, 4), (0,)),
    ((3, 4), (4,), (0,)),
    ((2, 3, 4), (3, 4), (0,)),
    ((2, 3, 4), (2, 1, 4), (1,)),
    ((2, 3, 4), (1, 4), (0, 1)),
    ((3, 4), (), (0, 1)),
], ids=["same", "column", "row", "bias", "batch", "middle", "lead-and-row", "scalar"])
def test_unbroadcast_sums_back_to_shape(grad_shape, shape, axes):
    grad = rand(*grad_shape)
    expected = grad.astype(np.float64).sum(axis=axes).reshape(shape) if axes else grad
    got = np.asarray(unbroadcast(grad, shape))
    assert got.shape == shape, f"unbroadcast of a {grad_shape} gradient to {shape} gave shape {got.shape}"
    assert np.allclose(got, expected, atol=1e-5), (
        f"unbroadcast to {shape} should sum over the stretched axes {axes}: got {got.tolist()}")


@pytest.mark.exercise("6.1")
def test_add_and_sub_local_gradients_broadcast():
    a, b, g = leaf(rand(3, 1)), leaf(rand(1, 4)), rand(3, 4)
    for function, sign in [(AddBackward, 1.0), (SubBackward, -1.0)]:
        grad_a, grad_b = function(a, b).apply(g)
        name = function.__name__
        assert np.shape(grad_a) == (3, 1) and np.shape(grad_b) == (1, 4), (
            f"{name}: gradients should have the inputs' shapes (3, 1) and (1, 4), got "
            f"{np.shape(grad_a)} and {np.shape(grad_b)}")
        assert np.allclose(grad_a, g.sum(axis=1, keepdims=True), atol=1e-5), (
            f"{name}: a (3, 1) was used along 4 columns, so its gradient is the row sums of grad_output")
        assert np.allclose(grad_b, sign * g.sum(axis=0, keepdims=True), atol=1e-5), (
            f"{name}: b's gradient should be {'' if sign > 0 else 'minus '}the column sums of grad_output")


@pytest.mark.exercise("6.1")
def test_mul_and_div_local_gradients():
    a, b, g = rand(2, 3), rand(2, 3, low=0.5, high=2.0), rand(2, 3)
    grad_a, grad_b = MulBackward(leaf(a), leaf(b)).apply(g)
    assert np.allclose(grad_a, g * b, atol=1e-5) and np.allclose(grad_b, g * a, atol=1e-5), (
        "MulBackward: d(a*b)/da = b and d(a*b)/db = a, each times grad_output")
    grad_a, grad_b = DivBackward(leaf(a), leaf(b)).apply(g)
    assert np.allclose(grad_a, g / b, atol=1e-5), "DivBackward: d(a/b)/da = 1/b"
    assert np.allclose(grad_b, -g * a / b ** 2, atol=1e-4), "DivBackward: d(a/b)/db = -a/b**2"
    grad_a, _ = MulBackward(leaf(a), 3.0).apply(g)
    assert np.allclose(grad_a, 3.0 * g, atol=1e-5), "MulBackward: t * 3.0 should give t the gradient 3 * grad_output"
    grad_a, grad_b = MulBackward(leaf(a), leaf(b[0])).apply(g)
    assert np.shape(grad_b) == (3,) and np.allclose(grad_b, (g * a).sum(axis=0), atol=1e-5), (
        "MulBackward: a (3,) factor broadcast over 2 rows gets the column sums of grad_output * a")


# --- 6.2 the backward pass ---------------------------------------------------------------------------------

@pytest.mark.exercise("6.2")
def test_scalar_backward_needs_no_argument():
    x = leaf(3.0)
    y = x * x + x * 2.0  # dy/dx = 2x + 2 = 8
    y.backward()
    assert np.allclose(grad_of(x, "x in x*x + 2x"), 8.0), (
        f"d(x*x + 2x)/dx at x=3 is 8, got {x.grad.data}: a scalar's backward() starts from gradient 1")


@pytest.mark.exercise("6.2")
def test_broadcasting_graph_matches_finite_differences():
    a, b, c = leaf(rand(3, 1)), leaf(rand(1, 4)), leaf(rand(4))
    check_gradients(lambda a, b, c: (a * b + c) - a / (b * b + 1.0), [a, b, c],
                    "(a*b + c) - a/(b*b + 1) with a (3,1), b (1,4), c (4,)")


@pytest.mark.exercise("6.2")
def test_bias_add_and_constants_get_no_grad():
    x, bias, upstream = Tensor(rand(5, 3)), leaf(rand(3)), rand(5, 3)
    out = x + bias
    out.backward(Tensor(upstream))
    assert np.allclose(grad_of(bias, "bias"), upstream.sum(axis=0), atol=1e-5), (
        "a bias (3,) added to every one of 5 rows gets the sum of the 5 rows' gradients")
    assert x.grad is None, "x was created without requires_grad=True, so it must not get a .grad"
    assert not (x * x).requires_grad, "an op whose inputs need no gradient should not require grad"


@pytest.mark.exercise("6.2")
def test_shared_subexpression_gets_all_its_gradient_first():
    x_value = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    x = leaf(x_value)
    h = x * 2.0
    y = h * h + h  # h is used three times: dy/dh = 2h + 1, dy/dx = 2 * (2h + 1)
    y.backward(Tensor(np.ones(3, dtype=np.float32)))
    expected = 2 * (2 * (2 * x_value) + 1)
    assert np.allclose(grad_of(x, "x"), expected, atol=1e-5), (
        f"expected {expected.tolist()}, got {x.grad.data.tolist()}: h must collect the gradient of all its uses "
        "before passing it on (walk the topological order in reverse, add gradients for a tensor used twice)")


@pytest.mark.exercise("6.2")
def test_topological_order_lists_inputs_before_results():
    x, w = leaf(rand(3)), leaf(rand(3))
    h = x * w
    y = h * (h + x)  # h is reached twice: directly, and again through h + x
    order = topological_order(y)
    ids = [id(t) for t in order]
    assert len(ids) == len(set(ids)), "topological_order lists a tensor more than once"
    assert order and order[-1] is y, "the root (the tensor backward starts from) must come last"
    for t in (x, w, h):
        assert id(t) in ids, "topological_order must include every tensor the root was computed from"
    for position, t in enumerate(order):
        for parent in (t.grad_fn.inputs if t.grad_fn is not None else ()):
            if isinstance(parent, Tensor):
                assert ids.index(id(parent)) < position, "a tensor must come after every tensor it was computed from"


@pytest.mark.exercise("6.2")
def test_gradients_accumulate_over_two_backward_calls():
    x_value = np.array([1.0, -2.0], dtype=np.float32)
    x = leaf(x_value)
    (x * 3.0).backward(Tensor(np.ones(2, dtype=np.float32)))
    (x * 3.0).backward(Tensor(np.ones(2, dtype=np.float32)))
    assert np.allclose(grad_of(x, "x"), [6.0, 6.0]), (
        f"two backward() calls of 3x should leave .grad = 3 + 3 = 6, got {x.grad.data.tolist()}: add to .grad, "
        "do not overwrite it (optimizers clear it with zero_grad)")
    (x * x).backward(Tensor(np.ones(2, dtype=np.float32)))
    assert np.allclose(grad_of(x, "x"), 6.0 + 2 * x_value), "a third backward (of x*x) should add 2x on top"


@pytest.mark.exercise("6.2")
def test_enable_autograd_is_idempotent_and_no_grad_records_nothing():
    patched = Tensor.__mul__
    enable_autograd()
    assert Tensor.__mul__ is patched, "calling enable_autograd() again must not wrap the Tensor's ops twice"
    x = leaf(np.array([2.0], dtype=np.float32))
    with no_grad():
        y = x * 3.0
    assert not y.requires_grad, "inside no_grad() results must not require grad"
    z = x * 3.0
    z.backward(Tensor(np.ones(1, dtype=np.float32)))
    assert np.allclose(grad_of(x, "x"), [3.0]), f"d(3x)/dx = 3, got {x.grad.data.tolist()}"


# --- 6.3 matmul and shape operations -----------------------------------------------------------------------

@pytest.mark.exercise("6.3")
@pytest.mark.parametrize("a_shape, b_shape", [
    ((2, 3), (3, 4)),
    ((2, 2, 3), (3, 4)),
    ((3, 4), (4,)),
    ((3,), (3, 4)),
    ((2, 4, 3), (2, 3, 4)),
    ((2, 3, 4, 2), (2, 3, 2, 4)),
    ((2, 1, 3, 2), (1, 3, 2, 4)),
    ((2, 3, 4, 2), (3, 2, 3)),
    ((2, 3, 4), (4,)),
], ids=["matrix", "batch-times-weight", "matrix-vector", "vector-matrix", "both-batched", "per-head-4d",
        "broadcast-batch-axes", "fewer-batch-axes", "batch-times-vector"])
def test_matmul_gradients(a_shape, b_shape):
    a, b = leaf(rand(*a_shape)), leaf(rand(*b_shape))
    check_gradients(lambda a, b: a @ b, [a, b], f"{a_shape} @ {b_shape}")


@pytest.mark.exercise("6.3")
def test_linear_layer_gradients():
    x, w, b = leaf(rand(4, 3)), leaf(rand(3, 2)), leaf(rand(2))
    check_gradients(lambda x, w, b: x @ w + b, [x, w, b], "x @ W + b")


@pytest.mark.exercise("6.3")
@pytest.mark.parametrize("name", ["transpose", "transpose-0-2", "transpose-0-1-of-3d", "transpose-1-2-of-4d",
                                  "transpose-0-3-of-4d", "transpose-negative-axes", "reshape", "reshape-minus-one"])
def test_transpose_and_reshape_gradients(name):
    ops = {
        "transpose": (lambda x, w: x.transpose() * w, (2, 3), (3, 2)),
        "transpose-0-2": (lambda x, w: x.transpose(0, 2) * w, (2, 3, 4), (4, 3, 2)),
        "transpose-0-1-of-3d": (lambda x, w: x.transpose(0, 1) * w, (2, 3, 4), (3, 2, 4)),
        "transpose-1-2-of-4d": (lambda x, w: x.transpose(1, 2) * w, (2, 3, 4, 2), (2, 4, 3, 2)),
        "transpose-0-3-of-4d": (lambda x, w: x.transpose(0, 3) * w, (2, 3, 4, 1), (1, 3, 4, 2)),
        "transpose-negative-axes": (lambda x, w: x.transpose(-3, -2) * w, (2, 3, 4, 2), (2, 4, 3, 2)),
        "reshape": (lambda x, w: x.reshape(3, 2) * w, (2, 3), (3, 2)),
        "reshape-minus-one": (lambda x, w: x.reshape((-1,)) * w, (2, 3), (6,)),
    }
    f, x_shape, w_shape = ops[name]
    check_gradients(f, [leaf(rand(*x_shape)), leaf(rand(*w_shape))], name)


@pytest.mark.exercise("6.3")
def test_per_head_attention_built_from_tensor_ops():
    """What attention does with its heads: (B, T, H*d) split into (B, H, T, d), a product of two batched operands,
    and back. Every op here must pass its gradient on for the projections before it to learn."""
    softmax = activations().Softmax()
    batch, steps, heads, dim = 2, 3, 2, 2

    def attention(q, k, v):
        def split(x):  # (B, T, H*d) -> (B, H, T, d)
            return x.reshape(batch, steps, heads, dim).transpose(1, 2)
        weights = softmax((split(q) @ split(k).transpose(-2, -1)) * (1 / np.sqrt(dim)))
        return (weights @ split(v)).transpose(1, 2).reshape(batch, steps, heads * dim)

    q, k, v = (leaf(rand(batch, steps, heads * dim)) for _ in range(3))
    check_gradients(attention, [q, k, v], "per-head attention from reshape, transpose(1, 2), @ and softmax")


@pytest.mark.exercise("6.3")
@pytest.mark.parametrize("key", [(slice(1, None), slice(None, None, 2)), 0, (slice(None), 1),
                                 np.array([0, 0, 2])],
                         ids=["slices", "row", "column", "repeated-rows"])
def test_slicing_gradients(key):
    check_gradients(lambda x: x[key], [leaf(rand(3, 4))], f"x[{key}]")


@pytest.mark.exercise("6.3")
def test_repeated_index_adds_gradients():
    x = leaf(np.zeros(3, dtype=np.float32))
    x[np.array([0, 0, 1])].backward(Tensor(np.ones(3, dtype=np.float32)))
    assert np.allclose(grad_of(x, "x"), [2.0, 1.0, 0.0]), (
        f"x[[0, 0, 1]] uses x[0] twice, so its gradient is 2; got {x.grad.data.tolist()} (use np.add.at)")


# --- 6.4 reductions -------------------------------------------------------------------------------------------

@pytest.mark.exercise("6.4")
@pytest.mark.parametrize("op, axis, keepdims, shape", [
    ("sum", None, False, (2, 3)),
    ("sum", 0, False, (2, 3)),
    ("sum", 1, True, (2, 3)),
    ("sum", (0, 2), False, (2, 3, 2)),
    ("mean", None, False, (2, 3)),
    ("mean", -1, False, (2, 3)),
    ("mean", 0, True, (2, 3)),
    ("mean", (0, 2), True, (2, 3, 2)),
], ids=["sum-all", "sum-0", "sum-1-keepdims", "sum-0-2", "mean-all", "mean-last", "mean-0-keepdims",
        "mean-0-2-keepdims"])
def test_reduction_gradients(op, axis, keepdims, shape):
    check_gradients(lambda x: getattr(x, op)(axis=axis, keepdims=keepdims) * 1.0, [leaf(rand(*shape))],
                    f"x.{op}(axis={axis}, keepdims={keepdims}) on {shape}")


@pytest.mark.exercise("6.4")
def test_mean_gradient_by_hand():
    x = leaf(rand(2, 3))
    x.mean().backward()
    assert np.allclose(grad_of(x, "x"), np.full((2, 3), 1 / 6), atol=1e-6), (
        f"each of 6 elements moves the mean by 1/6, got {x.grad.data.tolist()}")


@pytest.mark.exercise("6.4")
@pytest.mark.parametrize("axis, keepdims, shape", [
    (None, False, (3, 4)),
    (0, False, (3, 4)),
    (-1, True, (3, 4)),
    (1, False, (2, 3, 4)),
    ((0, 2), True, (2, 3, 4)),
], ids=["all", "axis-0", "last-keepdims", "middle-of-3d", "two-axes-keepdims"])
def test_max_gradients(axis, keepdims, shape):
    x = leaf(RNG.permutation(np.prod(shape)).reshape(shape).astype(np.float32) / 4)  # distinct, 0.25 apart
    check_gradients(lambda x: x.max(axis=axis, keepdims=keepdims) * 1.0, [x],
                    f"x.max(axis={axis}, keepdims={keepdims}) on {shape}")


@pytest.mark.exercise("6.4")
@pytest.mark.parametrize("axis, keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, False)],
                         ids=["all", "axis-0", "axis-1-keepdims", "two-axes", "last"])
def test_max_sends_each_slice_gradient_to_one_argmax_despite_ties(axis, keepdims):
    x_value = RNG.integers(0, 2, size=(3, 4, 2)).astype(np.float32)  # zeros and ones: ties everywhere
    x_value[0, 0, 0] = 1.0
    x = leaf(x_value)
    out = x.max(axis=axis, keepdims=keepdims)
    assert out.requires_grad, "x.max() of a tensor that requires grad must be recorded, or its gradient is lost"
    upstream = rand(*out.shape, low=0.5, high=1.5)
    out.backward(Tensor(upstream))
    grad = grad_of(x, f"x.max(axis={axis})")
    reduced = tuple(range(3)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    per_slice = grad.sum(axis=reduced, keepdims=keepdims)
    assert np.allclose(per_slice, upstream, atol=1e-6), (
        f"max(axis={axis}): each slice's gradient should arrive once in total, got sums {per_slice.ravel()} for "
        f"upstream {upstream.ravel()}: with ties, give it to ONE arg-max, not to every element equal to the max")
    receivers = (grad != 0).sum(axis=reduced)
    assert np.all(receivers == 1), f"max(axis={axis}): every slice should send its gradient to exactly one element"
    maxima = x_value.max(axis=reduced, keepdims=True)
    assert np.all(x_value[grad != 0] == np.broadcast_to(maxima, x_value.shape)[grad != 0]), (
        f"max(axis={axis}): the gradient went to an element that is not the largest of its slice")


@pytest.mark.exercise("6.4")
def test_no_tensor_op_silently_drops_the_gradient():
    ops = {"x + 1": lambda x: x + 1.0, "1 + x": lambda x: 1.0 + x, "x - 1": lambda x: x - 1.0,
           "1 - x": lambda x: 1.0 - x, "x * 2": lambda x: x * 2.0, "2 * x": lambda x: 2.0 * x,
           "x / 2": lambda x: x / 2.0, "2 / x": lambda x: 2.0 / x, "-x": lambda x: -x,
           "x @ w": lambda x: x @ Tensor(np.ones((3, 2))), "x.matmul(w)": lambda x: x.matmul(Tensor(np.ones((3, 2)))),
           "x.transpose()": lambda x: x.transpose(), "x.reshape(-1)": lambda x: x.reshape(-1),
           "x[0]": lambda x: x[0], "x.sum()": lambda x: x.sum(), "x.mean(axis=0)": lambda x: x.mean(axis=0),
           "x.max(axis=1)": lambda x: x.max(axis=1), "x.max()": lambda x: x.max()}
    for name, op in ops.items():
        x = leaf(rand(2, 3, low=0.5, high=1.5))
        out = op(x)
        assert out.requires_grad and out.grad_fn is not None, (
            f"{name} on a tensor that requires grad gave a result without a grad_fn: its gradient would be "
            "silently dropped (is the op in the rules enable_autograd() wraps?)")
        out.backward(Tensor(np.ones(out.shape, dtype=np.float32)))
        assert np.any(grad_of(x, name) != 0), f"{name}: backward() left x.grad all zeros"


# --- 6.5 activations ---------------------------------------------------------------------------------------

def activations():
    from tinytorch.core import activations as module  # module 02, yours or the reference
    return module


@pytest.mark.exercise("6.5")
@pytest.mark.parametrize("name, dim", [("ReLU", None), ("Sigmoid", None), ("Tanh", None), ("GELU", None),
                                       ("Softmax", -1), ("Softmax", 0)])
def test_activation_gradients(name, dim):
    cls = getattr(activations(), name)
    act = cls() if dim is None else cls(dim=dim)
    x = leaf(2 * away_from_zero(3, 4))
    check_gradients(lambda x: act(x), [x],
                    f"{name}{'' if dim is None else f'(dim={dim})'} (if module 02's tests fail, fix those first)")


@pytest.mark.exercise("6.5")
def test_activations_chain_with_tensor_ops():
    acts = activations()
    x, w = leaf(rand(4, 3)), leaf(rand(3, 5))
    gelu, softmax = acts.GELU(), acts.Softmax()  # smooth, so finite differences hold everywhere
    check_gradients(lambda x, w: softmax(gelu(x @ w) * 2.0), [x, w], "softmax(gelu(x @ W) * 2)")


# --- 6.6 losses ----------------------------------------------------------------------------------------------

def losses():
    from tinytorch.core import losses as module  # module 04, yours or the reference
    return module


@pytest.mark.exercise("6.6")
@pytest.mark.parametrize("target_needs_grad", [False, True], ids=["plain", "targets-need-grad"])
def test_mse_gradient(target_needs_grad):
    pred, target = leaf(rand(4, 3)), Tensor(rand(4, 3), requires_grad=target_needs_grad)
    mse = losses().MSELoss()
    check_gradients(lambda p, *t: mse(p, target), [pred, target] if target_needs_grad else [pred], "MSELoss")


@pytest.mark.exercise("6.6")
def test_mse_gradient_column_predictions_flat_targets():
    pred, target = leaf(rand(5, 1)), rand(5)
    losses().MSELoss()(pred, target).backward()
    expected = 2 * (pred.data.ravel() - target) / 5
    assert np.allclose(grad_of(pred, "pred"), expected.reshape(5, 1), atol=1e-5), (
        "MSE of (5, 1) predictions against (5,) targets compares them row by row: gradient 2 (p - t) / 5")


@pytest.mark.exercise("6.6")
def test_bce_gradient():
    p = leaf(rand(6, 1, low=0.05, high=0.95))
    t = Tensor(np.array([[0], [1], [1], [0], [1], [0]], dtype=np.float32))
    bce = losses().BinaryCrossEntropyLoss()
    check_gradients(lambda p: bce(p, t), [p], "BinaryCrossEntropyLoss", atol=5e-3)


@pytest.mark.exercise("6.6")
@pytest.mark.parametrize("as_tensor", [True, False], ids=["targets-tensor", "targets-ndarray"])
def test_cross_entropy_gradient(as_tensor):
    logits = leaf(2 * rand(4, 3))
    ids = np.array([0, 2, 1, 2])
    targets = Tensor(ids) if as_tensor else ids
    ce = losses().CrossEntropyLoss()
    check_gradients(lambda z: ce(z, targets), [logits], "CrossEntropyLoss")


@pytest.mark.exercise("6.6")
def test_cross_entropy_gradient_stays_finite_for_huge_logits():
    logits_value = np.array([[1e4, 0.0, -1e4], [5e3, 5e3 + 1.0, 5e3 - 1.0], [-1e4, -1e4, -1e4 + 2.0],
                             [3e4, -3e4, 3e4]], dtype=np.float32)
    ids = np.array([1, 1, 2, 0])
    logits = leaf(logits_value)
    loss = losses().CrossEntropyLoss()(logits, ids)
    loss.backward()
    grad = grad_of(logits, "logits of about 1e4")
    assert np.all(np.isfinite(grad)), (
        f"cross-entropy's gradient for logits of about 1e4 is {grad.tolist()}: exp(1e4) overflows float32, so "
        "subtract each row's maximum before np.exp")
    z = logits_value.astype(np.float64)
    probs = np.exp(z - z.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    expected = (probs - np.eye(3)[ids]) / len(ids)
    assert np.allclose(grad, expected, atol=1e-6), f"expected (softmax - onehot) / N = {expected.round(4).tolist()}"


@pytest.mark.exercise("6.6")
def test_training_step_gradients_end_to_end():
    x, y = Tensor(rand(6, 3)), np.array([0, 1, 1, 0, 2, 2])
    w, b = leaf(rand(3, 3)), leaf(np.zeros(3, dtype=np.float32))
    loss = losses().CrossEntropyLoss()(x @ w + b, y)
    loss.backward()
    logits = x.data.astype(np.float64) @ w.data + b.data
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    d_logits = (probs - np.eye(3)[y]) / 6  # the softmax-minus-onehot rule, worked out with NumPy
    assert np.allclose(grad_of(w, "W"), x.data.T @ d_logits, atol=1e-5), "W's gradient should be x^T @ d_logits"
    assert np.allclose(grad_of(b, "b"), d_logits.sum(axis=0), atol=1e-5), "b's gradient should sum d_logits's rows"
    assert x.grad is None, "the data x did not require grad and must not get a .grad"
