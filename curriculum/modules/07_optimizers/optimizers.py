"""Module 07: Optimizers, the rules that turn gradients into better weights.

After `loss.backward()` every parameter holds its gradient in `.grad` (a Tensor shaped like the parameter; None when
the parameter took no part in the loss). An optimizer's `step()` moves each parameter's `.data` a little against
its gradient, and `zero_grad()` clears the gradients, which otherwise add up across backward() calls.

Update `p.data` in place (`p.data -= ...`) and keep it float32. Skip parameters whose `.grad` is None.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.tensor import Tensor


class Optimizer:
    """Holds the parameters to update. Subclasses implement step(); `lr` is a plain attribute, so a learning-rate
    schedule can change it between steps (module 08 does)."""

    def __init__(self, params, lr):
        # TODO 7.1: keep the parameters as a list (params may be a generator, which can be walked only once) and
        # the learning rate; raise a ValueError when there are no parameters (a model with nothing to train is
        # almost always a bug, such as passing model instead of model.parameters()).
        ### BEGIN SOLUTION
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got no parameters: pass model.parameters()")
        self.lr = lr
        ### END SOLUTION

    def zero_grad(self):
        """Forget the gradients of the last step, before the next backward() adds new ones."""
        # TODO 7.1: set every parameter's .grad to None (cheaper than filling it with zeros: nothing to allocate).
        ### BEGIN SOLUTION
        for p in self.params:
            p.grad = None
        ### END SOLUTION

    def step(self):
        raise NotImplementedError(f"{type(self).__name__} must implement step()")

    def memory_footprint(self):
        """Bytes of state the optimizer keeps besides the parameters (momentum buffers, moment estimates)."""
        return sum(int(a.nbytes) for a in self._state_arrays())

    def _state_arrays(self):
        return []


def _grad(p):
    """The gradient of parameter p as a float32 array, or None when it has none."""
    if p.grad is None:
        return None
    return np.asarray(p.grad.data if isinstance(p.grad, Tensor) else p.grad, dtype=np.float32)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum and L2 weight decay (PyTorch's formulation):

        g = grad + weight_decay * p           (weight decay pulls every weight toward 0)
        v = momentum * v + g                  (a running sum of past gradients, v starts at 0)
        p = p - lr * v                        (with momentum = 0, v is just g)
    """

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        # One velocity per parameter, only when momentum needs them: plain SGD keeps no state at all.
        self.velocities = [np.zeros_like(p.data) for p in self.params] if momentum else None

    def step(self):
        for i, p in enumerate(self.params):
            g = _grad(p)
            if g is None:
                continue
            # TODO 7.2: apply the three lines in the class docstring. Add weight decay to a NEW array
            # (g = g + ..., not g += ..., which could change the gradient the parameter holds); update the
            # velocity self.velocities[i] in place when momentum is on; then update p.data in place.
            ### BEGIN SOLUTION
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self.velocities[i]
                v *= self.momentum
                v += g
                g = v
            p.data -= self.lr * g
            ### END SOLUTION

    def _state_arrays(self):
        return self.velocities or []


class Adam(Optimizer):
    """Adam: momentum on the gradient (m) and a per-weight step size from the gradient's recent magnitude (v).

        m = beta1 * m + (1 - beta1) * g            v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)                 v_hat = v / (1 - beta2**t)       (t = 1, 2, ...: step count)
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at 0, so early on they are too small; dividing by (1 - beta**t) corrects exactly that bias.
    `weight_decay` here is L2, added to the gradient as in SGD (AdamW below does it differently).
    """

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps, self.weight_decay = eps, weight_decay
        self.t = 0  # steps taken
        # TODO 7.3: one first-moment (self.m) and one second-moment (self.v) array per parameter, zeros shaped like
        # it (float32): the two extra copies of the model that make Adam cost 3x the parameters' memory.
        ### BEGIN SOLUTION
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        ### END SOLUTION

    def step(self):
        self.t += 1
        for i, p in enumerate(self.params):
            g = _grad(p)
            if g is None:
                continue
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            self._adam_update(i, p, g)

    def _adam_update(self, i, p, g):
        """Move p by the Adam rule for gradient g, updating its moments self.m[i] and self.v[i]."""
        # TODO 7.3: update m and v in place (m *= beta1; m += (1 - beta1) * g; likewise v with g * g), correct
        # both for bias with self.t, and subtract lr * m_hat / (sqrt(v_hat) + eps) from p.data in place.
        ### BEGIN SOLUTION
        m, v = self.m[i], self.v[i]
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * g * g
        m_hat = m / (1 - self.beta1 ** self.t)
        v_hat = v / (1 - self.beta2 ** self.t)
        p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        ### END SOLUTION

    def _state_arrays(self):
        return self.m + self.v


class AdamW(Adam):
    """Adam with DECOUPLED weight decay: shrink every weight by lr * weight_decay * p directly, then take a plain
    Adam step. In Adam's L2 version the decay term passes through the division by sqrt(v_hat), so weights with
    large gradients are hardly decayed at all; AdamW decays every weight at the same rate."""

    def __init__(self, params, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def step(self):
        self.t += 1
        for i, p in enumerate(self.params):
            g = _grad(p)
            if g is None:
                continue
            # TODO 7.4: first shrink p.data in place by lr * weight_decay * p, then take the Adam step with the
            # gradient g unchanged (self._adam_update): the decay never passes through Adam's division.
            ### BEGIN SOLUTION
            p.data -= self.lr * self.weight_decay * p.data
            self._adam_update(i, p, g)
            ### END SOLUTION
