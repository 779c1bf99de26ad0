"""Module 03: Layers, the building blocks a network is stacked from.

A Layer turns an input Tensor into an output Tensor (`forward`), owns the Tensors it learns (`parameters()`),
and knows whether it is training or being evaluated (`training`, switched by `train()` / `eval()`).
Build layers from Tensor operations (`@`, `+`, `*`), not NumPy on `.data`: module 06 records those operations to
compute gradients, so a layer made of them learns without any change.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.tensor import Tensor


class Layer:
    """Base class of every layer. Subclasses write `forward` and, if they hold weights, `parameters`."""

    training = True  # every layer starts in training mode

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        # TODO 3.1: calling a layer, layer(x), runs its forward pass: pass every argument on to self.forward.
        ### BEGIN SOLUTION
        return self.forward(*args, **kwargs)
        ### END SOLUTION

    def parameters(self):
        """The Tensors an optimizer updates, in a fixed order. A layer without weights has none."""
        # TODO 3.1: the base layer has no weights; layers that do override this.
        ### BEGIN SOLUTION
        return []
        ### END SOLUTION

    def train(self, mode=True):
        """Switch training mode on (or off with mode=False); returns the layer, so `model = model.train()` works."""
        # TODO 3.1: set self.training to mode (as a bool) and return self.
        ### BEGIN SOLUTION
        self.training = bool(mode)
        return self
        ### END SOLUTION

    def eval(self):
        """Evaluation mode: the same as train(False)."""
        # TODO 3.1: call self.train(False) rather than setting the flag here, so a layer that overrides train()
        # (Sequential passes the mode on to its layers) is switched completely.
        ### BEGIN SOLUTION
        return self.train(False)
        ### END SOLUTION


class Linear(Layer):
    """A fully connected layer: y = x @ weight + bias, mapping in_features to out_features.

    weight has shape (in_features, out_features) so that a batch x of shape (batch, in_features) multiplies it
    directly; bias has shape (out_features,) and broadcasts over the batch.
    """

    def __init__(self, in_features, out_features, bias=True):
        self.in_features, self.out_features = in_features, out_features
        # TODO 3.2: create self.weight, a Tensor of shape (in_features, out_features) drawn from np.random.randn and
        # scaled by sqrt(1 / in_features), so each output's variance stays about that of one input however wide
        # the layer; and self.bias, zeros of shape (out_features,), or None when bias=False.
        # Both are learned: create them with requires_grad=True.
        ### BEGIN SOLUTION
        scale = np.sqrt(1.0 / in_features)
        self.weight = Tensor(np.random.randn(in_features, out_features) * scale, requires_grad=True)
        self.bias = Tensor(np.zeros(out_features), requires_grad=True) if bias else None
        ### END SOLUTION

    def forward(self, x):
        # TODO 3.2: return x @ self.weight, plus self.bias when there is one. Use Tensor operations.
        ### BEGIN SOLUTION
        out = x @ self.weight
        if self.bias is not None:
            out = out + self.bias
        return out
        ### END SOLUTION

    def parameters(self):
        # TODO 3.2: the weight, then the bias if there is one, in a list.
        ### BEGIN SOLUTION
        return [self.weight] if self.bias is None else [self.weight, self.bias]
        ### END SOLUTION

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None})"


class Dropout(Layer):
    """Inverted dropout: while training, zero each element with probability p and scale the survivors by
    1 / (1 - p), so the expected output equals the input; when evaluating, pass the input through unchanged."""

    def __init__(self, p=0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be between 0 and 1, got {p}")
        self.p = p

    def forward(self, x):
        # TODO 3.3: outside training (or with p == 0) return x unchanged; with p == 1 everything is dropped
        # (return x * 0, avoiding a division by zero). Otherwise draw a fresh mask on every call that keeps each
        # element with probability 1 - p (np.random.random(x.shape) >= p), and return x * Tensor(mask / (1 - p)).
        ### BEGIN SOLUTION
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0.0
        keep = np.random.random(x.shape) >= self.p
        return x * Tensor(keep / (1.0 - self.p))
        ### END SOLUTION

    def __repr__(self):
        return f"Dropout(p={self.p})"


class Sequential(Layer):
    """Layers applied one after another: Sequential(Linear(4, 8), ReLU(), Linear(8, 2)).

    Any object with __call__ and parameters() can be a step, so module 02's activations fit in too.
    """

    def __init__(self, *layers):
        self.layers = list(layers)

    def forward(self, x):
        # TODO 3.4: feed x through every layer in order, each one's output the next one's input.
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x)
        return x
        ### END SOLUTION

    def parameters(self):
        # TODO 3.4: every layer's parameters, layer by layer in order, in ONE flat list.
        ### BEGIN SOLUTION
        params = []
        for layer in self.layers:
            params.extend(layer.parameters())
        return params
        ### END SOLUTION

    def train(self, mode=True):
        # TODO 3.4: switch this container and every contained Layer (activations have no mode: skip anything
        # that is not a Layer), then return self.
        ### BEGIN SOLUTION
        self.training = bool(mode)
        for layer in self.layers:
            if isinstance(layer, Layer):
                layer.train(mode)
        return self
        ### END SOLUTION

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __repr__(self):
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"
