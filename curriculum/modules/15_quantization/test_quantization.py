"""Tests for module 15 (Quantization). Expected values come from the affine formulas worked out by hand, from the
bound every correct rounding meets (an error of at most half a scale), from integer products recomputed in int64,
and from the float model the quantized one must stay close to; never from a reference implementation."""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT
from tinytorch.optimization.quantization import (QuantizedConv2d, QuantizedLinear, affine_params, dequantize_int8,
                                                 int8_matmul, quantize_int8, quantize_model, quantize_with)
from tinytorch.profiling.profiler import Profiler

RNG = np.random.default_rng(1515)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def linear(weight, bias=None):
    weight = np.asarray(weight, dtype=np.float32)
    layer = Linear(*weight.shape)
    layer.weight.data[...] = weight
    layer.bias.data[...] = 0.0 if bias is None else bias
    return layer


# --- 15.1 a tensor in int8 -----------------------------------------------------------------------------------------

@pytest.mark.exercise("15.1")
def test_affine_params_by_hand():
    scale, zero_point = affine_params(-1.0, 1.55)
    assert float(scale) == pytest.approx(0.01), f"[-1, 1.55] spans 2.55 over 255 steps: scale 0.01, got {scale}"
    assert int(zero_point) == -28, (
        f"lo = -1 must land on -128: zero_point = round(-128 - (-1) / 0.01) = -28, got {zero_point}")
    scale, zero_point = affine_params(2.0, 4.55)
    assert float(scale) == pytest.approx(4.55 / 255) and int(zero_point) == -128, (
        f"a range [2, 4.55] is widened to [0, 4.55] so that 0 is representable: scale 4.55 / 255 and zero_point "
        f"-128, got {scale} and {zero_point}")
    scale, zero_point = affine_params(0.0, 0.0)
    assert np.isfinite(scale) and float(scale) > 0, f"an all-zero range needs a usable scale (1.0), got {scale}"


@pytest.mark.exercise("15.1")
def test_round_trip_error_is_at_most_half_a_scale():
    x = rand(2000)
    q, scale, zero_point = quantize_int8(x)
    assert q.dtype == np.int8 and q.shape == x.shape, f"q should be int8 shaped like x, got {q.dtype} {q.shape}"
    back = dequantize_int8(q, scale, zero_point)
    assert back.dtype == np.float32, f"dequantize_int8 should give float32, got {back.dtype}"
    error = np.abs(back - x).max()
    assert error <= float(scale) / 2 + 1e-6, (
        f"the largest error is {error:.5f} but rounding to the nearest step never errs by more than half a scale "
        f"({float(scale) / 2:.5f}): round, do not truncate")
    assert q.min() == -128 and q.max() == 127, (
        f"the smallest value should map to -128 and the largest to 127 (the whole int8 range), got {q.min()} and "
        f"{q.max()}")


@pytest.mark.exercise("15.1")
def test_zero_is_exact_and_positive_data_keeps_its_values():
    x = np.array([2.0, 2.5, 3.0, 4.0], dtype=np.float32)  # all positive, like a ReLU's output
    q, scale, zero_point = quantize_int8(x)
    back = dequantize_int8(q, scale, zero_point)
    assert np.abs(back - x).max() <= float(scale) / 2 + 1e-6, f"{x} came back as {back}"
    zero = dequantize_int8(quantize_with(np.zeros(1), scale, zero_point), scale, zero_point)
    assert zero[0] == 0.0, f"0 must come back exactly 0 (the range includes 0, mapped to zero_point), got {zero[0]}"


@pytest.mark.exercise("15.1")
def test_values_outside_the_range_saturate():
    q = quantize_with(np.array([-10.0, -1.28, 0.0, 1.27, 10.0]), np.float32(0.01), np.int32(0))
    assert q.tolist() == [-128, -128, 0, 127, 127], (
        f"values beyond the range should saturate at -128 and 127, got {q.tolist()} (clip before astype(np.int8), "
        "which wraps 1000 around)")


@pytest.mark.exercise("15.1")
def test_dequantize_by_hand():
    back = dequantize_int8(np.array([-128, -28, 0, 127], dtype=np.int8), np.float32(0.5), np.int32(-28))
    assert back.tolist() == [-50.0, 0.0, 14.0, 77.5], (
        f"(q - zero_point) * scale for q = -128, -28, 0, 127 with scale 0.5 and zero_point -28 is -50, 0, 14, 77.5; "
        f"got {back.tolist()}")


# --- 15.2 per channel ----------------------------------------------------------------------------------------------

@pytest.mark.exercise("15.2")
def test_per_channel_gives_each_output_channel_its_own_scale():
    w = rand(4, 3, 2, 2) * np.array([1, 10, 100, 1000], dtype=np.float32).reshape(4, 1, 1, 1)
    q, scale, zero_point = quantize_int8(w, per_channel=True, axis=0)
    assert np.shape(scale) == (4, 1, 1, 1) and np.shape(zero_point) == (4, 1, 1, 1), (
        f"one scale and zero point per channel of axis 0, shaped to broadcast: (4, 1, 1, 1); got {np.shape(scale)} "
        f"and {np.shape(zero_point)}")
    back = dequantize_int8(q, scale, zero_point)
    for c in range(4):
        expected = (max(w[c].max(), 0) - min(w[c].min(), 0)) / 255
        assert float(scale[c]) == pytest.approx(expected, rel=1e-5), f"channel {c}: scale from its own range"
        assert np.abs(back[c] - w[c]).max() <= float(scale[c]) / 2 + 1e-6, f"channel {c} round trip too coarse"
    _, tensor_scale, _ = quantize_int8(w)
    assert float(tensor_scale) > 500 * float(scale[0]), "per tensor, the small channel would share the large scale"


@pytest.mark.exercise("15.2")
def test_per_channel_on_axis_1_of_a_linear_weight():
    w = np.array([[1.0, -4.0, 0.0], [-2.0, 8.0, 0.0]], dtype=np.float32)  # (in 2, out 3)
    q, scale, zero_point = quantize_int8(w, per_channel=True, axis=1)
    assert np.shape(scale) == (1, 3), f"axis=1 of a (2, 3) weight gives scales of shape (1, 3), got {np.shape(scale)}"
    assert np.allclose(np.ravel(scale)[:2], [3 / 255, 12 / 255]), (
        f"column 0 spans [-2, 1] and column 1 [-4, 8]: scales 3/255 and 12/255, got {np.ravel(scale)}")
    assert np.all(dequantize_int8(q, scale, zero_point)[:, 2] == 0), "an all-zero column must stay exactly zero"


# --- 15.3 integer layers ------------------------------------------------------------------------------------------

@pytest.mark.exercise("15.3")
def test_int8_matmul_is_exact_in_int32():
    qx = RNG.integers(-128, 128, (3, 400)).astype(np.int8)
    qw = RNG.integers(-128, 128, (400, 5)).astype(np.int8)
    qx[0], qw[:, 0] = -128, 127  # extreme values: products near 65,000, sums near 26 million
    zx, zw = np.int32(5), np.arange(5, dtype=np.int32).reshape(1, 5) - 2
    got = int8_matmul(qx, zx, qw, zw)
    expected = (qx.astype(np.int64) - 5) @ (qw.astype(np.int64) - zw)
    assert np.issubdtype(np.asarray(got).dtype, np.integer), f"the product should stay integer, got {got.dtype}"
    assert np.array_equal(np.asarray(got, dtype=np.int64), expected), (
        "the integer product differs from int64 arithmetic: widen to int32 before subtracting zero points and "
        "multiplying (int8 or int16 sums wrap around)")


@pytest.mark.exercise("15.3")
def test_quantized_linear_stays_close_to_the_float_layer():
    np.random.seed(3)
    layer = Linear(64, 10)
    layer.bias.data[...] = rand(10)
    x = np.clip(rand(16, 64), -2, 2)
    q = QuantizedLinear(layer).calibrate(x)
    assert q.q_weight.dtype == np.int8 and q.q_weight.shape == (64, 10), "q_weight: the int8 (in, out) weight"
    out = q(Tensor(x))
    expected = x.astype(np.float64) @ layer.weight.data + layer.bias.data
    assert isinstance(out, Tensor) and out.shape == (16, 10), f"QuantizedLinear should return a (16, 10) Tensor"
    error = np.abs(out.data - expected).max()
    assert error < 0.05, f"int8 outputs should be within a few hundredths of the float ones here, largest error {error:.3f}"


@pytest.mark.exercise("15.3")
def test_quantized_linear_scales_each_output_column_on_its_own():
    w = rand(8, 4) * np.array([0.001, 1.0, 10.0, 1000.0], dtype=np.float32)
    x = rand(5, 8)
    out = QuantizedLinear(linear(w)).calibrate(x)(Tensor(x)).data
    expected = x.astype(np.float64) @ w
    small = np.abs(out[:, 0] - expected[:, 0]).max() / np.abs(expected[:, 0]).max()
    assert small < 0.05, (
        f"the column of tiny weights is off by {small:.0%} of its size: quantize the weight per output column "
        "(axis 1 of the (in, out) weight), so it does not share the scale of the column of huge ones")


@pytest.mark.exercise("15.3")
def test_calibration_spans_every_sample_and_inputs_beyond_saturate():
    layer = linear(np.eye(2))
    q = QuantizedLinear(layer).calibrate([np.array([[-1.0, 0.5]]), np.array([[-0.2, 2.0]])])
    assert float(q.input_scale) == pytest.approx(3.0 / 255), (
        f"the samples together span [-1, 2]: input_scale 3/255, got {q.input_scale}")
    out = q(Tensor([[5.0, -0.5]])).data
    assert out[0, 0] == pytest.approx(2.0, abs=0.02), (
        f"5.0 lies beyond the calibrated range and should saturate at 2.0, got {out[0, 0]:.3f}")
    assert out[0, 1] == pytest.approx(-0.5, abs=0.01), f"-0.5 is inside the range, got {out[0, 1]:.3f}"


@pytest.mark.exercise("15.3")
def test_quantized_linear_is_four_times_smaller():
    layer = Linear(256, 128)
    q = QuantizedLinear(layer).calibrate(rand(4, 256))
    assert q.parameters() == [], "a quantized layer is for inference: nothing to train"
    float_bytes = (256 * 128 + 128) * 4
    assert 256 * 128 <= q.storage_bytes() < float_bytes / 3.8, (
        f"int8 weights (32,768 bytes) plus per-column scales, zero points and the bias: about 4x less than "
        f"{float_bytes:,} bytes in float32; storage_bytes() says {q.storage_bytes():,}")
    x = rand(3, 256)
    dynamic = QuantizedLinear(layer)(Tensor(x)).data  # not calibrated: each input quantized on its own range
    assert np.abs(dynamic - x @ layer.weight.data).max() < 0.1, "an uncalibrated layer should still compute x @ W"


# --- 15.4 a whole model --------------------------------------------------------------------------------------------

@pytest.mark.exercise("15.4")
def test_quantize_model_returns_a_quantized_copy():
    np.random.seed(4)
    model = Sequential(Linear(16, 32), ReLU(), Linear(32, 4))
    x = rand(20, 16)
    before = model(Tensor(x)).data.copy()
    quantized = quantize_model(model, x)
    kinds = [type(layer).__name__ for layer in quantized.layers]
    assert kinds == ["QuantizedLinear", "ReLU", "QuantizedLinear"], f"every Linear should become int8, got {kinds}"
    assert [type(layer).__name__ for layer in model.layers] == ["Linear", "ReLU", "Linear"], (
        "quantize_model changed the original model: quantize a copy (copy.deepcopy)")
    assert np.array_equal(model(Tensor(x)).data, before), "the original model's outputs changed"
    assert np.abs(quantized(Tensor(x)).data - before).max() < 0.05, "the quantized model strays from the float one"


@pytest.mark.exercise("15.4")
def test_each_layer_is_calibrated_on_what_it_receives():
    np.random.seed(5)
    first, second = Linear(8, 16), Linear(16, 2)
    first.weight.data *= 50  # hidden values around +-50, inputs around +-1
    model = Sequential(first, ReLU(), second)
    x = rand(32, 8)
    hidden = np.maximum(x @ first.weight.data + first.bias.data, 0)
    quantized = quantize_model(model, x)
    expected = hidden.max() / 255
    got = float(quantized.layers[2].input_scale)
    assert got == pytest.approx(expected, rel=1e-4), (
        f"the second Linear receives ReLU outputs up to {hidden.max():.1f}: its input_scale should be {expected:.4f}, "
        f"got {got:.4f}. Calibrate each layer on its own inputs (inputs_seen), not on the model's input")


@pytest.mark.exercise("15.4")
def test_quantize_model_handles_a_cnn_and_a_gpt():
    np.random.seed(6)
    cnn = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 4 * 4, 3))
    images = np.abs(rand(6, 1, 8, 8))
    q_cnn = quantize_model(cnn, images)
    assert isinstance(q_cnn.layers[0], QuantizedConv2d), "a Conv2d should become a QuantizedConv2d"
    float_out, int_out = cnn(Tensor(images)).data, q_cnn(Tensor(images)).data
    assert np.abs(int_out - float_out).max() < 0.05 * np.abs(float_out).max(), "the int8 CNN strays from the float one"

    gpt = GPT(vocab_size=12, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=6)
    ids = RNG.integers(0, 12, (3, 6))
    q_gpt = quantize_model(gpt, ids)
    linears = [b.attn.q_proj for b in q_gpt.blocks] + [q_gpt.blocks[0].mlp.fc2, q_gpt.head]
    assert all(isinstance(layer, QuantizedLinear) for layer in linears), "every Linear inside the GPT should be int8"
    float_logits, int_logits = gpt(ids).data, q_gpt(ids).data
    assert np.abs(int_logits - float_logits).max() < 0.1 * np.abs(float_logits).max(), "the int8 GPT strays"
    profiler = Profiler()
    assert profiler.model_bytes(q_gpt) < 0.6 * profiler.model_bytes(gpt), (
        "the quantized GPT should weigh much less: its Linear weights are int8 (embeddings and norms stay float)")
