"""Module 06: Autograd, gradients computed automatically by walking the graph of operations backwards.

Since module 01 your Tensor has had `requires_grad`, `grad` and `backward()`, asleep. `enable_autograd()` at the
bottom of this file wakes them up without you rewriting modules 01-04: it wraps your Tensor's operations, your
activations' and your losses' `forward` so that every result computed from a tensor that requires grad remembers
the `Function` that made it (`result.grad_fn`). `result.backward()` then walks those Functions from the result back
to the leaves, turning each output's gradient into its inputs' gradients by the chain rule.

A Function's `apply(grad_output)` receives the gradient of the loss with respect to the op's output (a NumPy array
shaped like the output) and returns one gradient per input (shaped like that input, or None for an input that
needs none).

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import importlib
import math
import warnings

import numpy as np

from tinytorch.core.tensor import Tensor

_grad_enabled = True  # switched off inside `with no_grad():`


class no_grad:
    """`with no_grad(): ...` records no graph: for evaluation and parameter updates, where no backward follows.
    Recording keeps every intermediate result alive, so skipping it saves memory as well as time."""

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._previous


def _array(x):
    """The array behind a Tensor, or a number/list/array as a float32 array."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


# --- 6.1 the Function base and the arithmetic ops --------------------------------------------------------------

class Function:
    """One recorded operation. It keeps its inputs (that is what makes the graph cost memory) and turns the
    gradient of its output into one gradient per input."""

    def __init__(self, *inputs):
        self.inputs = inputs  # Tensors, or plain numbers/arrays that act as constants

    def apply(self, grad_output):
        """grad_output: d(loss)/d(output), an array shaped like the output.
        Returns a tuple with d(loss)/d(input) for each input, in order (None where no gradient is needed)."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(grad_output)")

    def __repr__(self):
        return f"<{type(self).__name__}>"


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`, undoing NumPy broadcasting.

    When (3, 1) + (1, 4) gives a (3, 4) result, each element of the (3, 1) input was used 4 times, so its
    gradient is the sum of 4 gradients: sum over the axes broadcasting stretched, and over the leading axes it
    added, until the gradient has the input's shape. unbroadcast(ones((3, 4)), (3, 1)) -> [[4], [4], [4]].
    """
    grad = np.asarray(grad)
    # TODO 6.1: first sum away the leading axes broadcasting added (while grad.ndim > len(shape): sum axis 0),
    # then, for every axis where `shape` has size 1 but grad does not, sum that axis with keepdims=True.
    ### BEGIN SOLUTION
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad
    ### END SOLUTION


class AddBackward(Function):
    """out = a + b: d out/d a = 1 and d out/d b = 1, so each input gets grad_output (summed to its shape)."""

    def apply(self, grad_output):
        a, b = self.inputs
        # TODO 6.1: return the gradient for a and for b, each passed through unbroadcast(..., np.shape(_array(x))).
        ### BEGIN SOLUTION
        return (unbroadcast(grad_output, np.shape(_array(a))),
                unbroadcast(grad_output, np.shape(_array(b))))
        ### END SOLUTION


class SubBackward(Function):
    """out = a - b: d out/d a = 1, d out/d b = -1."""

    def apply(self, grad_output):
        a, b = self.inputs
        # TODO 6.1: like AddBackward, but b's gradient changes sign.
        ### BEGIN SOLUTION
        return (unbroadcast(grad_output, np.shape(_array(a))),
                unbroadcast(-grad_output, np.shape(_array(b))))
        ### END SOLUTION


class MulBackward(Function):
    """out = a * b: d out/d a = b, d out/d b = a (the product rule)."""

    def apply(self, grad_output):
        a, b = _array(self.inputs[0]), _array(self.inputs[1])
        # TODO 6.1: each input's gradient is grad_output times the OTHER input, summed back to its own shape.
        ### BEGIN SOLUTION
        return unbroadcast(grad_output * b, a.shape), unbroadcast(grad_output * a, b.shape)
        ### END SOLUTION


class DivBackward(Function):
    """out = a / b: d out/d a = 1 / b, d out/d b = -a / b**2."""

    def apply(self, grad_output):
        a, b = _array(self.inputs[0]), _array(self.inputs[1])
        # TODO 6.1: apply the two derivatives above, each summed back to its input's shape.
        ### BEGIN SOLUTION
        return unbroadcast(grad_output / b, a.shape), unbroadcast(-grad_output * a / b ** 2, b.shape)
        ### END SOLUTION


# --- 6.2 the backward pass ---------------------------------------------------------------------------------

def topological_order(root):
    """Every tensor `root` was computed from (root included), each listed after all the tensors it was computed
    from, so walking the list backwards visits a tensor only once every use of it has sent its gradient."""
    # TODO 6.2: depth-first search from root along node.grad_fn.inputs (skip inputs that are not Tensors; leaves
    # have grad_fn None). Append a tensor only after all of its inputs, and each tensor once (a set of id()s).
    # A recursive helper reads well; a loop with an explicit stack also copes with graphs deeper than Python's
    # recursion limit (about 1000 calls).
    ### BEGIN SOLUTION
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))  # comes off the stack after everything pushed below it
        if node.grad_fn is not None:
            stack.extend((x, False) for x in node.grad_fn.inputs if isinstance(x, Tensor) and id(x) not in seen)
    return order
    ### END SOLUTION


def tensor_backward(self, gradient=None):
    """The real Tensor.backward(): fill `.grad` of every leaf tensor with requires_grad that `self` depends on.

    `gradient` is d(loss)/d(self); leave it out for a scalar loss (it is then 1, or all ones for a tensor).
    Gradients ADD to `.grad`, as in PyTorch, so an optimizer's zero_grad() must clear them between steps.
    """
    if not self.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad: no input of the computation had "
                           "requires_grad=True (or it ran inside no_grad(), or before enable_autograd())")
    seed = np.ones_like(self.data) if gradient is None else np.broadcast_to(_array(gradient), self.shape)
    # TODO 6.2: keep a dict from id(tensor) to the gradient gathered so far, starting with {id(self): seed}.
    # Walk topological_order(self) in REVERSE. For each tensor with a gradient:
    #   - a leaf (grad_fn is None) with requires_grad: add the gradient into .grad (a Tensor; None means empty);
    #   - otherwise: grads = tensor.grad_fn.apply(gradient), and for each (input, grad) pair where the input is a
    #     Tensor with requires_grad and grad is not None: call _check_shape(tensor.grad_fn, input, grad), then add
    #     grad to the input's entry in the dict (an input used twice receives the sum of both gradients).
    ### BEGIN SOLUTION
    grads = {id(self): seed}
    for node in reversed(topological_order(self)):
        grad = grads.pop(id(node), None)
        if grad is None:
            continue
        if node.grad_fn is None:  # a leaf: a parameter or an input you created
            if node.requires_grad:
                node.grad = Tensor(grad) if node.grad is None else Tensor(node.grad.data + grad)
            continue
        for x, x_grad in zip(node.grad_fn.inputs, node.grad_fn.apply(grad)):
            if isinstance(x, Tensor) and x.requires_grad and x_grad is not None:
                _check_shape(node.grad_fn, x, x_grad)
                grads[id(x)] = grads[id(x)] + x_grad if id(x) in grads else x_grad
    ### END SOLUTION


def _check_shape(function, x, grad):
    """A gradient must have its input's shape; say which Function broke that, rather than fail far away."""
    if np.shape(grad) != x.shape:
        raise ValueError(f"{type(function).__name__}.apply returned a gradient of shape {np.shape(grad)} for an "
                         f"input of shape {x.shape}: sum it back to the input's shape (unbroadcast)")


# --- 6.3 matmul and shape operations -------------------------------------------------------------------------

class MatmulBackward(Function):
    """out = a @ b: d loss/d a = grad_output @ b^T and d loss/d b = a^T @ grad_output, where ^T swaps the LAST two
    axes: with batch axes in front, (B, H, T, d) @ (B, H, d, T) is a batch of independent matrix products."""

    def apply(self, grad_output):
        a, b = _array(self.inputs[0]), _array(self.inputs[1])
        # A vector operand is a 1-row (or 1-column) matrix whose extra dimension the product dropped: put it back.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = np.expand_dims(grad_output, -2) if a.ndim == 1 else grad_output
        g = np.expand_dims(g, -1) if b.ndim == 1 else g
        if a2.ndim > 2 and b2.ndim == 2:
            # A batch of inputs times ONE matrix (a Linear layer on (B, T, D)): fold the batch into the rows, so b's
            # gradient is one large product instead of B small ones summed afterwards. Same numbers, fewer calls.
            a2, g = a2.reshape(-1, a2.shape[-1]), g.reshape(-1, g.shape[-1])
        # TODO 6.3: grad_a = g @ b2^T and grad_b = a2^T @ g, with ^T = transposed(m) (below: it swaps the LAST two
        # axes; .T would reverse every axis of a batch). Unbroadcast each to a2's / b2's shape (batch axes one
        # operand broadcast, such as (B, 1, T, d) @ (1, H, d, T), are summed back), then reshape to a's / b's shape.
        ### BEGIN SOLUTION
        grad_a = unbroadcast(g @ transposed(b2), a2.shape).reshape(a.shape)
        grad_b = unbroadcast(transposed(a2) @ g, b2.shape).reshape(b.shape)
        return grad_a, grad_b
        ### END SOLUTION


def transposed(m):
    """m with its last two axes swapped, laid out in memory in its new order. NumPy without a BLAS (as in the tab)
    multiplies a transposed VIEW on the left of @ up to 17x slower than the same numbers stored in order."""
    return np.ascontiguousarray(np.swapaxes(m, -1, -2))


class TransposeBackward(Function):
    """out = x.transpose(dim0, dim1): swapping the same two axes back routes each gradient home."""

    def __init__(self, x, dim0, dim1):
        super().__init__(x)
        self.dim0, self.dim1 = dim0, dim1

    def apply(self, grad_output):
        # TODO 6.3: swap axes dim0 and dim1 of grad_output (a tensor with fewer than 2 dimensions was unchanged).
        # Swapping twice is the identity, so this holds for any two axes of any tensor, e.g. (1, 2) of (B, T, H, d).
        ### BEGIN SOLUTION
        if grad_output.ndim < 2:
            return (grad_output,)
        return (np.swapaxes(grad_output, self.dim0, self.dim1),)
        ### END SOLUTION


class ReshapeBackward(Function):
    """out = x.reshape(...): the same numbers in a new shape, so the gradient just takes x's shape back."""

    def apply(self, grad_output):
        (x,) = self.inputs
        # TODO 6.3: reshape grad_output to x's shape.
        ### BEGIN SOLUTION
        return (grad_output.reshape(x.shape),)
        ### END SOLUTION


class GetItemBackward(Function):
    """out = x[key]: the picked elements get their gradient, every other element of x gets 0."""

    def __init__(self, x, key):
        super().__init__(x)
        self.key = _plain_key(key)

    def apply(self, grad_output):
        (x,) = self.inputs
        # TODO 6.3: start from zeros shaped like x (float32) and ADD grad_output at self.key with
        # np.add.at(grad, self.key, grad_output). Plain `grad[key] += g` loses gradient when an index repeats,
        # as in x[[0, 0, 1]]: NumPy writes the repeated element once instead of adding twice.
        ### BEGIN SOLUTION
        grad = np.zeros(x.shape, dtype=np.float32)
        np.add.at(grad, self.key, grad_output)
        return (grad,)
        ### END SOLUTION


def _plain_key(key):
    """An index with any Tensors in it turned into integer/boolean arrays NumPy understands."""
    def plain(k):
        return k.data.astype(np.int64) if isinstance(k, Tensor) else k
    return tuple(plain(k) for k in key) if isinstance(key, tuple) else plain(key)


# --- 6.4 reductions ----------------------------------------------------------------------------------------

def _expand_to(grad_output, shape, axis, keepdims):
    """grad_output of a reduction, given its reduced dimensions back (size 1) and broadcast to `shape`."""
    if axis is not None and not keepdims:
        grad_output = np.expand_dims(grad_output, axis)
    return np.broadcast_to(grad_output, shape)


class SumBackward(Function):
    """out = x.sum(axis): every element of x added once into its sum, so each gets that sum's gradient."""

    def __init__(self, x, axis=None, keepdims=False):
        super().__init__(x)
        self.axis, self.keepdims = axis, keepdims

    def apply(self, grad_output):
        (x,) = self.inputs
        # TODO 6.4: copy each sum's gradient to every element that was summed: _expand_to does exactly that.
        ### BEGIN SOLUTION
        return (_expand_to(grad_output, x.shape, self.axis, self.keepdims),)
        ### END SOLUTION


class MeanBackward(Function):
    """out = x.mean(axis) = x.sum(axis) / n, where n is how many elements went into each mean."""

    def __init__(self, x, axis=None, keepdims=False):
        super().__init__(x)
        self.axis, self.keepdims = axis, keepdims

    def apply(self, grad_output):
        (x,) = self.inputs
        # TODO 6.4: like SumBackward, divided by n = x.size // grad_output.size (elements per mean).
        ### BEGIN SOLUTION
        n = x.size // max(np.size(grad_output), 1)
        return (_expand_to(grad_output, x.shape, self.axis, self.keepdims) / n,)
        ### END SOLUTION


class MaxBackward(Function):
    """out = x.max(axis): only the largest element of each reduced slice moved the result, so only it gets the
    slice's gradient; every other element gets 0. When several elements tie for the largest, exactly ONE of them
    (the first, as np.argmax picks) gets it: handing it to all of them would count the gradient twice."""

    def __init__(self, x, axis=None, keepdims=False):
        super().__init__(x)
        self.axis, self.keepdims = axis, keepdims

    def apply(self, grad_output):
        x = _array(self.inputs[0])
        reduced = _axes(self.axis, x.ndim)
        kept = [i for i in range(x.ndim) if i not in reduced]
        # One row per reduced slice: the kept axes in front, the reduced ones moved to the end and flattened.
        # The rows then come in the order of grad_output's elements, with or without keepdims.
        order = kept + reduced
        rows = np.transpose(x, order).reshape(-1, int(np.prod([x.shape[i] for i in reduced])))
        g = np.reshape(grad_output, -1)  # one gradient per row
        # TODO 6.4: grad_rows, zeros shaped like rows (float32), with g[r] written at row r's arg-max only
        # (rows.argmax(axis=1) gives each row's first largest column; index with np.arange(len(rows)) and it).
        ### BEGIN SOLUTION
        grad_rows = np.zeros(rows.shape, dtype=np.float32)
        grad_rows[np.arange(len(rows)), rows.argmax(axis=1)] = g
        ### END SOLUTION
        # Undo the flattening and the move: back to x's shape and axis order.
        grad = grad_rows.reshape([x.shape[i] for i in order]).transpose(np.argsort(order))
        return (grad,)


def _axes(axis, ndim):
    """The reduced axes as a sorted list of non-negative ints: None means all of them."""
    if axis is None:
        return list(range(ndim))
    return sorted(a % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


# --- 6.5 activations (module 02) ---------------------------------------------------------------------------

class ReLUBackward(Function):
    """relu(x) = max(0, x): slope 1 where x > 0, 0 elsewhere."""

    def apply(self, grad_output):
        x = _array(self.inputs[0])
        # TODO 6.5: pass the gradient through where x > 0, zero elsewhere.
        ### BEGIN SOLUTION
        return (grad_output * (x > 0),)
        ### END SOLUTION


class SigmoidBackward(Function):
    """s = sigmoid(x): ds/dx = s * (1 - s), computed from the saved output s (no exponential needed)."""

    def __init__(self, x, output):
        super().__init__(x)
        self.output = output  # the forward's result array, saved for backward

    def apply(self, grad_output):
        s = self.output
        # TODO 6.5: grad_output times s * (1 - s).
        ### BEGIN SOLUTION
        return (grad_output * s * (1 - s),)
        ### END SOLUTION


class TanhBackward(Function):
    """t = tanh(x): dt/dx = 1 - t**2, from the saved output."""

    def __init__(self, x, output):
        super().__init__(x)
        self.output = output

    def apply(self, grad_output):
        t = self.output
        # TODO 6.5: grad_output times 1 - t**2.
        ### BEGIN SOLUTION
        return (grad_output * (1 - t ** 2),)
        ### END SOLUTION


class GELUBackward(Function):
    """gelu(x) = 0.5 * x * (1 + tanh(u)) with u = c * (x + 0.044715 * x**3), c = sqrt(2 / pi). By the product and
    chain rules: d gelu/dx = 0.5 * (1 + tanh(u)) + 0.5 * x * (1 - tanh(u)**2) * c * (1 + 3 * 0.044715 * x**2)."""

    def apply(self, grad_output):
        x = _array(self.inputs[0])
        c = math.sqrt(2.0 / math.pi)  # a Python float: a np.float64 here would turn the float32 arrays into float64
        # TODO 6.5: compute tanh(u) once, then grad_output times the derivative above.
        ### BEGIN SOLUTION
        t = np.tanh(c * (x + 0.044715 * x * x * x))
        slope = 0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * c * (1 + 3 * 0.044715 * x ** 2)
        return (grad_output * slope,)
        ### END SOLUTION


class SoftmaxBackward(Function):
    """s = softmax(x) along dim. Every output depends on every input of its slice: ds_i/dx_j = s_i * (delta_ij - s_j),
    so d loss/d x_j = s_j * (g_j - sum_i g_i * s_i), with g = grad_output and the sum along dim."""

    def __init__(self, x, output, dim=-1):
        super().__init__(x)
        self.output, self.dim = output, dim

    def apply(self, grad_output):
        s = self.output
        # TODO 6.5: s * (grad_output - sum(grad_output * s along self.dim, keepdims=True)).
        ### BEGIN SOLUTION
        return (s * (grad_output - np.sum(grad_output * s, axis=self.dim, keepdims=True)),)
        ### END SOLUTION


# --- 6.6 losses (module 04) ----------------------------------------------------------------------------------

def _targets_like(targets, predictions):
    """Targets as an array shaped like the predictions (module 04's losses reshape (N,) targets to (N, 1) too)."""
    t = _array(targets)
    return t.reshape(predictions.shape) if t.shape != predictions.shape and t.size == predictions.size else t


class MSEBackward(Function):
    """loss = mean((p - t)**2) over n elements: d loss/d p = 2 * (p - t) / n, and minus that for t."""

    def apply(self, grad_output):
        p = _array(self.inputs[0])
        t = _targets_like(self.inputs[1], p)
        # TODO 6.6: grad_p = grad_output * 2 * (p - t) / p.size; the targets get -grad_p, reshaped to their shape.
        ### BEGIN SOLUTION
        grad_p = grad_output * 2 * (p - t) / p.size
        return grad_p, (-grad_p).reshape(np.shape(_array(self.inputs[1])))
        ### END SOLUTION


class BCEBackward(Function):
    """loss = -mean(t * log(p) + (1 - t) * log(1 - p)) with p clipped to [eps, 1 - eps]:
    d loss/d p = (-t / p + (1 - t) / (1 - p)) / n = (p - t) / (p * (1 - p)) / n."""

    def __init__(self, predictions, targets, eps=1e-7):
        super().__init__(predictions, targets)
        self.eps = eps

    def apply(self, grad_output):
        p = np.clip(_array(self.inputs[0]), self.eps, 1 - self.eps)
        t = _targets_like(self.inputs[1], p)
        # TODO 6.6: grad_output times the derivative above for the predictions; None for the targets.
        ### BEGIN SOLUTION
        return grad_output * (p - t) / (p * (1 - p)) / p.size, None
        ### END SOLUTION


class CrossEntropyBackward(Function):
    """loss = -mean over N rows of log_softmax(logits)[row, target]: d loss/d logits = (softmax(logits) - onehot) / N.
    The log and the exponential cancel, which is why frameworks fuse softmax with cross-entropy."""

    def apply(self, grad_output):
        logits = _array(self.inputs[0])
        ids = np.asarray(_array(self.inputs[1])).reshape(-1).astype(np.int64)
        # TODO 6.6: softmax each row (subtract the row max before np.exp), subtract 1 at [row, ids[row]], divide by
        # the number of rows and multiply by grad_output. The class ids get no gradient (None).
        ### BEGIN SOLUTION
        exps = np.exp(logits - logits.max(axis=-1, keepdims=True))
        grad = exps / exps.sum(axis=-1, keepdims=True)
        grad[np.arange(len(ids)), ids] -= 1
        return grad_output * grad / len(ids), None
        ### END SOLUTION


# --- switching autograd on (given) ----------------------------------------------------------------------------

def record(result, function):
    """Attach `function` to `result` as its grad_fn if gradients must flow through it: recording is on and some
    input requires grad. Later modules (convolutions, embeddings) call this for ops they add themselves."""
    if _grad_enabled and any(isinstance(x, Tensor) and x.requires_grad for x in function.inputs):
        result.requires_grad = True
        result.grad_fn = function
    return result


def _tracked(forward, make_function):
    """`forward` (your module 01-04 code, unchanged) followed by recording `make_function(result, *args)`."""
    def tracked(*args, **kwargs):
        result = forward(*args, **kwargs)
        if _grad_enabled and isinstance(result, Tensor):
            if any(result is a for a in args):  # an op that handed back its input must not become its own parent
                result = Tensor(result.data)
            record(result, make_function(result, *args, **kwargs))
        return result
    tracked.__name__, tracked.__doc__ = forward.__name__, forward.__doc__
    tracked.__wrapped__ = forward
    return tracked


def _patch(cls, rules):
    """Wrap each named method of `cls` once, however often enable_autograd() runs."""
    if cls.__dict__.get("_autograd_patched"):
        return
    for name, make_function in rules.items():
        setattr(cls, name, _tracked(getattr(cls, name), make_function))
    cls._autograd_patched = True


_TENSOR_RULES = {
    "__add__": lambda out, a, b: AddBackward(a, b),
    "__sub__": lambda out, a, b: SubBackward(a, b),
    "__mul__": lambda out, a, b: MulBackward(a, b),
    "__truediv__": lambda out, a, b: DivBackward(a, b),
    "matmul": lambda out, a, b: MatmulBackward(a, b),
    "__matmul__": lambda out, a, b: MatmulBackward(a, b),
    "transpose": lambda out, x, dim0=-2, dim1=-1: TransposeBackward(x, dim0, dim1),
    "reshape": lambda out, x, *shape: ReshapeBackward(x),
    "sum": lambda out, x, axis=None, keepdims=False: SumBackward(x, axis, keepdims),
    "mean": lambda out, x, axis=None, keepdims=False: MeanBackward(x, axis, keepdims),
    "max": lambda out, x, axis=None, keepdims=False: MaxBackward(x, axis, keepdims),
    "__getitem__": lambda out, x, key: GetItemBackward(x, key),
}

_ACTIVATION_RULES = {  # module 02: class name -> Function recorded on forward(x)'s result
    "ReLU": lambda out, act, x: ReLUBackward(x),
    "Sigmoid": lambda out, act, x: SigmoidBackward(x, out.data),
    "Tanh": lambda out, act, x: TanhBackward(x, out.data),
    "GELU": lambda out, act, x: GELUBackward(x),
    "Softmax": lambda out, act, x: SoftmaxBackward(x, out.data, getattr(act, "dim", -1)),
}


def _loss_rules(losses):
    eps = getattr(losses, "EPS", 1e-7)
    return {  # module 04: class name -> Function recorded on forward(predictions, targets)'s result
        "MSELoss": lambda out, loss, p, t: MSEBackward(p, t),
        "BinaryCrossEntropyLoss": lambda out, loss, p, t: BCEBackward(p, t, getattr(loss, "eps", eps)),
        "CrossEntropyLoss": lambda out, loss, logits, t: CrossEntropyBackward(logits, t),
    }


def _detach(self):
    """The same values with no history: gradients will not flow back through the result."""
    return Tensor(self.data)


def enable_autograd():
    """Switch gradients on for the Tensor class in tinytorch.core.tensor (yours), and for the activations
    (module 02) and losses (module 04) when those modules exist. Safe to call any number of times."""
    Tensor.grad_fn = None  # the default for every tensor: a leaf, made by you rather than by an op
    Tensor.backward = tensor_backward
    Tensor.detach = _detach
    _patch(Tensor, _TENSOR_RULES)
    for module_name, rules in [("activations", lambda m: _ACTIVATION_RULES), ("losses", _loss_rules)]:
        module = _import_optional(f"tinytorch.core.{module_name}")
        if module is None:
            continue
        for class_name, make_function in rules(module).items():
            cls = getattr(module, class_name, None)
            if isinstance(cls, type):
                _patch(cls, {"forward": make_function})


def _import_optional(name):
    """The module `name`, or None when the package does not have it (yet)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:  # the module exists but an import inside it failed: say so
            warnings.warn(f"autograd skipped {name}: {error}")
        return None
    except Exception as error:  # a broken earlier file should not stop autograd for the Tensor itself
        warnings.warn(f"autograd skipped {name}: it failed to import ({type(error).__name__}: {error})")
        return None
