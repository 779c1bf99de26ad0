"""Module 02: Activations, the nonlinearities between layers.

Each activation is a small class: `forward(x)` takes a Tensor, computes with NumPy on `x.data` and returns a NEW
Tensor (never change `x`). `act(x)` calls `forward`, so `forward` is the one place the math lives; module 06 wraps
it to record gradients. Activations have no weights: `parameters()` is an empty list.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import math

import numpy as np

from tinytorch.core.tensor import Tensor


class Activation:
    """What every activation shares: calling it runs `forward`, and it has no parameters."""

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def __call__(self, x):
        return self.forward(x)

    def parameters(self):
        """Activations learn nothing: no tensors for an optimizer to update."""
        return []

    def __repr__(self):
        return f"{type(self).__name__}()"


class ReLU(Activation):
    """ReLU(x) = max(0, x): negatives become 0, positives pass unchanged."""

    def forward(self, x):
        # TODO 2.1: return a new Tensor holding max(0, x) elementwise (np.maximum). Leave x.data unchanged.
        ### BEGIN SOLUTION
        return Tensor(np.maximum(x.data, 0.0))
        ### END SOLUTION


class Sigmoid(Activation):
    """Sigmoid(x) = 1 / (1 + e^-x), squashing any number into (0, 1)."""

    def forward(self, x):
        # TODO 2.2: e^-x overflows float32 once -x > 88 (and e^x once x > 88), so only ever exponentiate a
        # number <= 0. With e = exp(-|x|):  x >= 0 gives 1 / (1 + e),  x < 0 gives e / (1 + e).
        # np.where(condition, a, b) picks between the two elementwise.
        ### BEGIN SOLUTION
        z = x.data
        e = np.exp(-np.abs(z))
        return Tensor(np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)))
        ### END SOLUTION


class Tanh(Activation):
    """Tanh(x) = (e^x - e^-x) / (e^x + e^-x), squashing into (-1, 1) around 0."""

    def forward(self, x):
        # TODO 2.3: return tanh(x) elementwise. np.tanh is stable for large |x|; the textbook formula with two
        # exponentials overflows to inf / inf = nan.
        ### BEGIN SOLUTION
        return Tensor(np.tanh(x.data))
        ### END SOLUTION


class GELU(Activation):
    """GELU(x) = x * P(Z <= x) for a standard normal Z, in the tanh approximation used by GPT-2 and BERT:

        GELU(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))
    """

    def forward(self, x):
        # TODO 2.4: compute the formula above elementwise on x.data (np.tanh). Write the cube as z * z * z: NumPy's
        # z ** 3 calls a general power routine that is many times slower. Take the constant sqrt(2 / pi) as a
        # Python float (math.sqrt, math.pi): NumPy's np.sqrt returns a float64 scalar, which turns a whole float32
        # array computation into float64, about 3x slower in the tab.
        ### BEGIN SOLUTION
        z = x.data
        inner = math.sqrt(2.0 / math.pi) * (z + 0.044715 * z * z * z)
        return Tensor(0.5 * z * (1.0 + np.tanh(inner)))
        ### END SOLUTION


class Softmax(Activation):
    """Softmax over one dimension: e^x_i / sum_j e^x_j, so each slice along `dim` is positive and sums to 1."""

    def __init__(self, dim=-1):
        self.dim = dim

    def forward(self, x):
        # TODO 2.5: softmax along self.dim. Subtract each slice's maximum first (keepdims=True so it broadcasts):
        # the result is mathematically the same, but the largest exponent becomes e^0 = 1, so nothing overflows.
        # Then exponentiate and divide by the sum along self.dim (again keepdims=True).
        ### BEGIN SOLUTION
        shifted = x.data - np.max(x.data, axis=self.dim, keepdims=True)
        exps = np.exp(shifted)
        return Tensor(exps / np.sum(exps, axis=self.dim, keepdims=True))
        ### END SOLUTION

    def __repr__(self):
        return f"Softmax(dim={self.dim})"
