import math

import numpy as np
import pytest

from tinytorch.core.activations import GELU, ReLU, Sigmoid, Softmax, Tanh
from tinytorch.core.tensor import Tensor


def softmax64(a, axis=-1):
    """Softmax computed in float64 on small inputs, where the plain formula cannot overflow."""
    e = np.exp(np.asarray(a, dtype=np.float64))
    return e / e.sum(axis=axis, keepdims=True)


# --- 2.1 ReLU ------------------------------------------------------------------------------------------------
@pytest.mark.exercise("2.1")
def test_relu_values():
    out = ReLU()(Tensor([-2.0, -0.5, 0.0, 0.5, 3.0]))
    assert isinstance(out, Tensor), f"ReLU must return a Tensor, got {type(out).__name__}"
    assert out.data.tolist() == [0.0, 0.0, 0.0, 0.5, 3.0], \
        f"ReLU([-2, -0.5, 0, 0.5, 3]) gave {out.data.tolist()}: negatives must become exactly 0, positives pass"


@pytest.mark.exercise("2.1")
def test_relu_leaves_its_input_alone():
    x = Tensor([[-1.0, 2.0], [3.0, -4.0]])
    out = ReLU().forward(x)
    assert out is not x, "ReLU returned its input tensor: build and return a new Tensor"
    assert x.data.tolist() == [[-1.0, 2.0], [3.0, -4.0]], \
        f"ReLU changed its input to {x.data.tolist()}: compute into a new array, not in place"
    assert out.shape == (2, 2) and out.dtype == np.float32, f"ReLU gave shape {out.shape}, dtype {out.dtype}"


@pytest.mark.exercise("2.1")
def test_call_runs_forward_and_there_are_no_parameters():
    x = Tensor([-1.0, 1.0])
    for act in (ReLU(), Sigmoid(), Tanh(), GELU(), Softmax()):
        name = type(act).__name__
        assert act.parameters() == [], f"{name}.parameters() should be [] (an activation has no weights)"
        assert np.array_equal(act(x).data, act.forward(x).data), f"{name}(x) and {name}.forward(x) differ"


# --- 2.2 Sigmoid ---------------------------------------------------------------------------------------------
@pytest.mark.exercise("2.2")
def test_sigmoid_values():
    x = np.array([-5.0, -1.0, 0.0, 0.5, 2.0, 6.0])
    expected = 1.0 / (1.0 + np.exp(-x))
    out = Sigmoid()(Tensor(x))
    assert out.shape == x.shape, f"Sigmoid changed the shape to {out.shape}"
    assert np.allclose(out.data, expected, rtol=1e-5, atol=1e-7), \
        f"Sigmoid({x.tolist()}) gave {out.data.tolist()}, expected {expected.round(6).tolist()}"
    assert out.data[2] == 0.5, f"Sigmoid(0) must be exactly 0.5, got {out.data[2]}"


@pytest.mark.exercise("2.2")
def test_sigmoid_large_positive_is_one():
    out = Sigmoid()(Tensor([50.0, 100.0, 1000.0]))
    assert np.all(np.isfinite(out.data)), \
        f"Sigmoid([50, 100, 1000]) gave {out.data.tolist()}: e^1000 is inf in float32 and inf/inf is nan"
    assert np.allclose(out.data, 1.0), f"Sigmoid of large positive numbers should be 1, got {out.data.tolist()}"


@pytest.mark.exercise("2.2")
def test_sigmoid_large_negative_keeps_its_tiny_value():
    x = np.array([-95.0, -90.0, -1000.0])
    out = Sigmoid()(Tensor(x))
    assert np.all(np.isfinite(out.data)) and np.all(out.data >= 0), f"Sigmoid({x.tolist()}) gave {out.data}"
    # For very negative x, sigmoid(x) = e^x / (1 + e^x) is e^x to float precision: tiny, but not zero.
    expected = np.exp(x[:2])
    assert np.allclose(out.data[:2], expected, rtol=1e-2, atol=0), (
        f"Sigmoid([-95, -90]) gave {out.data[:2].tolist()}, expected about {expected.tolist()}: "
        "1 / (1 + e^95) overflows e^95 to inf and returns 0; for x < 0 compute e^x / (1 + e^x) instead")


# --- 2.3 Tanh ------------------------------------------------------------------------------------------------
@pytest.mark.exercise("2.3")
def test_tanh_values():
    x = np.array([[-3.0, -0.5, 0.0], [0.25, 1.0, 4.0]])
    expected = (np.exp(2 * x) - 1) / (np.exp(2 * x) + 1)  # safe in float64 for these small values
    out = Tanh()(Tensor(x))
    assert out.shape == (2, 3), f"Tanh changed the shape to {out.shape}"
    assert np.allclose(out.data, expected, rtol=1e-5, atol=1e-7), \
        f"Tanh gave {out.data.tolist()}, expected {expected.round(6).tolist()}"


@pytest.mark.exercise("2.3")
def test_tanh_large_inputs_saturate():
    out = Tanh()(Tensor([-1000.0, -100.0, 100.0, 1000.0]))
    assert np.all(np.isfinite(out.data)), \
        f"Tanh([-1000, -100, 100, 1000]) gave {out.data.tolist()}: the exponentials overflowed (inf / inf = nan)"
    assert out.data.tolist() == [-1.0, -1.0, 1.0, 1.0], f"Tanh should saturate at -1 and 1, got {out.data}"


# --- 2.4 GELU ------------------------------------------------------------------------------------------------
@pytest.mark.exercise("2.4")
def test_gelu_matches_the_tanh_formula():
    x = np.array([-4.0, -2.0, -1.0, -0.3, 0.0, 0.3, 1.0, 2.0, 4.0])
    c = math.sqrt(2 / math.pi)
    expected = 0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))
    out = GELU()(Tensor(x))
    assert np.allclose(out.data, expected, rtol=1e-5, atol=1e-6), (
        f"GELU gave {out.data.round(5).tolist()}, expected {expected.round(5).tolist()}: check the constants "
        "sqrt(2 / pi) and 0.044715 and the leading 0.5 * x")


@pytest.mark.exercise("2.4")
def test_gelu_is_close_to_the_exact_definition():
    # The exact GELU is x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt 2)); the tanh form is within 5e-4 of it.
    xs = [-3.0, -1.5, -0.7, 0.0, 0.7, 1.5, 3.0]
    exact = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xs]
    out = GELU()(Tensor(xs))
    assert np.allclose(out.data, exact, atol=1e-3), \
        f"GELU gave {out.data.round(4).tolist()}, the exact values are {np.round(exact, 4).tolist()}"
    big = GELU()(Tensor([-30.0, 30.0])).data
    assert abs(big[0]) < 1e-6 and abs(big[1] - 30.0) < 1e-4, \
        f"GELU(-30), GELU(30) gave {big.tolist()}: far out it should act like ReLU (0 and 30)"


# --- 2.5 Softmax ---------------------------------------------------------------------------------------------
@pytest.mark.exercise("2.5")
def test_softmax_rows_sum_to_one():
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
    out = Softmax()(Tensor(x))
    assert out.shape == (2, 3), f"Softmax changed the shape to {out.shape}"
    assert np.allclose(out.data.sum(axis=-1), 1.0, atol=1e-6), \
        f"each row should sum to 1 (softmax over the last dim), got row sums {out.data.sum(axis=-1).tolist()}"
    assert np.allclose(out.data, softmax64(x), atol=1e-6), \
        f"Softmax gave {out.data.round(4).tolist()}, expected {softmax64(x).round(4).tolist()}"


@pytest.mark.exercise("2.5")
def test_softmax_square_input_normalises_rows():
    # A square input hides a sum without keepdims: (3, 3) / (3,) broadcasts, but divides by the wrong sums.
    x = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, -1.0], [1.0, 1.0, 4.0]])
    out = Softmax()(Tensor(x))
    assert np.allclose(out.data, softmax64(x), atol=1e-6), (
        f"Softmax on a 3x3 input gave {out.data.round(4).tolist()}, expected {softmax64(x).round(4).tolist()}: "
        "sum with keepdims=True so each row is divided by its own sum")


@pytest.mark.exercise("2.5")
def test_softmax_large_inputs_do_not_overflow():
    out = Softmax()(Tensor([1000.0, 1001.0, 1002.0]))
    assert np.all(np.isfinite(out.data)), \
        f"Softmax([1000, 1001, 1002]) gave {out.data.tolist()}: e^1000 overflows; subtract the max first"
    assert np.allclose(out.data, softmax64([0.0, 1.0, 2.0]), atol=1e-6), \
        f"Softmax([1000, 1001, 1002]) should equal Softmax([0, 1, 2]), got {out.data.tolist()}"


@pytest.mark.exercise("2.5")
def test_softmax_subtracts_each_rows_own_max():
    # Rows far apart in scale: one global maximum would underflow every e^x of the small row to 0 (0/0 = nan).
    out = Softmax()(Tensor([[0.0, 1.0, 2.0], [1000.0, 1001.0, 1002.0]]))
    expected = softmax64([0.0, 1.0, 2.0])
    assert np.all(np.isfinite(out.data)), \
        f"Softmax gave {out.data.tolist()}: subtract the max of each row (axis=dim, keepdims=True)"
    assert np.allclose(out.data, [expected, expected], atol=1e-6), f"both rows should be {expected.round(4)}"


@pytest.mark.exercise("2.5")
def test_softmax_respects_dim():
    x = np.array([[1.0, 2.0, 3.0], [0.0, 2.0, -1.0]])
    out = Softmax(dim=0)(Tensor(x))
    assert np.allclose(out.data, softmax64(x, axis=0), atol=1e-6), (
        f"Softmax(dim=0) gave {out.data.round(4).tolist()}, expected {softmax64(x, axis=0).round(4).tolist()}: "
        "use self.dim for both the max and the sum")
    batch = np.arange(12, dtype=np.float64).reshape(2, 2, 3) / 4
    out3 = Softmax(dim=-1)(Tensor(batch))
    assert np.allclose(out3.data, softmax64(batch, axis=-1), atol=1e-6), "Softmax over the last dim of a 3-D input"
