import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


class AddOne(Layer):
    def forward(self, x):
        return x + 1


class Double(Layer):
    def forward(self, x):
        return x * 2


class Blend(Layer):
    """A layer with two inputs and a keyword: checks that calling passes every argument to forward."""

    def forward(self, a, b, weight=0.5):
        return a * weight + b * (1 - weight)


def set_weights(layer, rng):
    """Give a Linear known random weights and a nonzero bias, returned as float64 arrays."""
    w = rng.standard_normal((layer.in_features, layer.out_features))
    b = rng.standard_normal(layer.out_features)
    layer.weight.data[...] = w
    layer.bias.data[...] = b
    return layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)


# --- 3.1 The Layer base --------------------------------------------------------------------------------------
@pytest.mark.exercise("3.1")
def test_calling_a_layer_runs_forward():
    out = Double()(Tensor([1.0, -2.0]))
    assert isinstance(out, Tensor) and out.data.tolist() == [2.0, -4.0], \
        f"Double()(x) gave {out!r}: __call__ should return self.forward(x)"
    blended = Blend()(Tensor([4.0]), Tensor([0.0]), weight=0.25)
    assert blended.data.tolist() == [1.0], \
        f"Blend()(a, b, weight=0.25) gave {blended.data.tolist()}: pass *args and **kwargs on to forward"


@pytest.mark.exercise("3.1")
def test_train_and_eval_switch_the_flag():
    layer = Double()
    assert layer.training is True, "a new layer should start in training mode"
    assert layer.parameters() == [], f"a layer without weights has no parameters, got {layer.parameters()}"
    assert layer.eval() is layer, "eval() should return the layer itself"
    assert layer.training is False, "after eval(), training should be False"
    assert layer.train() is layer and layer.training is True, "train() should set training to True and return self"
    layer.train(False)
    assert layer.training is False, "train(False) should set training to False"


# --- 3.2 Linear ----------------------------------------------------------------------------------------------
@pytest.mark.exercise("3.2")
def test_linear_shapes_and_trainable_tensors():
    layer = Linear(3, 5)
    assert isinstance(layer.weight, Tensor) and layer.weight.shape == (3, 5), \
        f"weight should be a Tensor of shape (in_features, out_features) = (3, 5), got {getattr(layer.weight, 'shape', None)}"
    assert isinstance(layer.bias, Tensor) and layer.bias.shape == (5,), \
        f"bias should be a Tensor of shape (out_features,) = (5,), got {getattr(layer.bias, 'shape', None)}"
    assert np.all(layer.bias.data == 0), f"bias should start at zero, got {layer.bias.data}"
    assert layer.weight.requires_grad and layer.bias.requires_grad, \
        "weight and bias are learned: create them with requires_grad=True"
    assert layer.weight.dtype == np.float32, f"weight dtype is {layer.weight.dtype}, expected float32"


@pytest.mark.exercise("3.2")
def test_linear_init_scale():
    np.random.seed(0)
    w = Linear(400, 100).weight.data
    expected_std = np.sqrt(1 / 400)
    assert abs(w.mean()) < 0.01, f"weights should be centred on 0, mean is {w.mean():.4f}"
    assert abs(w.std() / expected_std - 1) < 0.1, (
        f"weight std is {w.std():.4f}, expected about sqrt(1 / in_features) = {expected_std:.4f}: "
        "scale np.random.randn by sqrt(1 / in_features)")


@pytest.mark.exercise("3.2")
def test_linear_forward_matches_numpy():
    rng = np.random.default_rng(1)
    layer = Linear(4, 3)
    w, b = set_weights(layer, rng)
    x = rng.standard_normal((5, 4))
    out = layer(Tensor(x))
    expected = x @ w + b
    assert isinstance(out, Tensor) and out.shape == (5, 3), f"Linear(4, 3) on a (5, 4) batch gave {out!r}"
    assert np.allclose(out.data, expected, atol=1e-5), \
        f"Linear gave {out.data[0].round(4)} for the first row, expected x @ weight + bias = {expected[0].round(4)}"


@pytest.mark.exercise("3.2")
def test_linear_applies_to_the_last_dimension():
    rng = np.random.default_rng(2)
    layer = Linear(4, 2)
    w, b = set_weights(layer, rng)
    x = rng.standard_normal((2, 3, 4))  # (batch, sequence, features), as in a transformer
    out = layer(Tensor(x))
    assert out.shape == (2, 3, 2), f"Linear(4, 2) on a (2, 3, 4) input should give (2, 3, 2), got {out.shape}"
    assert np.allclose(out.data, x @ w + b, atol=1e-5), "Linear on a 3-D input should transform the last dim"


@pytest.mark.exercise("3.2")
def test_linear_without_bias():
    layer = Linear(3, 2, bias=False)
    assert layer.bias is None, f"Linear(..., bias=False) should set bias to None, got {layer.bias!r}"
    params = layer.parameters()
    assert len(params) == 1 and params[0] is layer.weight, \
        f"without a bias, parameters() should be [weight], got {len(params)} tensors"
    x = np.array([[1.0, 2.0, 3.0]])
    out = layer(Tensor(x))
    assert np.allclose(out.data, x @ layer.weight.data.astype(np.float64), atol=1e-5), \
        "without a bias, forward should be x @ weight"


@pytest.mark.exercise("3.2")
def test_linear_parameters_are_weight_then_bias():
    layer = Linear(6, 4)
    params = layer.parameters()
    assert len(params) == 2, f"Linear(6, 4).parameters() should hold 2 tensors, got {len(params)}"
    assert params[0] is layer.weight and params[1] is layer.bias, \
        "parameters() should return the layer's own weight and bias tensors (not copies), weight first"
    count = sum(p.size for p in params)
    assert count == 6 * 4 + 4, f"Linear(6, 4) has 6*4 + 4 = 28 parameters, counted {count}"


# --- 3.3 Dropout ---------------------------------------------------------------------------------------------
@pytest.mark.exercise("3.3")
def test_dropout_is_identity_in_eval_mode():
    x = Tensor(np.arange(1.0, 13.0).reshape(3, 4))
    drop = Dropout(0.5).eval()
    out = drop(x)
    assert np.array_equal(out.data, x.data), \
        f"in eval mode Dropout must pass the input through unchanged, got {out.data.tolist()}"


@pytest.mark.exercise("3.3")
def test_dropout_zeroes_p_and_rescales_survivors():
    np.random.seed(3)
    p = 0.25
    x = Tensor(np.ones((100, 100)))
    out = Dropout(p)(x)
    assert out.shape == (100, 100), f"Dropout changed the shape to {out.shape}"
    dropped = float(np.mean(out.data == 0))
    assert abs(dropped - p) < 0.03, \
        f"Dropout({p}) zeroed {dropped:.1%} of the elements; it should zero about {p:.0%} (each with probability p)"
    survivors = out.data[out.data != 0]
    assert np.allclose(survivors, 1 / (1 - p)), (
        f"survivors of Dropout({p}) on ones should be 1 / (1 - p) = {1 / (1 - p):.4f}, got values like "
        f"{survivors[:3]}: scale what you keep so the expected output equals the input")
    assert np.all(x.data == 1), "Dropout changed its input tensor"


@pytest.mark.exercise("3.3")
def test_dropout_draws_a_new_mask_each_call():
    np.random.seed(4)
    drop = Dropout(0.5)
    x = Tensor(np.ones(200))
    first, second = drop(x).data, drop(x).data
    assert not np.array_equal(first, second), "two calls gave the same mask: draw a fresh one on every forward"


@pytest.mark.exercise("3.3")
def test_dropout_edge_probabilities():
    x = Tensor([[1.0, -2.0, 3.0]])
    assert np.array_equal(Dropout(0.0)(x).data, x.data), "Dropout(0) should keep everything unchanged"
    all_dropped = Dropout(1.0)(x).data
    assert np.array_equal(all_dropped, np.zeros((1, 3))), \
        f"Dropout(1) should drop everything (all zeros, no nan from dividing by 1 - p = 0), got {all_dropped}"
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError):
            Dropout(bad)


# --- 3.4 Sequential ------------------------------------------------------------------------------------------
@pytest.mark.exercise("3.4")
def test_sequential_applies_every_layer_in_order():
    x = Tensor([1.0, 2.0])
    out = Sequential(AddOne(), Double(), AddOne())(x)
    assert out.data.tolist() == [5.0, 7.0], \
        f"Sequential(AddOne, Double, AddOne) on [1, 2] should give ((x + 1) * 2) + 1 = [5, 7], got {out.data.tolist()}"
    assert Sequential(Double(), AddOne())(x).data.tolist() == [3.0, 5.0], "layers must run in the order given"


@pytest.mark.exercise("3.4")
def test_sequential_mlp_matches_numpy():
    rng = np.random.default_rng(5)
    first, second = Linear(4, 8), Linear(8, 3)
    w1, b1 = set_weights(first, rng)
    w2, b2 = set_weights(second, rng)
    x = rng.standard_normal((6, 4))
    out = Sequential(first, ReLU(), second)(Tensor(x))
    expected = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    assert out.shape == (6, 3), f"the MLP should map (6, 4) to (6, 3), got {out.shape}"
    assert np.allclose(out.data, expected, atol=1e-4), "Sequential(Linear, ReLU, Linear) differs from NumPy"


@pytest.mark.exercise("3.4")
def test_sequential_parameters_cover_every_layer_in_order():
    first, second = Linear(4, 8), Linear(8, 3)
    model = Sequential(first, ReLU(), Dropout(0.1), second)
    params = model.parameters()
    expected = [first.weight, first.bias, second.weight, second.bias]
    assert isinstance(params, list) and len(params) == 4, \
        f"parameters() should be one flat list of 4 tensors (2 per Linear), got {len(params)} items"
    assert all(p is q for p, q in zip(params, expected)), \
        "parameters() should be [first.weight, first.bias, second.weight, second.bias], layer by layer"
    assert sum(p.size for p in params) == (4 * 8 + 8) + (8 * 3 + 3), "parameter count of the MLP is wrong"


@pytest.mark.exercise("3.4")
def test_sequential_train_and_eval_reach_every_layer():
    np.random.seed(6)
    drop = Dropout(0.5)
    model = Sequential(AddOne(), ReLU(), drop)
    assert model.eval() is model, "eval() should return the model itself"
    assert drop.training is False, "model.eval() must switch the Dropout inside it to eval mode too"
    x = Tensor(np.ones(50))
    assert np.all(model(x).data == 2.0), "in eval mode the model's Dropout should pass everything through"
    model.train()
    assert model.training and drop.training, "model.train() must switch every layer back to training"
    assert np.any(model(x).data == 0), "in training mode the model's Dropout should drop some elements"
