"""Module 09: Convolutions, layers that look at an image through a small window slid across it.

Images are batches shaped (N, C, H, W): N images, C channels (1 for grey, 3 for colour, or the feature maps of an
earlier layer), H x W pixels. A Conv2d holds `out_channels` filters, each (in_channels, k, k); at every position
it takes the dot product of each filter with the patch of the image under it, giving one output map per filter.

The layers here compute on `.data` with NumPy and record ONE autograd Function per call (module 06's `record`),
whose `apply` returns the gradient of every input at once: a whole convolution's backward in a few array
operations instead of thousands of tiny recorded ones. Everything stays float32.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.autograd import Function, record
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _array(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def _check_images(x, what):
    if x.ndim != 4:
        raise ValueError(f"{what} expects a batch of images shaped (N, C, H, W), got shape {x.shape}")


# --- 9.1 output size, padding and the convolution as loops -----------------------------------------------------

def conv_output_size(size, kernel_size, stride=1, padding=0):
    """How many positions a window of `kernel_size` pixels takes along a side of `size` pixels, padded with
    `padding` zeros at both ends and moved `stride` pixels at a time: (size + 2 * padding - kernel_size) // stride + 1.
    A window that would hang over the padded edge is not taken."""
    # TODO 9.1: the formula above, in integers; raise a ValueError (naming the sizes) when the window does not
    # fit even once, i.e. the result would be less than 1.
    ### BEGIN SOLUTION
    out = (size + 2 * padding - kernel_size) // stride + 1
    if out < 1:
        raise ValueError(f"a {kernel_size}-pixel window with padding {padding} does not fit in {size} pixels")
    return out
    ### END SOLUTION


def pad_images(x, padding):
    """x (N, C, H, W) with `padding` rows/columns of zeros added on every side of H and W, and nothing else."""
    # TODO 9.1: a zeros array (float32) of the padded shape with x copied into its middle,
    # out[:, :, padding:padding + H, padding:padding + W] = x. (np.pad does the same, but is 10x slower in the tab.)
    ### BEGIN SOLUTION
    if padding == 0:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=np.float32)
    out[:, :, padding:padding + h, padding:padding + w] = x
    return out
    ### END SOLUTION


def conv2d_naive(x, weight, bias=None, stride=1, padding=0):
    """The convolution written as loops, exactly as the formula reads:

        out[n, o, i, j] = bias[o] + sum over c, u, v of  x_padded[n, c, i * stride + u, j * stride + v] * weight[o, c, u, v]

    x (N, C, H, W), weight (O, C, k, k), bias (O,) or None; returns a float32 array (N, O, H_out, W_out).
    This is cross-correlation: the kernel is applied as it is, NOT flipped (deep learning calls it convolution).
    """
    x, weight = _array(x), _array(weight)
    _check_images(x, "conv2d_naive")
    n_images, _, height, width = x.shape
    out_channels, _, k, _ = weight.shape
    h_out, w_out = conv_output_size(height, k, stride, padding), conv_output_size(width, k, stride, padding)
    out = np.zeros((n_images, out_channels, h_out, w_out), dtype=np.float32)
    # TODO 9.1: pad x, then loop over every image n, filter o and output position (i, j): the window is
    # x_padded[n, :, i * stride:i * stride + k, j * stride:j * stride + k] (all channels), and out[n, o, i, j] is
    # the sum of window * weight[o], plus bias[o] when there is a bias.
    ### BEGIN SOLUTION
    padded = pad_images(x, padding)
    for n in range(n_images):
        for o in range(out_channels):
            for i in range(h_out):
                for j in range(w_out):
                    window = padded[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
                    out[n, o, i, j] = np.sum(window * weight[o])
    if bias is not None:
        out += _array(bias).reshape(1, out_channels, 1, 1)
    ### END SOLUTION
    return out


# --- 9.2 windows, im2col and the fast convolution ------------------------------------------------------------

def windows(x, kernel_size, stride=1, padding=0):
    """Every window a kernel visits, WITHOUT copying: a view shaped (N, C, H_out, W_out, k, k) of the padded x,
    where [n, c, i, j] is the k x k patch of channel c under output position (i, j)."""
    # TODO 9.2: pad x; np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3)) gives the window at
    # EVERY pixel, (N, C, H_p - k + 1, W_p - k + 1, k, k); keep every stride-th one along both axes ([::stride]).
    ### BEGIN SOLUTION
    k = kernel_size
    every = np.lib.stride_tricks.sliding_window_view(pad_images(x, padding), (k, k), axis=(2, 3))
    return every[:, :, ::stride, ::stride]
    ### END SOLUTION


def im2col(x, kernel_size, stride=1, padding=0):
    """Image to columns: the windows unrolled into a matrix with one ROW per output position,
    (N * H_out * W_out, C * k * k).

    Row (n * H_out + i) * W_out + j holds window (i, j) of image n flattened in (c, u, v) order, the order of
    weight[o].reshape(-1). The whole convolution is then ONE matrix product, im2col(x) @ weight.reshape(O, -1).T.
    (Caffe, which named it, stores each window as a column; rows suit NumPy in the tab, see the lesson.)
    """
    # TODO 9.2: take windows(...), move the channel axis next to the kernel axes, (N, H_out, W_out, C, k, k), and
    # reshape to (N * H_out * W_out, C * k * k): the copy happens here, k * k values per pixel.
    ### BEGIN SOLUTION
    w = windows(x, kernel_size, stride, padding)
    n, c, h_out, w_out = w.shape[:4]
    return w.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * kernel_size * kernel_size)
    ### END SOLUTION


class Conv2d(Layer):
    """2-D convolution: in_channels -> out_channels maps with kernel_size x kernel_size filters.

    weight (out_channels, in_channels, k, k), bias (out_channels,); input (N, in_channels, H, W) gives
    (N, out_channels, H_out, W_out) with H_out = conv_output_size(H, k, stride, padding), the same for W.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True):
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        # TODO 9.2: self.weight, a Tensor (out_channels, in_channels, k, k) from np.random.randn scaled by
        # sqrt(2 / fan_in), where fan_in = in_channels * k * k is how many inputs each output sums (He
        # initialisation: a ReLU usually follows, and it halves the variance); self.bias, zeros (out_channels,) or
        # None when bias=False. Both learned: requires_grad=True.
        ### BEGIN SOLUTION
        fan_in = in_channels * kernel_size * kernel_size
        self.weight = Tensor(np.random.randn(out_channels, in_channels, kernel_size, kernel_size)
                             * np.sqrt(2.0 / fan_in), requires_grad=True)
        self.bias = Tensor(np.zeros(out_channels), requires_grad=True) if bias else None
        ### END SOLUTION

    def forward(self, x):
        x = _tensor(x)
        _check_images(x.data, "Conv2d")
        n, c, h, w = x.shape
        if c != self.in_channels:
            raise ValueError(f"{self!r} expects {self.in_channels} input channels, got {c} (input shape {x.shape})")
        h_out = conv_output_size(h, self.kernel_size, self.stride, self.padding)
        w_out = conv_output_size(w, self.kernel_size, self.stride, self.padding)
        # TODO 9.2: cols = im2col(x.data, ...); ONE matmul, cols times the weight as (out_channels, C * k * k)
        # transposed, gives (N * H_out * W_out, out_channels); add the bias (it broadcasts along the rows); reshape
        # to (N, H_out, W_out, out_channels) and move the channels to axis 1. Return it as a Tensor with
        # record(result, Conv2dBackward(x, self.weight, self.bias, cols, self.kernel_size, self.stride,
        # self.padding)) so autograd can reach the weights.
        ### BEGIN SOLUTION
        cols = im2col(x.data, self.kernel_size, self.stride, self.padding)
        out = cols @ self.weight.data.reshape(self.out_channels, -1).T
        if self.bias is not None:
            out += self.bias.data
        out = out.reshape(n, h_out, w_out, self.out_channels).transpose(0, 3, 1, 2)
        return record(Tensor(out), Conv2dBackward(x, self.weight, self.bias, cols, self.kernel_size, self.stride,
                                                  self.padding))
        ### END SOLUTION

    def parameters(self):
        return [self.weight] if self.bias is None else [self.weight, self.bias]

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})")


# --- 9.3 the convolution's backward -----------------------------------------------------------------------------

def fold(patches, x_shape, kernel_size, stride=1, padding=0):
    """The way back from windows(): patches (N, C, H_out, W_out, k, k), one value per pixel of every window, are
    ADDED into an (N, C, H, W) array at the pixels they came from. A pixel inside several windows collects all
    their values, and padding pixels are dropped. Gradients travel back through a window view this way."""
    n, c, h, w = x_shape
    k = kernel_size
    h_out, w_out = patches.shape[2], patches.shape[3]
    out = np.zeros((n, c, h + 2 * padding, w + 2 * padding), dtype=np.float32)
    # TODO 9.3: for each kernel offset (u, v), the patch values patches[:, :, :, :, u, v] belong at the pixels
    # out[:, :, u + i * stride, v + j * stride] for every (i, j): one strided slice
    # out[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride]. ADD them (+=): windows overlap.
    # Then return out without the padding.
    ### BEGIN SOLUTION
    for u in range(k):
        for v in range(k):
            out[:, :, u:u + stride * h_out:stride, v:v + stride * w_out:stride] += patches[:, :, :, :, u, v]
    return out[:, :, padding:padding + h, padding:padding + w]
    ### END SOLUTION


class Conv2dBackward(Function):
    """out = conv(x, weight) + bias computed as cols @ W^T with cols = im2col(x) and W = weight.reshape(O, -1).
    With G the output's gradient as (O, N * H_out * W_out), its columns in the order of cols' rows:

        d loss/d W    = G @ cols                  (every window contributed to every filter)
        d loss/d bias = G summed along its rows   (every output position added the bias)
        d loss/d cols = G^T @ W, folded back onto the pixels of x
    """

    def __init__(self, x, weight, bias, cols, kernel_size, stride, padding):
        super().__init__(x, weight, bias)
        self.cols, self.kernel_size, self.stride, self.padding = cols, kernel_size, stride, padding

    def apply(self, grad_output):
        x, weight, bias = self.inputs
        out_channels = weight.shape[0]
        g = grad_output.transpose(1, 0, 2, 3).reshape(out_channels, -1)  # (O, N * H_out * W_out)
        # TODO 9.3: the weight's gradient (reshaped to the weight's shape) and the bias's (None without a bias).
        # The input's gradient only when x requires grad (the images of a first layer do not: skip the work):
        # G^T @ W gives (N * H_out * W_out, C * k * k) (make G^T a contiguous copy first: grad_output moved to
        # (N, H_out, W_out, O) and reshaped); reshape it to (N, H_out, W_out, C, k, k), move C to axis 1,
        # (N, C, H_out, W_out, k, k), and fold it onto x's shape. Return (grad_x, grad_weight, grad_bias).
        ### BEGIN SOLUTION
        grad_weight = (g @ self.cols).reshape(weight.shape)
        grad_bias = g.sum(axis=1) if bias is not None else None
        grad_x = None
        if isinstance(x, Tensor) and x.requires_grad:
            n, c, _, _ = x.shape
            h_out, w_out = grad_output.shape[2], grad_output.shape[3]
            k = self.kernel_size
            g_rows = grad_output.transpose(0, 2, 3, 1).reshape(-1, out_channels)  # G^T, one row per position
            patches = (g_rows @ weight.data.reshape(out_channels, -1)).reshape(n, h_out, w_out, c, k, k)
            grad_x = fold(patches.transpose(0, 3, 1, 2, 4, 5), x.shape, k, self.stride, self.padding)
        return grad_x, grad_weight, grad_bias
        ### END SOLUTION


# --- 9.4 pooling --------------------------------------------------------------------------------------------------

class MaxPool2d(Layer):
    """The largest value of each kernel_size x kernel_size window, per channel; stride defaults to kernel_size
    (windows side by side, not overlapping), so MaxPool2d(2) halves H and W."""

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        x = _tensor(x)
        _check_images(x.data, "MaxPool2d")
        k = self.kernel_size
        w = windows(x.data, k, self.stride)  # (N, C, H_out, W_out, k, k)
        out = w[..., 0, 0].copy()  # the best so far: each window's top-left element...
        argmax = np.zeros(out.shape, dtype=np.intp)  # ...which is offset u * k + v = 0
        # TODO 9.4: visit every kernel offset (u, v) in order: where w[..., u, v] is STRICTLY greater than out, take
        # its value into out and u * k + v into argmax (np.copyto(out, w[..., u, v], where=bigger) and the same for
        # argmax); a tie keeps the first maximum. Vectorised over all windows at once: k * k steps, not one per
        # window. Return out as a Tensor recorded with MaxPool2dBackward(x, argmax, k, self.stride).
        ### BEGIN SOLUTION
        for u in range(k):
            for v in range(k):
                bigger = w[..., u, v] > out
                np.copyto(out, w[..., u, v], where=bigger)
                np.copyto(argmax, u * k + v, where=bigger)
        return record(Tensor(out), MaxPool2dBackward(x, argmax, k, self.stride))
        ### END SOLUTION

    def __repr__(self):
        return f"MaxPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class MaxPool2dBackward(Function):
    """Only the window's maximum reached the output, so only it gets the gradient: ONE element per window, even
    when several tie for the maximum (an all-blank patch of a digit is a tie of k * k zeros)."""

    def __init__(self, x, argmax, kernel_size, stride):
        super().__init__(x)
        self.argmax, self.kernel_size, self.stride = argmax, kernel_size, stride

    def apply(self, grad_output):
        (x,) = self.inputs
        k, s = self.kernel_size, self.stride
        h_out, w_out = self.argmax.shape[2], self.argmax.shape[3]
        grad = np.zeros(x.shape, dtype=np.float32)
        # TODO 9.4: for each kernel offset (u, v), the windows whose argmax is u * k + v send their grad_output to
        # the pixels at that offset, grad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] (the same strided slice as in
        # fold). ADD (+=): where windows overlap, one pixel can be the maximum of two windows.
        ### BEGIN SOLUTION
        for u in range(k):
            for v in range(k):
                chosen = self.argmax == u * k + v
                grad[:, :, u:u + s * h_out:s, v:v + s * w_out:s] += grad_output * chosen
        return (grad,)
        ### END SOLUTION


class AvgPool2d(Layer):
    """The mean of each kernel_size x kernel_size window, per channel; stride defaults to kernel_size."""

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride

    def forward(self, x):
        x = _tensor(x)
        _check_images(x.data, "AvgPool2d")
        k = self.kernel_size
        w = windows(x.data, k, self.stride)  # (N, C, H_out, W_out, k, k)
        # TODO 9.4: the mean of each window: add up w[..., u, v] over the k * k offsets (vectorised over windows,
        # as in MaxPool2d) and divide by k * k. Return it as a Tensor recorded with
        # AvgPool2dBackward(x, k, self.stride).
        ### BEGIN SOLUTION
        total = np.zeros(w.shape[:4], dtype=np.float32)
        for u in range(k):
            for v in range(k):
                total += w[..., u, v]
        return record(Tensor(total / (k * k)), AvgPool2dBackward(x, k, self.stride))
        ### END SOLUTION

    def __repr__(self):
        return f"AvgPool2d(kernel_size={self.kernel_size}, stride={self.stride})"


class AvgPool2dBackward(Function):
    """Every element of a window moved its mean by 1 / (k * k)."""

    def __init__(self, x, kernel_size, stride):
        super().__init__(x)
        self.kernel_size, self.stride = kernel_size, stride

    def apply(self, grad_output):
        (x,) = self.inputs
        k = self.kernel_size
        # TODO 9.4: each window's gradient divided by k * k, copied to all k * k of its elements (broadcast
        # grad_output[..., None, None] to (N, C, H_out, W_out, k, k)), folded onto x's shape.
        ### BEGIN SOLUTION
        share = grad_output[..., None, None] / (k * k)
        return (fold(np.broadcast_to(share, (*grad_output.shape, k, k)), x.shape, k, self.stride),)
        ### END SOLUTION


# --- 9.5 batch normalisation ----------------------------------------------------------------------------------------

class BatchNorm2d(Layer):
    """Normalise each channel to mean 0 and variance 1 over the batch and all pixels, then scale by gamma and
    shift by beta (both learned, one per channel):  out = gamma * (x - mean) / sqrt(var + eps) + beta.

    Training: mean and var are the batch's (var biased: divided by the count m), and the running estimates move
    toward them: running = (1 - momentum) * running + momentum * batch, the variance's unbiased (times m / (m - 1)).
    Evaluation: running_mean and running_var stand in, so one image's output does not depend on the others.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.gamma = Tensor(np.ones(num_features), requires_grad=True)
        self.beta = Tensor(np.zeros(num_features), requires_grad=True)
        # Running statistics are state, not parameters: no optimizer touches them.
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)

    def forward(self, x):
        x = _tensor(x)
        _check_images(x.data, "BatchNorm2d")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects {self.num_features} channels, got shape {x.shape}")
        data = x.data
        m = data.size // self.num_features  # values per channel: N * H * W
        # TODO 9.5: in training, mean and biased var over axes (0, 2, 3) (raise a ValueError when m == 1: no
        # variance to measure), and update self.running_mean and self.running_var as in the docstring; in
        # evaluation use the running statistics. Then inv_std = 1 / sqrt(var + eps), x_hat = (x - mean) * inv_std and
        # out = gamma * x_hat + beta, each per-channel array shaped (C, 1, 1) to broadcast. Return
        # record(Tensor(out), BatchNorm2dBackward(x, self.gamma, self.beta, x_hat, inv_std, self.training)).
        ### BEGIN SOLUTION
        if self.training:
            if m == 1:
                raise ValueError("BatchNorm2d in training needs more than one value per channel to measure a variance")
            mean, var = data.mean(axis=(0, 2, 3)), data.var(axis=(0, 2, 3))
            self.running_mean = (1 - self.momentum) * self.running_mean + self.momentum * mean
            self.running_var = (1 - self.momentum) * self.running_var + self.momentum * var * m / (m - 1)
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (data - mean[:, None, None]) * inv_std[:, None, None]
        out = self.gamma.data[:, None, None] * x_hat + self.beta.data[:, None, None]
        return record(Tensor(out), BatchNorm2dBackward(x, self.gamma, self.beta, x_hat, inv_std, self.training))
        ### END SOLUTION

    def parameters(self):
        return [self.gamma, self.beta]

    def __repr__(self):
        return f"BatchNorm2d({self.num_features}, eps={self.eps}, momentum={self.momentum})"


class BatchNorm2dBackward(Function):
    """out = gamma * x_hat + beta with x_hat = (x - mean) * inv_std. With g = grad_output and sums over (0, 2, 3):

        d loss/d gamma = sum(g * x_hat)        d loss/d beta = sum(g)
        d loss/d x     = gamma * inv_std * (g - mean(g) - x_hat * mean(g * x_hat))      (training)
        d loss/d x     = gamma * inv_std * g                                               (evaluation)

    In training the mean and variance are computed FROM x, so moving one pixel moves them too: that is where the
    two subtracted means come from. In evaluation they are constants.
    """

    def __init__(self, x, gamma, beta, x_hat, inv_std, training):
        super().__init__(x, gamma, beta)
        self.x_hat, self.inv_std, self.training = x_hat, inv_std, training

    def apply(self, grad_output):
        x, gamma, beta = self.inputs
        g, x_hat, axes = grad_output, self.x_hat, (0, 2, 3)
        # TODO 9.5: the three gradients above, in the order (x, gamma, beta).
        ### BEGIN SOLUTION
        grad_gamma = (g * x_hat).sum(axis=axes)
        grad_beta = g.sum(axis=axes)
        scale = (gamma.data * self.inv_std)[:, None, None]
        if self.training:
            grad_x = scale * (g - g.mean(axis=axes, keepdims=True)
                              - x_hat * (g * x_hat).mean(axis=axes, keepdims=True))
        else:
            grad_x = scale * g
        return grad_x, grad_gamma, grad_beta
        ### END SOLUTION


# --- 9.6 Flatten ----------------------------------------------------------------------------------------------------

class Flatten(Layer):
    """(N, C, H, W) -> (N, C * H * W): feature maps become one row per image, ready for a Linear layer."""

    def forward(self, x):
        # TODO 9.6: keep the batch axis and join all the others, with the Tensor's own reshape (autograd records it).
        ### BEGIN SOLUTION
        x = _tensor(x)
        return x.reshape(x.shape[0], -1)
        ### END SOLUTION

    def __repr__(self):
        return "Flatten()"
