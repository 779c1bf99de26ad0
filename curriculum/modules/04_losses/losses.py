"""Module 04: Losses, the single number that says how wrong a model is.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
Every loss computes with NumPy on the arrays inside the Tensors (`.data`) and returns a scalar Tensor (shape ()).
Module 06 (Autograd) adds the gradients later without you rewriting this file.
"""
import numpy as np

from tinytorch.core.tensor import Tensor

EPS = 1e-7  # binary cross-entropy clips probabilities into [EPS, 1 - EPS] so log() never sees 0


def log_softmax(x, dim=-1):
    """log(softmax(x)) along `dim`, finite for any logits: shifted - log(sum(exp(shifted))), shifted = x - max."""
    x = _array(x)
    # TODO 4.1: subtract the largest value along `dim` (keepdims=True, so each row gets its own maximum), then
    # return shifted - log(sum(exp(shifted))) over `dim` as a Tensor. The shift cancels out in exact maths, but
    # in float32 exp(89) is already inf: without it, large logits give inf - inf = nan.
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=dim, keepdims=True)
    return Tensor(shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True)))
    ### END SOLUTION


class Loss:
    """Base class: calling a loss, loss(predictions, targets), runs its forward(predictions, targets)."""

    def forward(self, predictions, targets):
        raise NotImplementedError(f"{type(self).__name__} must define forward(predictions, targets)")

    def __call__(self, predictions, targets):
        # Looked up on the instance at call time, so module 06 can wrap forward with autograd.
        return self.forward(predictions, targets)

    def parameters(self):
        return []  # a loss has no weights to learn


class MSELoss(Loss):
    """Mean squared error, mean((predictions - targets) ** 2): the loss for regression."""

    def forward(self, predictions, targets):
        p, t = _same_shape(_array(predictions), _array(targets))
        # TODO 4.2: the mean over every element of the squared difference, returned as a scalar Tensor.
        ### BEGIN SOLUTION
        return Tensor(np.mean((p - t) ** 2))
        ### END SOLUTION


class CrossEntropyLoss(Loss):
    """Cross-entropy for classification: -mean over the batch of log_softmax(logits)[i, target_i].

    logits: (N, C) raw scores, one row per example; targets: (N,) class ids in 0..C-1, either an integer
    NumPy array or a Tensor (whose float32 data holds the ids, as a DataLoader's label batch does).
    """

    def forward(self, logits, targets):
        logits = _array(logits)
        ids = _class_ids(targets, logits)
        # TODO 4.3: take log_softmax of the logits over the classes (the last dim), pick each row's
        # log-probability of its own target class (rows np.arange(N), columns `ids`), and return minus
        # their mean as a scalar Tensor.
        ### BEGIN SOLUTION
        log_probs = log_softmax(logits, dim=-1).data
        picked = log_probs[np.arange(len(ids)), ids]
        return Tensor(-np.mean(picked))
        ### END SOLUTION


class BinaryCrossEntropyLoss(Loss):
    """Binary cross-entropy on probabilities p (a sigmoid's output) and targets t in {0, 1}:
    -mean(t * log(p) + (1 - t) * log(1 - p)).
    """

    def forward(self, predictions, targets):
        p, t = _same_shape(_array(predictions), _array(targets))
        # TODO 4.4: clip p into [EPS, 1 - EPS] first (log(0) is -inf, and 0 * -inf is nan), then return the
        # mean binary cross-entropy as a scalar Tensor.
        ### BEGIN SOLUTION
        p = np.clip(p, EPS, 1 - EPS)
        return Tensor(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
        ### END SOLUTION


# --- helpers (given) ---------------------------------------------------------------------------------------
def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def _same_shape(predictions, targets):
    """Targets reshaped like the predictions. Without this, a model's (N, 1) output against (N,) targets
    broadcasts to an (N, N) grid of differences and gives a silently wrong loss."""
    if targets.shape != predictions.shape:
        if targets.size != predictions.size:
            raise ValueError(f"predictions {predictions.shape} and targets {targets.shape} "
                             "hold different numbers of values")
        targets = targets.reshape(predictions.shape)
    return predictions, targets


def _class_ids(targets, logits):
    """Integer class ids, shape (N,), from an integer array or a float32 Tensor, checked against logits (N, C)."""
    if logits.ndim != 2:
        raise ValueError(f"CrossEntropyLoss wants logits shaped (N, C), got {logits.shape}")
    ids = np.asarray(targets.data if isinstance(targets, Tensor) else targets).reshape(-1)
    n, classes = logits.shape
    if len(ids) != n:
        raise ValueError(f"{n} rows of logits but {len(ids)} targets")
    if np.any(ids != np.round(ids)) or np.any(ids < 0) or np.any(ids >= classes):
        raise ValueError(f"targets must be class ids in 0..{classes - 1}, got {ids.tolist()[:10]}")
    return ids.astype(np.int64)
