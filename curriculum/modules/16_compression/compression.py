"""Module 16: Compression, making a trained model smaller: fewer weights, cheaper weights, or a smaller model taught by
the big one.

Magnitude pruning zeroes the smallest weights (and a sparse format stores only the rest); structured pruning removes
whole neurons or channels, so the model itself shrinks; a low-rank factorisation replaces one large matrix by two
thin ones; knowledge distillation trains a small student on a large teacher's softened predictions. Every function
here returns a new model, called like the old one, and leaves the original untouched to compare against.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import copy
from typing import NamedTuple

import numpy as np

from tinytorch.core.autograd import Function, no_grad, record
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import BatchNorm2d, Conv2d, Flatten
from tinytorch.core.tensor import Tensor
from tinytorch.profiling.profiler import named_layers, set_layer


def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def weight_layers(model):
    """(name, layer) for every Linear and Conv2d in the model: the layers whose weights compression works on."""
    return [(name, layer) for name, layer in named_layers(model) if isinstance(layer, (Linear, Conv2d))]


# --- 16.1 sparsity and magnitude pruning ---------------------------------------------------------------------------

def measure_sparsity(model_or_tensor):
    """The fraction of weights that are exactly zero: over a Tensor or array, or over the weights (not the biases)
    of every Linear and Conv2d in a model."""
    if isinstance(model_or_tensor, (Tensor, np.ndarray)):
        arrays = [_array(model_or_tensor)]
    else:
        arrays = [layer.weight.data for _, layer in weight_layers(model_or_tensor)]
    # TODO 16.1: zeros counted over all the arrays together, divided by their total size (a float; 0.0 for none).
    ### BEGIN SOLUTION
    total = sum(a.size for a in arrays)
    return float(sum(int(np.count_nonzero(a == 0)) for a in arrays) / total) if total else 0.0
    ### END SOLUTION


def magnitude_prune(model, sparsity):
    """A copy of `model` in which each Linear and Conv2d weight has its `sparsity` fraction of smallest-magnitude
    weights set to zero: k = round(sparsity * size) of them, exactly, in every layer. Biases are kept."""
    if not 0 <= sparsity <= 1:
        raise ValueError(f"sparsity must be between 0 and 1, got {sparsity}")
    pruned = copy.deepcopy(model)
    for _, layer in weight_layers(pruned):
        w = layer.weight.data
        # TODO 16.1: k = int(round(sparsity * w.size)); if k > 0, find the positions of the k smallest |w|
        # (np.argsort(np.abs(w), axis=None) sorts every element; take the first k) and set them to 0 in place
        # (w.reshape(-1) is a view of w's memory, so writing through it changes w).
        ### BEGIN SOLUTION
        k = int(round(sparsity * w.size))
        if k > 0:
            smallest = np.argsort(np.abs(w), axis=None)[:k]
            w.reshape(-1)[smallest] = 0.0
        ### END SOLUTION
    return pruned


# --- 16.2 storing sparse weights ------------------------------------------------------------------------------------

class CSR(NamedTuple):
    """Compressed sparse rows: the nonzero values row by row, the column of each, and where each row starts."""
    values: np.ndarray      # (nnz,) float32, the nonzero weights in row order
    columns: np.ndarray     # (nnz,) the column of each value, in the smallest unsigned integer type that fits
    row_starts: np.ndarray  # (rows + 1,) int32: row r's values are values[row_starts[r]:row_starts[r + 1]]
    shape: tuple

    def nbytes(self):
        return int(self.values.nbytes + self.columns.nbytes + self.row_starts.nbytes)


def index_dtype(count):
    """The smallest unsigned integer type that can number `count` positions (0 .. count - 1)."""
    # TODO 16.2: np.uint8 up to 256 positions, np.uint16 up to 65,536, else np.uint32. An index is the larger part
    # of a sparse weight: 1 byte beside a 4-byte value is 5 bytes per weight kept, 4 bytes would be 8.
    ### BEGIN SOLUTION
    for dtype in (np.uint8, np.uint16):
        if count <= np.iinfo(dtype).max + 1:
            return dtype
    return np.uint32
    ### END SOLUTION


def to_csr(matrix):
    """The CSR form of a 2-D array (or Tensor): only its nonzero entries, and where they are."""
    m = _array(matrix)
    if m.ndim != 2:
        raise ValueError(f"to_csr stores a 2-D matrix, got shape {m.shape}: reshape a conv weight to (out, -1) first")
    rows, columns = np.nonzero(m)  # row by row, left to right
    # TODO 16.2: values = m[rows, columns] as float32; columns in index_dtype(number of columns); row_starts (int32,
    # rows + 1 entries) starting at 0, then the running count of nonzeros after each row: np.cumsum of
    # np.bincount(rows, minlength=number of rows). (In the tab, bincount wants rows.astype(np.intp).)
    ### BEGIN SOLUTION
    values = m[rows, columns].astype(np.float32)
    counts = np.bincount(rows.astype(np.intp), minlength=m.shape[0])
    row_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return CSR(values, columns.astype(index_dtype(m.shape[1])), row_starts, m.shape)
    ### END SOLUTION


def from_csr(csr):
    """The dense float32 array a CSR stands for."""
    dense = np.zeros(csr.shape, dtype=np.float32)
    # TODO 16.2: the row of every value repeats r (row_starts[r + 1] - row_starts[r]) times (np.repeat of
    # np.arange(rows) by np.diff(row_starts)); write the values at (those rows, csr.columns).
    ### BEGIN SOLUTION
    rows = np.repeat(np.arange(csr.shape[0]), np.diff(csr.row_starts))
    dense[rows, csr.columns.astype(np.intp)] = csr.values
    ### END SOLUTION
    return dense


class SparseLinear(Layer):
    """A Linear layer stored in CSR (given): the weight's transpose (out, in), so that each output's nonzero weights
    are one row. forward gathers the inputs each kept weight multiplies and sums them per output: work proportional
    to the weights kept, not to in * out."""

    def __init__(self, linear):
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.csr = to_csr(linear.weight.data.T)
        self.bias = None if linear.bias is None else np.array(linear.bias.data, dtype=np.float32)
        counts = np.diff(self.csr.row_starts)
        self._nonempty = np.nonzero(counts)[0]  # outputs with at least one weight (reduceat cannot sum nothing)
        self._starts = self.csr.row_starts[:-1][self._nonempty].astype(np.intp)
        self._inputs = self.csr.columns.astype(np.intp)

    def forward(self, x):
        x = _array(x)
        rows = x.reshape(-1, self.in_features)
        out = np.zeros((rows.shape[0], self.out_features), dtype=np.float32)
        if len(self.csr.values):
            products = rows[:, self._inputs] * self.csr.values  # (N, nnz): each kept weight times its input
            out[:, self._nonempty] = np.add.reduceat(products, self._starts, axis=1)
        if self.bias is not None:
            out += self.bias
        return Tensor(out.reshape(*x.shape[:-1], self.out_features))

    def parameters(self):
        return []

    def storage_bytes(self):
        return self.csr.nbytes() + (0 if self.bias is None else int(self.bias.nbytes))

    def __repr__(self):
        return (f"SparseLinear(in_features={self.in_features}, out_features={self.out_features}, "
                f"nonzero={len(self.csr.values)})")


def sparsify(model):
    """A copy of `model` with every Linear whose weights take fewer bytes in CSR than dense stored as a SparseLinear
    (given). Profiler().model_bytes then reports the size as stored."""
    sparse = copy.deepcopy(model)
    for name, layer in weight_layers(sparse):
        if isinstance(layer, Linear) and to_csr(layer.weight.data.T).nbytes() < layer.weight.data.nbytes:
            set_layer(sparse, name, SparseLinear(layer))
    return sparse


# --- 16.3 structured pruning ----------------------------------------------------------------------------------------

def unit_norms(layer):
    """The L2 norm of each output unit's weights: each column of a Linear's (in, out) weight, each filter
    (in, k, k) of a Conv2d's (out, in, k, k) weight. A unit with small weights contributes little downstream."""
    w = layer.weight.data
    # TODO 16.3: np.sqrt of the sum of squares over every axis except the output one (axis 0 for a Conv2d, axis 1
    # for a Linear), one norm per output unit.
    ### BEGIN SOLUTION
    if isinstance(layer, Conv2d):
        return np.sqrt((w.astype(np.float64) ** 2).sum(axis=(1, 2, 3)))
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=0))
    ### END SOLUTION


def keep_units(norms, fraction):
    """The indices of the units to keep, in increasing order: all but the round(fraction * n) with the smallest
    norms, and never fewer than one."""
    n = len(norms)
    # TODO 16.3: drop = min(int(round(fraction * n)), n - 1); keep the n - drop largest norms (np.argsort, ascending,
    # so the last ones), and return their indices sorted (np.sort): the surviving units keep their order.
    ### BEGIN SOLUTION
    drop = min(int(round(fraction * n)), n - 1)
    return np.sort(np.argsort(norms, kind="stable")[drop:])
    ### END SOLUTION


def _take(tensor, keep, axis):
    """A new learnable Tensor holding only the `keep` slices of `tensor` along `axis`."""
    return Tensor(np.take(tensor.data, keep, axis=axis), requires_grad=tensor.requires_grad)


def _shrink_outputs(layer, keep):
    if isinstance(layer, Conv2d):
        layer.weight, layer.out_channels = _take(layer.weight, keep, 0), len(keep)
    else:
        layer.weight, layer.out_features = _take(layer.weight, keep, 1), len(keep)
    if layer.bias is not None:
        layer.bias = _take(layer.bias, keep, 0)


def _shrink_inputs(layer, keep, per_unit):
    """Keep the inputs of `layer` that came from the kept units; after a Flatten each unit (channel) fed per_unit
    consecutive inputs (its H x W positions)."""
    if isinstance(layer, Conv2d):
        layer.weight, layer.in_channels = _take(layer.weight, keep, 1), len(keep)
    else:
        rows = (np.asarray(keep)[:, None] * per_unit + np.arange(per_unit)).reshape(-1)
        layer.weight, layer.in_features = _take(layer.weight, rows, 0), len(rows)


def _shrink_norm(norm, keep):
    norm.gamma, norm.beta = _take(norm.gamma, keep, 0), _take(norm.beta, keep, 0)
    norm.running_mean, norm.running_var = norm.running_mean[keep], norm.running_var[keep]
    norm.num_features = len(keep)


def structured_prune(model, fraction, example_input):
    """A copy of the Sequential `model` with `fraction` of the output units (neurons of a Linear, channels of a Conv2d)
    of every weight layer but the last removed: those with the smallest unit_norms, and with them the inputs of the
    next weight layer they fed. The result is a smaller dense model, faster as well as smaller.

    `example_input` (one small batch) tells how many inputs each channel feeds a Linear after a Flatten.
    Between two weight layers only layers without weights (activations, pooling, Flatten, Dropout) and BatchNorm2d
    may stand; anything else raises a ValueError.
    """
    if not isinstance(model, Sequential):
        raise ValueError("structured_prune works on a Sequential, whose layers follow one another")
    pruned = copy.deepcopy(model)
    layers = pruned.layers
    weighted = [i for i, layer in enumerate(layers) if isinstance(layer, (Linear, Conv2d))]
    with no_grad():  # the shape of what each layer hands on, from one pass
        shapes, x = [], Tensor(_array(example_input))
        for layer in layers:
            x = layer(x)
            shapes.append(x.shape)
    for first, second in zip(weighted, weighted[1:]):
        between = layers[first + 1:second]
        if any(layer.parameters() and not isinstance(layer, BatchNorm2d) for layer in between):
            raise ValueError(f"cannot prune across {between}: a layer with weights stands between two weight layers")
        keep = keep_units(unit_norms(layers[first]), fraction)
        flatten = [i for i in range(first + 1, second) if isinstance(layers[i], Flatten)]
        per_unit = int(np.prod(shapes[flatten[0] - 1][2:])) if flatten else 1  # H x W each channel is flattened to
        _shrink_outputs(layers[first], keep)
        for layer in between:
            if isinstance(layer, BatchNorm2d):
                _shrink_norm(layer, keep)
        _shrink_inputs(layers[second], keep, per_unit)
    return pruned


# --- 16.4 low-rank factorisation -------------------------------------------------------------------------------------

def low_rank_approximate(W, rank_ratio):
    """(A, B) with A @ B the best rank-r approximation of the matrix W (m, n), r = max(1, round(rank_ratio * min(m, n))):
    A (m, r) and B (r, n), float32. By the Eckart-Young theorem it is the truncated SVD, and its squared error
    (Frobenius) is the sum of the squares of the singular values left out."""
    w = _array(W).astype(np.float64)
    rank = max(1, int(round(rank_ratio * min(w.shape))))
    # TODO 16.4: U, S, Vt = np.linalg.svd(w, full_matrices=False) (S sorted from largest to smallest); keep the
    # first `rank`: A = U[:, :rank] * S[:rank] (each column scaled by its singular value), B = Vt[:rank]. float32.
    ### BEGIN SOLUTION
    U, S, Vt = np.linalg.svd(w, full_matrices=False)
    A = (U[:, :rank] * S[:rank]).astype(np.float32)
    B = Vt[:rank].astype(np.float32)
    return A, B
    ### END SOLUTION


def factorize(model, rank_ratio, layers=None):
    """A copy of `model` with every Linear(in, out) (or only those named in `layers`, as named_layers names them)
    replaced by Sequential(Linear(in, r, bias=False), Linear(r, out)) holding the low-rank factors (given), where that
    stores fewer numbers: r * (in + out) < in * out."""
    factored = copy.deepcopy(model)
    for name, layer in weight_layers(factored):
        if not isinstance(layer, Linear) or (layers is not None and name not in layers):
            continue
        A, B = low_rank_approximate(layer.weight.data, rank_ratio)
        rank = A.shape[1]
        if rank * (layer.in_features + layer.out_features) >= layer.in_features * layer.out_features:
            continue  # no saving at this rank: keep the layer as it is
        down, up = Linear(layer.in_features, rank, bias=False), Linear(rank, layer.out_features, bias=layer.bias is not None)
        down.weight.data[...], up.weight.data[...] = A, B
        if layer.bias is not None:
            up.bias.data[...] = layer.bias.data
        set_layer(factored, name, Sequential(down, up))
    return factored


# --- 16.5 knowledge distillation --------------------------------------------------------------------------------------

def _softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _log_softmax(z, axis=-1):
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class DistillationBackward(Function):
    """d loss / d student logits, for loss = alpha * T^2 * KL(p_teacher || p_student) + (1 - alpha) * CE, means over N:

        alpha * T * (softmax(s / T) - softmax(t / T)) / N  +  (1 - alpha) * (softmax(s) - onehot(y)) / N

    (the KL term's gradient is (1 / T) * (p_s - p_t); times T^2 it is T * (p_s - p_t).)"""

    def __init__(self, student_logits, teacher_probs, targets, temperature, alpha):
        super().__init__(student_logits)
        self.teacher_probs, self.targets, self.temperature, self.alpha = teacher_probs, targets, temperature, alpha

    def apply(self, grad_output):
        s = _array(self.inputs[0]).astype(np.float64)
        T, n = self.temperature, len(s)
        # TODO 16.5: the formula of the docstring, times grad_output; return it as a one-element tuple (float32).
        ### BEGIN SOLUTION
        onehot = np.zeros_like(s)
        onehot[np.arange(n), self.targets] = 1.0
        grad = (self.alpha * T * (_softmax(s / T) - self.teacher_probs)
                + (1 - self.alpha) * (_softmax(s) - onehot)) / n
        return ((grad_output * grad).astype(np.float32),)
        ### END SOLUTION


class KnowledgeDistillation:
    """Train `student` to match both the labels and `teacher`'s softened predictions.

        kd = KnowledgeDistillation(teacher, student, temperature=4.0, alpha=0.7)
        loss = kd(x, y)              # teacher run without a graph, student with one
        loss.backward()              # gradients reach the student's weights only
        optimizer = Adam(kd.parameters())

    A temperature T > 1 softens both distributions (softmax(logits / T)), so the teacher's small probabilities (a 7
    that looks a bit like a 1) carry information; the KL term is scaled by T^2 so its gradients keep the size of the
    hard-label term's whatever T is.
    """

    def __init__(self, teacher, student, temperature=4.0, alpha=0.5):
        if temperature <= 0 or not 0 <= alpha <= 1:
            raise ValueError(f"temperature must be positive and alpha in [0, 1], got {temperature} and {alpha}")
        self.teacher, self.student, self.temperature, self.alpha = teacher, student, temperature, alpha

    def loss(self, student_logits, teacher_logits, targets):
        """alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * cross_entropy(s, y), each a mean over the
        batch, as a scalar Tensor recorded for autograd (one DistillationBackward)."""
        s = _array(student_logits).astype(np.float64)
        t = _array(teacher_logits).astype(np.float64)
        y = np.asarray(_array(targets)).reshape(-1).astype(np.int64)
        T, n = self.temperature, len(s)
        teacher_probs = _softmax(t / T)
        # TODO 16.5: kl = the batch mean of sum(p_t * (log p_t - log p_s)) with log p_t = _log_softmax(t / T) and
        # log p_s = _log_softmax(s / T) (log-softmax, never log(softmax): a probability of 0 would give -inf); ce = the
        # batch mean of -_log_softmax(s)[row, y]. value = alpha * T**2 * kl + (1 - alpha) * ce.
        ### BEGIN SOLUTION
        kl = np.mean(np.sum(teacher_probs * (_log_softmax(t / T) - _log_softmax(s / T)), axis=-1))
        ce = -np.mean(_log_softmax(s)[np.arange(n), y])
        value = self.alpha * T ** 2 * kl + (1 - self.alpha) * ce
        ### END SOLUTION
        return record(Tensor(np.float32(value)), DistillationBackward(student_logits, teacher_probs, y, T, self.alpha))

    def __call__(self, x, targets):
        # TODO 16.5: the teacher's logits inside no_grad() (it is not trained, so it needs no graph), the student's
        # logits with one; return self.loss(student's, teacher's, targets).
        ### BEGIN SOLUTION
        with no_grad():
            teacher_logits = self.teacher(x)
        return self.loss(self.student(x), teacher_logits, targets)
        ### END SOLUTION

    def parameters(self):
        return self.student.parameters()
