"""Tests for module 09 (Convolutions). Expected values come from hand-worked examples, from the convolution written
independently below as a sum of shifted slices (one per kernel offset), and from central finite differences of
the forward pass, never from a reference implementation."""
import numpy as np
import pytest

from tinytorch.core.autograd import enable_autograd, no_grad, topological_order
from tinytorch.core.spatial import (AvgPool2d, BatchNorm2d, Conv2d, Flatten, MaxPool2d, conv2d_naive,
                                    conv_output_size, fold, im2col, pad_images, windows)
from tinytorch.core.tensor import Tensor
from tinytorch_wasm.gradcheck import check_gradients

enable_autograd()

RNG = np.random.default_rng(909)


def rand(*shape):
    return np.asarray(RNG.uniform(-1.0, 1.0, size=shape), dtype=np.float32)


def leaf(array):
    return Tensor(array, requires_grad=True)


def conv_by_offsets(x, weight, bias=None, stride=1, padding=0):
    """The convolution in float64 as a sum over kernel offsets (u, v) of a strided slice times one weight column:
    no windows, no im2col, no loops over pixels, so it shares no code path with the module's."""
    x = np.pad(np.asarray(x, dtype=np.float64), ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    weight = np.asarray(weight, dtype=np.float64)
    k = weight.shape[2]
    h_out, w_out = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], weight.shape[0], h_out, w_out))
    for u in range(k):
        for v in range(k):
            patch = x[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride]  # (N, C, H_out, W_out)
            out += np.einsum("nchw,oc->nohw", patch, weight[:, :, u, v])
    return out if bias is None else out + np.asarray(bias, dtype=np.float64)[None, :, None, None]


# --- 9.1 output size, padding and the loop convolution -------------------------------------------------------------

@pytest.mark.exercise("9.1")
@pytest.mark.parametrize("size, k, stride, padding, expected", [
    (8, 3, 1, 0, 6), (8, 3, 1, 1, 8), (8, 2, 2, 0, 4), (7, 3, 2, 1, 4), (5, 2, 2, 0, 2), (28, 5, 1, 2, 28),
])
def test_output_size(size, k, stride, padding, expected):
    got = conv_output_size(size, k, stride, padding)
    assert got == expected, (f"a {k}-pixel window on {size} pixels, stride {stride}, padding {padding} fits "
                             f"(size + 2 * padding - k) // stride + 1 = {expected} times, got {got}")


@pytest.mark.exercise("9.1")
def test_output_size_refuses_a_window_that_does_not_fit():
    with pytest.raises(ValueError):
        conv_output_size(2, 3)  # a 3x3 kernel on a 2x2 image without padding


@pytest.mark.exercise("9.1")
def test_pad_images_pads_only_height_and_width():
    x = np.arange(1, 2 * 3 * 2 * 2 + 1, dtype=np.float32).reshape(2, 3, 2, 2)
    padded = pad_images(x, 1)
    assert padded.shape == (2, 3, 4, 4), f"padding 1 turns (2, 3, 2, 2) into (2, 3, 4, 4), got {padded.shape}"
    assert np.array_equal(padded[:, :, 1:3, 1:3], x), "the image must sit in the middle of the padded one"
    assert padded.sum() == x.sum() and padded[:, :, 0].sum() == 0, "the border must be zeros"
    assert pad_images(x, 0).shape == x.shape, "padding 0 must leave the shape alone"


@pytest.mark.exercise("9.1")
def test_naive_conv_hand_example():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)  # x[i, j] = 4i + j
    w = np.array([[[[1, 2], [3, 4]]]], dtype=np.float32)
    # out[i, j] = x[i, j] + 2 x[i, j+1] + 3 x[i+1, j] + 4 x[i+1, j+1] = 40 i + 10 j + 34 (no flipping of the kernel)
    expected = np.array([[34, 44, 54], [74, 84, 94], [114, 124, 134]], dtype=np.float32)
    got = conv2d_naive(x, w)
    assert got.shape == (1, 1, 3, 3), f"a 2x2 kernel on a 4x4 image gives a 3x3 map, got {got.shape}"
    assert np.allclose(got[0, 0], expected), (
        f"expected\n{expected}\ngot\n{got[0, 0]}\n(a flipped kernel gives 26 at the top left: deep learning's "
        "convolution does not flip it)")
    strided = conv2d_naive(x, w, bias=np.array([1.0]), stride=2)
    assert np.allclose(strided[0, 0], expected[::2, ::2] + 1), \
        f"stride 2 keeps every second position and the bias adds 1, got\n{strided[0, 0]}"


@pytest.mark.exercise("9.1")
def test_naive_conv_matches_numpy_with_channels_stride_padding():
    x, w, b = rand(2, 3, 5, 6), rand(4, 3, 3, 3), rand(4)
    got = conv2d_naive(x, w, b, stride=2, padding=1)
    expected = conv_by_offsets(x, w, b, stride=2, padding=1)
    assert got.shape == expected.shape == (2, 4, 3, 3), f"expected shape (2, 4, 3, 3), got {got.shape}"
    assert got.dtype == np.float32, f"the output should be float32, got {got.dtype}"
    assert np.allclose(got, expected, atol=1e-4), \
        f"largest error {np.abs(got - expected).max():.3g}: sum window * weight[o] over all channels"


# --- 9.2 windows, im2col and Conv2d ------------------------------------------------------------------------------

@pytest.mark.exercise("9.2")
def test_windows_is_a_view_of_every_window():
    x = rand(2, 3, 5, 5)
    w = windows(x, 3, stride=2)
    assert w.shape == (2, 3, 2, 2, 3, 3), f"3x3 windows at stride 2 on 5x5 images: (2, 3, 2, 2, 3, 3), got {w.shape}"
    assert np.array_equal(w[1, 2, 1, 0], x[1, 2, 2:5, 0:3]), "window (1, 0) at stride 2 starts at pixel (2, 0)"
    assert np.shares_memory(w, x), "windows() must be a view of x (sliding_window_view), not a copy"
    padded = windows(x, 3, stride=1, padding=1)
    assert padded.shape == (2, 3, 5, 5, 3, 3), f"with padding 1 a 3x3 window fits 5 times, got {padded.shape}"
    assert np.array_equal(padded[0, 0, 0, 0][1:, 1:], x[0, 0, :2, :2]) and padded[0, 0, 0, 0][0].sum() == 0, \
        "the first padded window is zeros on its top row and left column"


@pytest.mark.exercise("9.2")
def test_im2col_rows_are_flattened_windows():
    x = rand(2, 3, 4, 5)
    cols = im2col(x, 3, stride=1, padding=1)
    assert cols.shape == (2 * 4 * 5, 3 * 3 * 3), f"expected (N*H_out*W_out, C*k*k) = (40, 27), got {cols.shape}"
    assert cols.dtype == np.float32, f"im2col should keep float32, got {cols.dtype}"
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    for n, i, j in [(0, 0, 0), (0, 2, 3), (1, 3, 4), (1, 1, 0)]:
        row = cols[(n * 4 + i) * 5 + j]
        assert np.array_equal(row, padded[n, :, i:i + 3, j:j + 3].ravel()), (
            f"row ({n} * H_out + {i}) * W_out + {j} should be window ({i}, {j}) of image {n} flattened in (c, u, v) "
            "order: move the channel axis next to the kernel axes before reshaping")


@pytest.mark.exercise("9.2")
def test_conv2d_init():
    np.random.seed(9)
    conv = Conv2d(8, 16, kernel_size=3)
    assert isinstance(conv.weight, Tensor) and conv.weight.shape == (16, 8, 3, 3), \
        f"the weight is (out, in, k, k) = (16, 8, 3, 3), got {getattr(conv.weight, 'shape', None)}"
    assert conv.bias.shape == (16,) and np.all(conv.bias.data == 0), "the bias is zeros of shape (out_channels,)"
    assert conv.weight.requires_grad and conv.bias.requires_grad, "weight and bias are learned: requires_grad=True"
    assert conv.weight.dtype == np.float32, f"the weight should be float32, got {conv.weight.dtype}"
    std, he = conv.weight.data.std(), np.sqrt(2 / (8 * 3 * 3))
    assert abs(std / he - 1) < 0.1, f"weight std {std:.4f}, expected sqrt(2 / (in * k * k)) = {he:.4f}"
    assert conv.parameters() == [conv.weight, conv.bias] or \
        all(p is q for p, q in zip(conv.parameters(), [conv.weight, conv.bias]))
    plain = Conv2d(1, 2, 3, bias=False)
    assert plain.bias is None and len(plain.parameters()) == 1, "bias=False: no bias, parameters() is [weight]"


@pytest.mark.exercise("9.2")
@pytest.mark.parametrize("stride, padding, bias", [(1, 0, True), (2, 1, True), (1, 2, False)])
def test_conv2d_forward_matches_numpy(stride, padding, bias):
    conv = Conv2d(3, 4, kernel_size=3, stride=stride, padding=padding, bias=bias)
    if bias:
        conv.bias.data[...] = rand(4)
    x = rand(2, 3, 6, 5)
    out = conv(Tensor(x))
    expected = conv_by_offsets(x, conv.weight.data, conv.bias.data if bias else None, stride, padding)
    assert isinstance(out, Tensor), f"Conv2d must return a Tensor, got {type(out).__name__}"
    assert out.shape == expected.shape, f"stride {stride}, padding {padding}: expected {expected.shape}, got {out.shape}"
    assert out.dtype == np.float32, f"the output should stay float32, got {out.dtype}"
    assert np.allclose(out.data, expected, atol=1e-4), \
        f"stride {stride}, padding {padding}: largest error {np.abs(out.data - expected).max():.3g}"


@pytest.mark.exercise("9.2")
def test_conv2d_records_one_function():
    conv = Conv2d(2, 3, kernel_size=3, padding=1)
    x = Tensor(rand(1, 2, 4, 4))
    out = conv(x)
    assert out.requires_grad and out.grad_fn is not None, \
        "the output of a layer with learned weights must record how it was made: record(result, Conv2dBackward(...))"
    graph = topological_order(out)
    assert len(graph) <= 4, (f"the graph of one Conv2d call holds {len(graph)} tensors: record ONE fused Function "
                             "(inputs x, weight, bias), not a chain of Tensor operations")
    with no_grad():
        assert not conv(x).requires_grad, "under no_grad() nothing may be recorded"
    with pytest.raises(ValueError):
        conv(Tensor(rand(1, 3, 4, 4)))  # 3 channels into a layer made for 2


# --- 9.3 the convolution's backward -------------------------------------------------------------------------------

@pytest.mark.exercise("9.3")
def test_fold_adds_overlapping_windows():
    counts = fold(np.ones((1, 1, 2, 2, 3, 3), dtype=np.float32), (1, 1, 4, 4), 3)
    expected = np.array([[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]])
    assert counts.shape == (1, 1, 4, 4) and np.array_equal(counts[0, 0], expected), (
        f"folding ones counts how many 3x3 windows cover each pixel of a 4x4 image:\n{expected}\ngot\n{counts[0, 0]}"
        "\n(add with +=: a pixel inside four windows gets four values)")
    strided = fold(np.ones((1, 1, 2, 2, 2, 2), dtype=np.float32), (1, 1, 5, 5), 2, stride=2, padding=1)
    assert strided.shape == (1, 1, 5, 5), f"padding must be cut off again: expected (1, 1, 5, 5), got {strided.shape}"
    assert np.array_equal(strided[0, 0, :3, :3], np.ones((3, 3))) and strided[0, 0, 3:].sum() == 0, \
        f"2x2 windows at stride 2 over padding 1 cover pixels 0-2 of each row once, got\n{strided[0, 0]}"


@pytest.mark.exercise("9.3")
@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1)])
def test_conv2d_gradients(stride, padding):
    conv = Conv2d(2, 2, kernel_size=3, stride=stride, padding=padding)
    x = leaf(rand(1, 2, 5, 5))  # finite differences run the forward twice per element: keep it small

    def f(x, weight, bias):
        return conv(x)
    check_gradients(f, [x, conv.weight, conv.bias], f"Conv2d(2, 2, 3, stride={stride}, padding={padding})")


@pytest.mark.exercise("9.3")
def test_conv2d_weight_gradient_by_hand_and_no_input_gradient():
    conv = Conv2d(1, 1, kernel_size=1)  # a 1x1 conv: out = w * x + b at every pixel
    x = Tensor(np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3))
    conv(x).backward(Tensor(np.ones((1, 1, 2, 3), dtype=np.float32)))
    assert np.allclose(conv.weight.grad.data, [[[[15.0]]]]), \
        f"d(sum of w * x)/dw is the sum of x, 15; got {conv.weight.grad.data.ravel()}: sum over every position"
    assert np.allclose(conv.bias.grad.data, [6.0]), f"the bias was added at 6 positions, got {conv.bias.grad.data}"
    assert conv.weight.grad.dtype == np.float32, f"gradients should be float32, got {conv.weight.grad.dtype}"
    assert x.grad is None, "images without requires_grad get no gradient"


# --- 9.4 pooling ---------------------------------------------------------------------------------------------------

@pytest.mark.exercise("9.4")
def test_maxpool_forward():
    x = np.array([[1, 3, 2, 0, 9], [4, 2, 1, 5, 9], [0, 1, 7, 6, 9], [2, 8, 3, 3, 9], [9, 9, 9, 9, 9]],
                 dtype=np.float32).reshape(1, 1, 5, 5)
    out = MaxPool2d(2)(Tensor(x))
    assert out.shape == (1, 1, 2, 2), f"MaxPool2d(2) on 5x5 takes 2x2 windows side by side: (1, 1, 2, 2), got {out.shape}"
    assert np.array_equal(out.data[0, 0], [[4, 5], [8, 7]]), \
        f"the maxima of the four 2x2 windows are [[4, 5], [8, 7]], got {out.data[0, 0].tolist()}"
    assert out.dtype == np.float32, f"pooling should keep float32, got {out.dtype}"
    overlapping = MaxPool2d(3, stride=2)(Tensor(x))
    assert np.array_equal(overlapping.data[0, 0], [[7, 9], [9, 9]]), \
        f"MaxPool2d(3, stride=2) gives [[7, 9], [9, 9]], got {overlapping.data[0, 0].tolist()}"


@pytest.mark.exercise("9.4")
def test_maxpool_gradient_goes_to_one_element_per_window_on_ties():
    x = leaf(np.zeros((2, 3, 4, 4), dtype=np.float32))  # a blank image: every window is a four-way tie
    x.data[0, 0, 0, 1] = 1.0
    MaxPool2d(2)(x).backward(Tensor(np.ones((2, 3, 2, 2), dtype=np.float32)))
    grad = x.grad.data
    per_window = grad.reshape(2, 3, 2, 2, 2, 2).sum(axis=(3, 5))
    assert np.allclose(per_window, 1.0), (
        f"each window passed gradient 1 to its maximum, so each window's gradients must sum to 1; got sums "
        f"{np.unique(per_window)}: on a tie, give it to ONE element (argmax), not to every element equal to the max")
    assert np.count_nonzero(grad) == 2 * 3 * 2 * 2, "exactly one element per window gets a gradient"
    assert grad[0, 0, 0, 1] == 1.0 and grad[0, 0, 0, 0] == 0, "the window's true maximum gets the gradient"


@pytest.mark.exercise("9.4")
@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 2)])
def test_maxpool_gradients(kernel, stride):
    values = RNG.permutation(2 * 5 * 5).astype(np.float32) * 0.1  # distinct, 0.1 apart: no ties to cross
    x = leaf(values.reshape(1, 2, 5, 5))
    pool = MaxPool2d(kernel, stride)
    check_gradients(lambda x: pool(x), [x], f"MaxPool2d({kernel}, stride={stride})")


@pytest.mark.exercise("9.4")
def test_avgpool_forward_and_gradients():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    out = AvgPool2d(2)(Tensor(x))
    assert np.allclose(out.data[0, 0], [[2.5, 4.5], [10.5, 12.5]]), \
        f"the means of the 2x2 windows are [[2.5, 4.5], [10.5, 12.5]], got {out.data[0, 0].tolist()}"
    assert out.dtype == np.float32, f"pooling should keep float32, got {out.dtype}"
    for kernel, stride in [(2, None), (3, 1)]:
        pool = AvgPool2d(kernel, stride)
        check_gradients(lambda x: pool(x), [leaf(rand(1, 2, 4, 4))], f"AvgPool2d({kernel}, stride={stride})")


# --- 9.5 batch normalisation ---------------------------------------------------------------------------------------

def channel_stats(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))


@pytest.mark.exercise("9.5")
def test_batchnorm_training_normalises_each_channel():
    x = rand(4, 3, 5, 5) * np.array([1.0, 5.0, 0.1], dtype=np.float32)[:, None, None] + \
        np.array([2.0, -3.0, 0.5], dtype=np.float32)[:, None, None]
    bn = BatchNorm2d(3)
    out = bn(Tensor(x))
    assert out.shape == x.shape and out.dtype == np.float32, f"expected float32 {x.shape}, got {out.dtype} {out.shape}"
    mean, var = channel_stats(out.data)
    assert np.allclose(mean, 0, atol=1e-4) and np.allclose(var, 1, atol=1e-2), (
        f"in training every channel should come out with mean 0 and variance 1 over (N, H, W); got means "
        f"{mean.round(3)} and variances {var.round(3)}")
    bn.gamma.data[...] = [2.0, 1.0, 0.5]
    bn.beta.data[...] = [1.0, 0.0, -1.0]
    mean, var = channel_stats(bn(Tensor(x)).data)
    assert np.allclose(mean, [1, 0, -1], atol=1e-4) and np.allclose(var, [4, 1, 0.25], atol=1e-2), \
        f"gamma scales and beta shifts each channel: means {mean.round(3)}, variances {var.round(3)}"
    assert [p is q for p, q in zip(bn.parameters(), [bn.gamma, bn.beta])] == [True, True], \
        "parameters() is [gamma, beta]"


@pytest.mark.exercise("9.5")
def test_batchnorm_running_statistics():
    x = rand(4, 2, 3, 3) + np.float32(1.0)
    bn = BatchNorm2d(2, momentum=0.1)
    bn(Tensor(x))
    mean, var = channel_stats(x)
    m = 4 * 3 * 3
    assert np.allclose(bn.running_mean, 0.1 * mean, atol=1e-5), (
        f"after one batch running_mean = 0.9 * 0 + 0.1 * batch mean = {0.1 * mean}, got {bn.running_mean}")
    assert np.allclose(bn.running_var, 0.9 + 0.1 * var * m / (m - 1), atol=1e-5), (
        f"running_var = 0.9 * 1 + 0.1 * UNBIASED batch variance (times m / (m - 1)) = "
        f"{0.9 + 0.1 * var * m / (m - 1)}, got {bn.running_var}")
    assert np.asarray(bn.running_var).dtype == np.float32, "running statistics should stay float32"
    bn(Tensor(x))
    assert np.allclose(bn.running_mean, 0.19 * mean, atol=1e-5), "a second batch moves it again: 0.9 * 0.1 m + 0.1 m"


@pytest.mark.exercise("9.5")
def test_batchnorm_eval_uses_running_statistics():
    bn = BatchNorm2d(2)
    bn.running_mean = np.array([1.0, -2.0], dtype=np.float32)
    bn.running_var = np.array([4.0, 0.25], dtype=np.float32)
    bn.gamma.data[...] = [1.0, 3.0]
    bn.beta.data[...] = [0.5, 0.0]
    bn.eval()
    x = rand(3, 2, 2, 2)
    out = bn(Tensor(x))
    expected = (x - np.array([1.0, -2.0])[:, None, None]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)[:, None, None] \
        * np.array([1.0, 3.0])[:, None, None] + np.array([0.5, 0.0])[:, None, None]
    assert np.allclose(out.data, expected, atol=1e-4), \
        "in eval mode normalise with running_mean and running_var, not the batch's statistics"
    alone = bn(Tensor(x[:1]))
    assert np.allclose(alone.data, out.data[:1], atol=1e-5), "in eval mode an image's output must not depend on the batch"
    assert np.allclose(bn.running_mean, [1.0, -2.0]), "eval mode must not update the running statistics"


@pytest.mark.exercise("9.5")
@pytest.mark.parametrize("training", [True, False], ids=["training", "eval"])
def test_batchnorm_gradients(training):
    bn = BatchNorm2d(2)
    bn.gamma.data[...] = [1.5, -0.5]
    bn.beta.data[...] = [0.2, 0.1]
    bn.running_mean, bn.running_var = np.array([0.1, -0.2], np.float32), np.array([0.5, 2.0], np.float32)
    bn.train(training)
    check_gradients(lambda x, gamma, beta: bn(x), [leaf(rand(2, 2, 3, 3)), bn.gamma, bn.beta],
                    f"BatchNorm2d in {'training' if training else 'eval'} mode", atol=3e-3)


# --- 9.6 Flatten and a CNN -------------------------------------------------------------------------------------------

@pytest.mark.exercise("9.6")
def test_flatten_keeps_the_batch_and_the_gradient():
    x = leaf(rand(2, 3, 4, 5))
    out = Flatten()(x)
    assert out.shape == (2, 60), f"Flatten turns (2, 3, 4, 5) into (2, 60), got {out.shape}"
    assert np.array_equal(out.data[1], x.data[1].ravel()), "each row must be one image's values in order"
    check_gradients(lambda x: Flatten()(x), [leaf(rand(2, 3, 2, 2))], "Flatten")


@pytest.mark.exercise("9.6")
def test_every_backward_stays_float32():
    x = leaf(rand(2, 2, 6, 6))
    layers = [Conv2d(2, 3, 3, padding=1), BatchNorm2d(3), MaxPool2d(2), AvgPool2d(3)]
    for layer in layers:
        out = layer(x)
        grads = out.grad_fn.apply(np.ones(out.shape, dtype=np.float32))
        dtypes = [np.asarray(g).dtype for g in grads if g is not None]
        assert all(d == np.float32 for d in dtypes), (
            f"{layer!r}: backward returned gradients of dtypes {dtypes}; a float64 gradient (from a NumPy float64 "
            "scalar such as np.float64(1) / ..., or np.sqrt of a Python list) slows every layer below it")
        x = out


def bars(n, rng):
    """6x6 images holding a vertical (label 0) or a horizontal (label 1) bar at a random place, with a little noise."""
    images = rng.normal(0, 0.1, (n, 1, 6, 6)).astype(np.float32)
    labels = rng.integers(0, 2, n)
    for image, label, where in zip(images, labels, rng.integers(0, 6, n)):
        if label == 0:
            image[0, :, where] += 1.0
        else:
            image[0, where, :] += 1.0
    return images, labels


@pytest.mark.exercise("9.6")
def test_a_small_cnn_learns_bars():
    from tinytorch.core.activations import ReLU
    from tinytorch.core.layers import Linear, Sequential
    from tinytorch.core.losses import CrossEntropyLoss

    rng = np.random.default_rng(0)
    np.random.seed(0)
    x, y = bars(32, rng)
    model = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(36, 2))
    loss_fn, losses = CrossEntropyLoss(), []
    for _ in range(30):
        for p in model.parameters():
            p.grad = None
        loss = loss_fn(model(Tensor(x)), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
        losses.append(float(loss.data))
    assert losses[-1] < 0.5 * losses[0], (
        f"Conv2d, ReLU, MaxPool2d, Flatten, Linear should learn bars quickly: loss {losses[0]:.3f} -> {losses[-1]:.3f}; "
        "do all of your layers pass gradients back?")
    assert model.layers[0].weight.grad is not None and np.abs(model.layers[0].weight.grad.data).sum() > 0, \
        "the convolution's weights got no gradient through the pool and Flatten"
    test_x, test_y = bars(64, rng)
    with no_grad():
        accuracy = np.mean(model(Tensor(test_x)).data.argmax(axis=1) == test_y)
    assert accuracy >= 0.85, f"on new bar images the CNN is right {accuracy:.0%} of the time, expected at least 85 %"
