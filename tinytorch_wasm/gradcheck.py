"""Gradient checks for module tests: a learner's backward against central finite differences of their forward.

One helper for every module whose tests check gradients (autograd, attention, transformers, ...). It imports the
learner's package only when called, so it always checks the package the running tests use.
"""
from __future__ import annotations

import numpy as np


def numeric_grad(f, x, eps=1e-2, elements=None):
    """Central differences (f(x + eps) - f(x - eps)) / (2 eps) of the number f() for each element of x.data
    (only at `elements`, a list of index tuples, when given; NaN elsewhere)."""
    grad = np.full(x.shape, np.nan) if elements is not None else np.zeros(x.shape)
    for i in (elements if elements is not None else np.ndindex(x.shape)):
        old = x.data[i]
        x.data[i] = old + eps
        plus = f()
        x.data[i] = old - eps
        minus = f()
        x.data[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def check_gradients(f, inputs, what, atol=2e-3, rtol=1e-2, eps=1e-2, samples=None, seed=0):
    """Backpropagate a random upstream gradient R through f(*inputs) and compare each input's .grad with finite
    differences of sum(f(*inputs) * R), summed in float64.

    `inputs` are leaf Tensors with requires_grad=True (inputs of f, or parameters of a layer f uses). `samples`
    checks only that many elements of each input, picked at random: enough to catch a wrong backward in a large
    weight at a fraction of the forward passes.
    """
    from tinytorch.core.autograd import no_grad  # the package under test, imported when the test runs
    from tinytorch.core.tensor import Tensor

    rng = np.random.default_rng(seed)
    out = f(*inputs)
    _require(isinstance(out, Tensor), f"{what}: the forward returned {type(out).__name__}, not a Tensor")
    _require(out.requires_grad, f"{what}: the result of an op on tensors with requires_grad=True must require grad")
    upstream = rng.uniform(-1, 1, size=out.shape).astype(np.float32)
    out.backward(Tensor(upstream))

    def weighted_output():
        with no_grad():
            return float(np.sum(np.asarray(f(*inputs).data, dtype=np.float64) * upstream))

    for n, x in enumerate(inputs):
        analytic = gradient_of(x, f"{what}, input {n}")
        elements = None
        if samples is not None and x.size > samples:
            flat = rng.choice(x.size, size=samples, replace=False)
            elements = [np.unravel_index(i, x.shape) for i in flat]
        numeric = numeric_grad(weighted_output, x, eps, elements)
        checked = ~np.isnan(numeric)
        close = np.allclose(analytic[checked], numeric[checked], atol=atol, rtol=rtol)
        _require(close, f"{what}: the gradient of input {n} (shape {x.shape}) is wrong; largest error "
                        f"{np.abs(analytic[checked] - numeric[checked]).max():.4g}\nbackward gave\n"
                        f"{np.round(np.where(checked, analytic, np.nan), 4)}\nfinite differences give\n"
                        f"{np.round(numeric, 4)}")


def gradient_of(t, what):
    """t.grad as a float64 array, after checking it exists and has t's shape."""
    from tinytorch.core.tensor import Tensor

    _require(t.grad is not None, f"{what}: .grad is still None after backward()")
    _require(isinstance(t.grad, Tensor), f"{what}: .grad should be a Tensor, got {type(t.grad).__name__}")
    _require(t.grad.shape == t.shape, f"{what}: .grad has shape {t.grad.shape} but the tensor has shape {t.shape}; "
                                      "a gradient must be summed back to its input's shape")
    return np.asarray(t.grad.data, dtype=np.float64)


def _require(condition, message):
    if not condition:
        raise AssertionError(message)
