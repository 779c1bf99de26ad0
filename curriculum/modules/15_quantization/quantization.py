"""Module 15: Quantization, storing weights (and computing) with 8-bit integers instead of 32-bit floats.

An int8 holds one of 256 values. Affine quantization maps a float range [lo, hi] onto them with a scale and a zero
point, x ~ (q - zero_point) * scale: four times less memory per weight, at the price of a rounding error of at most
half a scale. Weights get one scale per output channel; the inputs of every layer get one scale, calibrated on
sample data before the model is used. The layers here then compute their products with integers, as int8 hardware
does.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import copy

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.profiling.profiler import named_layers, set_layer

QMIN, QMAX = -128, 127  # the int8 range


def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


# --- 15.1 and 15.2 quantizing a tensor --------------------------------------------------------------------------

def affine_params(lo, hi):
    """(scale, zero_point) mapping the float range [lo, hi] onto [QMIN, QMAX]; lo and hi are numbers or arrays
    (one range per channel). The range is first widened to include 0, so that zero (padding, a ReLU's zeros, a
    pruned weight) is represented exactly by the integer zero_point."""
    # TODO 15.1: widen the range to include 0 (lo = np.minimum(lo, 0), hi = np.maximum(hi, 0), as float32 arrays).
    # scale = (hi - lo) / (QMAX - QMIN) as float32, with 1.0 wherever it is 0 (an all-zero range: any scale works,
    # and dividing by 0 does not). zero_point = the integer that lo maps to QMIN: round(QMIN - lo / scale), clipped
    # to [QMIN, QMAX], as np.int32.
    ### BEGIN SOLUTION
    lo = np.minimum(np.asarray(lo, dtype=np.float32), 0)
    hi = np.maximum(np.asarray(hi, dtype=np.float32), 0)
    scale = ((hi - lo) / (QMAX - QMIN)).astype(np.float32)
    scale = np.where(scale == 0, np.float32(1.0), scale)
    zero_point = np.clip(np.round(QMIN - lo / scale), QMIN, QMAX).astype(np.int32)
    ### END SOLUTION
    return scale, zero_point


def quantize_with(x, scale, zero_point):
    """int8 q = round(x / scale) + zero_point, saturated to [QMIN, QMAX] (scale and zero_point broadcast against x)."""
    x = _array(x)
    # TODO 15.1: divide, round (np.round: truncating with astype would make the error up to a whole scale), add the
    # zero point, clip to [QMIN, QMAX] (values outside the range saturate; without the clip, astype(np.int8) wraps
    # 130 around to -126), then astype(np.int8).
    ### BEGIN SOLUTION
    return np.clip(np.round(x / scale) + zero_point, QMIN, QMAX).astype(np.int8)
    ### END SOLUTION


def quantize_int8(t, per_channel=False, axis=0):
    """(q, scale, zero_point) with t ~ (q - zero_point) * scale and q an int8 array shaped like t.

    Per tensor, scale (float32) and zero_point (int32) are 0-d arrays from t's whole range. per_channel=True gives
    one pair per slice along `axis`, shaped to broadcast against t (size 1 on every other axis): a Conv2d weight
    (out, in, k, k) has its output channels on axis 0, a Linear weight (in, out) here on axis 1.
    """
    x = _array(t)
    if per_channel:
        # TODO 15.2: the min and max over every axis EXCEPT `axis` (keepdims=True, so they broadcast against x).
        ### BEGIN SOLUTION
        others = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        lo, hi = x.min(axis=others, keepdims=True), x.max(axis=others, keepdims=True)
        ### END SOLUTION
    else:
        lo, hi = x.min(), x.max()
    scale, zero_point = affine_params(lo, hi)
    return quantize_with(x, scale, zero_point), scale, zero_point


def dequantize_int8(q, scale, zero_point):
    """The float32 values int8 q stands for: (q - zero_point) * scale."""
    # TODO 15.1: compute in float32 (int8 arithmetic would overflow: 127 - (-128) does not fit).
    ### BEGIN SOLUTION
    return ((np.asarray(q).astype(np.float32) - zero_point) * scale).astype(np.float32)
    ### END SOLUTION


# --- 15.3 integer layers ------------------------------------------------------------------------------------------

def int8_matmul(qx, x_zero_point, qw, w_zero_point):
    """The integer product (qx - x_zero_point) @ (qw - w_zero_point), summed in int32.

    qx (..., K) and qw (K, N) are int8; the zero points broadcast (w_zero_point may hold one per column). Each
    product of two centred int8 values fits in 17 bits and a sum of K of them in int32 for any K up to 32,000;
    int8 or int16 sums would overflow and wrap around.
    """
    # TODO 15.3: widen both to np.int32 BEFORE subtracting the zero points, then one matmul.
    ### BEGIN SOLUTION
    return (qx.astype(np.int32) - x_zero_point) @ (qw.astype(np.int32) - w_zero_point)
    ### END SOLUTION


class QuantizedLinear(Layer):
    """A Linear layer in int8: weights quantized per output column, inputs quantized with one calibrated scale, the
    product computed in integers and scaled back to float32:

        y = (s_x * s_w) * int8_matmul(q_x, z_x, q_w, z_w) + bias

    For inference only: it has no parameters to train (parameters() is empty); storage_bytes() says what it holds.
    """

    def __init__(self, linear):
        self.in_features, self.out_features = linear.in_features, linear.out_features
        # TODO 15.3: quantize linear.weight per channel, one scale per OUTPUT feature (axis 1 of the (in, out)
        # weight), into self.q_weight, self.weight_scale and self.weight_zero_point. Keep the bias as a float32
        # array copy in self.bias (None without one): it is added after the product, in float, and is tiny.
        ### BEGIN SOLUTION
        self.q_weight, self.weight_scale, self.weight_zero_point = quantize_int8(linear.weight, per_channel=True,
                                                                                 axis=1)
        self.bias = None if linear.bias is None else np.array(linear.bias.data, dtype=np.float32)
        ### END SOLUTION
        self.input_scale = self.input_zero_point = None  # set by calibrate()

    def calibrate(self, samples):
        """Fix the input's scale and zero point from sample inputs (a list of arrays or Tensors, or one of them): the
        range from the smallest to the largest value in ANY of them. Inputs outside it will saturate."""
        samples = samples if isinstance(samples, (list, tuple)) else [samples]
        # TODO 15.3: lo = the minimum over all samples, hi = the maximum over all samples, then
        # self.input_scale, self.input_zero_point = affine_params(lo, hi). Return self.
        ### BEGIN SOLUTION
        lo = min(float(_array(s).min()) for s in samples)
        hi = max(float(_array(s).max()) for s in samples)
        self.input_scale, self.input_zero_point = affine_params(lo, hi)
        return self
        ### END SOLUTION

    def quantize_input(self, x):
        """(q_x, scale, zero_point) of an input: the calibrated ones, or (not calibrated) the input's own range,
        measured afresh on every call ("dynamic" quantization: no calibration, but a pass over x each time)."""
        if self.input_scale is None:
            return quantize_int8(x)
        return quantize_with(x, self.input_scale, self.input_zero_point), self.input_scale, self.input_zero_point

    def forward(self, x):
        qx, x_scale, x_zero_point = self.quantize_input(x)
        # TODO 15.3: the integer product of qx and the weights (int8_matmul), times x_scale * weight_scale (a row of
        # per-column scales) as float32, plus the bias. Return a Tensor.
        ### BEGIN SOLUTION
        acc = int8_matmul(qx, x_zero_point, self.q_weight, self.weight_zero_point)
        out = acc.astype(np.float32) * (x_scale * self.weight_scale)
        if self.bias is not None:
            out += self.bias
        return Tensor(out)
        ### END SOLUTION

    def parameters(self):
        return []

    def storage_bytes(self):
        """Bytes as stored: the int8 weights, their scales and zero points, the float bias, the input's pair."""
        arrays = [self.q_weight, self.weight_scale, self.weight_zero_point, self.bias, self.input_scale,
                  self.input_zero_point]
        return int(sum(a.nbytes for a in arrays if a is not None))

    def __repr__(self):
        return f"QuantizedLinear(in_features={self.in_features}, out_features={self.out_features})"


def _patches(x, kernel_size, stride, padding):
    """(N * H_out * W_out, C * k * k) rows of every k x k window of x (N, C, H, W), padded with zeros: im2col."""
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kernel_size, kernel_size), axis=(2, 3))
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, k, k)
    n, c, h_out, w_out = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kernel_size * kernel_size), h_out, w_out


class QuantizedConv2d(QuantizedLinear):
    """A Conv2d in int8 (given: your QuantizedLinear's pieces on the rows of im2col). Weights per output channel;
    the input's zero point is subtracted BEFORE padding, so the padding is a true 0 and not the integer 0."""

    def __init__(self, conv):
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.kernel_size, self.stride, self.padding = conv.kernel_size, conv.stride, conv.padding
        q, scale, zero_point = quantize_int8(conv.weight, per_channel=True, axis=0)  # (out, in, k, k)
        # As the (in * k * k, out) matrix the patches multiply: one column per output channel.
        self.q_weight = np.ascontiguousarray(q.reshape(self.out_channels, -1).T)
        self.weight_scale, self.weight_zero_point = scale.reshape(1, -1), zero_point.reshape(1, -1)
        self.bias = None if conv.bias is None else np.array(conv.bias.data, dtype=np.float32)
        self.input_scale = self.input_zero_point = None

    def forward(self, x):
        qx, x_scale, x_zero_point = self.quantize_input(x)
        centred = qx.astype(np.int32) - x_zero_point
        cols, h_out, w_out = _patches(centred, self.kernel_size, self.stride, self.padding)
        acc = int8_matmul(cols, 0, self.q_weight, self.weight_zero_point)
        out = acc.astype(np.float32) * (x_scale * self.weight_scale)
        if self.bias is not None:
            out += self.bias
        n = qx.shape[0]
        return Tensor(out.reshape(n, h_out, w_out, self.out_channels).transpose(0, 3, 1, 2))

    def __repr__(self):
        return (f"QuantizedConv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding})")


# --- 15.4 a whole model -----------------------------------------------------------------------------------------

QUANTIZED = {Linear: QuantizedLinear, Conv2d: QuantizedConv2d}  # what quantize_model replaces, by what


def inputs_seen(model, x, names):
    """Run model(x) once (no graph) and return {name: [the input of every call of that layer]} for the layers
    named, as named_layers(model) names them: what each layer really receives, to calibrate it on."""
    seen, patched = {name: [] for name in names}, []
    layers = dict(named_layers(model))
    try:
        for name in names:
            layer = layers[name]
            original = layer.forward

            def recording(inp, *args, _name=name, _original=original, **kwargs):
                seen[_name].append(np.array(_array(inp)))
                return _original(inp, *args, **kwargs)

            patched.append(layer)
            layer.forward = recording
        with no_grad():
            model(x)
    finally:
        for layer in patched:
            del layer.forward
    return seen


def quantize_model(model, calibration_data):
    """A copy of `model` with every Linear and Conv2d replaced by its int8 version, each calibrated on the inputs it
    receives when the model runs on `calibration_data` (a batch of typical inputs). The original is left untouched;
    the copy is called like it. Embeddings, norms and everything else stay float32."""
    x = calibration_data if isinstance(calibration_data, Tensor) else Tensor(calibration_data)
    quantized = copy.deepcopy(model)
    names = [name for name, layer in named_layers(quantized) if type(layer) in QUANTIZED]
    # TODO 15.4: inputs_seen(quantized, x, names) gives the inputs each named layer receives. For each name, build
    # QUANTIZED[type(layer)](layer) for the layer of that name (dict(named_layers(quantized)) finds it), calibrate it
    # on that layer's own inputs (the second layer of an MLP sees ReLU outputs, not pixels), and put it in place
    # with set_layer(quantized, name, new_layer).
    ### BEGIN SOLUTION
    observed = inputs_seen(quantized, x, names)
    layers = dict(named_layers(quantized))
    for name in names:
        set_layer(quantized, name, QUANTIZED[type(layers[name])](layers[name]).calibrate(observed[name]))
    ### END SOLUTION
    return quantized
