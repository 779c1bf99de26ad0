"""Module 08: Training, the loop that turns a model, a loss and an optimizer into a trained model.

One training step is: forward, loss, zero_grad, backward, (clip), step. A Trainer repeats it over every batch of a
DataLoader (an epoch), adjusts the learning rate between epochs with a schedule, and evaluates on data it does
not learn from. Checkpoints save the weights to a file and load them back.

The Trainer calls enable_autograd() (module 06) itself, so gradients are on whenever you train.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import math

import numpy as np

from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.tensor import Tensor


# --- 8.1 learning-rate schedule ----------------------------------------------------------------------------------

class CosineSchedule:
    """Learning rate falling from max_lr at epoch 0 to min_lr at epoch total_epochs along half a cosine wave:

        lr(epoch) = min_lr + (max_lr - min_lr) * (1 + cos(pi * epoch / total_epochs)) / 2

    Large steps early, to cover ground; small steps late, to settle into a minimum.
    """

    def __init__(self, max_lr, min_lr, total_epochs):
        if total_epochs < 1:
            raise ValueError(f"total_epochs must be at least 1, got {total_epochs}")
        self.max_lr, self.min_lr, self.total_epochs = max_lr, min_lr, total_epochs

    def get_lr(self, epoch):
        # TODO 8.1: the formula above (math.cos, math.pi); epochs past total_epochs stay at min_lr.
        ### BEGIN SOLUTION
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
        ### END SOLUTION


# --- 8.2 gradient clipping -----------------------------------------------------------------------------------------

def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most max_norm; return the norm BEFORE clipping.

    The global norm is sqrt(sum of every gradient element squared) over all parameters. Scaling every gradient
    by the same factor keeps the step's direction and only shortens it, which stops one bad batch from
    throwing the weights far away (exploding gradients).
    """
    grads = [p.grad.data for p in params if p.grad is not None]
    # TODO 8.2: compute the global norm (sum the squares in float64: float32 sums of many squares lose digits);
    # when it exceeds max_norm multiply every gradient array IN PLACE by max_norm / (norm + 1e-6).
    # Return the norm as a Python float.
    ### BEGIN SOLUTION
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
    ### END SOLUTION


# --- 8.3 and 8.4 the Trainer ---------------------------------------------------------------------------------------

def accuracy(outputs, targets):
    """The fraction of examples classified correctly.

    outputs (N, C) with C > 1 are class scores: the prediction is the column with the largest score. A single
    column, (N, 1) or (N,), holds probabilities (a sigmoid's output, as BinaryCrossEntropyLoss expects): the
    prediction is 1 when the probability is at least 0.5. targets hold the N true class ids (a Tensor or array).
    """
    scores = outputs.data if isinstance(outputs, Tensor) else np.asarray(outputs)
    labels = np.asarray(targets.data if isinstance(targets, Tensor) else targets).reshape(-1)
    # TODO 8.4: predictions as described above, then the mean of (predictions == labels).
    ### BEGIN SOLUTION
    if scores.ndim > 1 and scores.shape[-1] > 1:
        predictions = scores.argmax(axis=-1)
    else:
        predictions = (scores.reshape(-1) >= 0.5).astype(np.int64)
    return float(np.mean(predictions == labels))
    ### END SOLUTION


def _set_training(model, mode):
    """model.train(mode) for a Layer (Dropout behaves differently in training); nothing for a plain callable."""
    train = getattr(model, "train", None)
    if callable(train):
        train(mode)


class Trainer:
    """Trains `model` with `optimizer` on `loss_fn(model(x), y)`.

        trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss(),
                          scheduler=CosineSchedule(0.1, 0.001, 20), grad_clip_norm=1.0)
        for epoch in range(20):
            train_loss = trainer.train_epoch(train_loader)
            val_loss, val_accuracy = trainer.evaluate(val_loader)
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None):
        enable_autograd()  # training needs gradients; safe to call again
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.epoch = 0  # epochs completed: the schedule's input
        self.history = {"train_loss": [], "lr": []}

    def train_epoch(self, loader):
        """One pass over `loader`, one optimizer step per batch (x, y). Returns the mean of the batch losses."""
        _set_training(self.model, True)
        if self.scheduler is not None:
            self.optimizer.lr = self.scheduler.get_lr(self.epoch)
        losses = []
        for x, y in loader:
            # TODO 8.3: one training step: clear the old gradients (optimizer.zero_grad()), compute the loss of
            # model(x) against y, backpropagate it, clip the gradients of self.optimizer.params to
            # self.grad_clip_norm when that is not None, and let the optimizer step. Append float(loss.data).
            ### BEGIN SOLUTION
            self.optimizer.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            if self.grad_clip_norm is not None:
                clip_grad_norm(self.optimizer.params, self.grad_clip_norm)
            self.optimizer.step()
            losses.append(float(loss.data))
            ### END SOLUTION
        self.epoch += 1
        mean_loss = float(np.mean(losses)) if losses else float("nan")
        self.history["train_loss"].append(mean_loss)
        self.history["lr"].append(self.optimizer.lr)
        return mean_loss

    def evaluate(self, loader):
        """(mean batch loss, accuracy) over `loader`, in evaluation mode, without recording a graph or learning."""
        _set_training(self.model, False)
        losses, correct, count = [], 0.0, 0
        # TODO 8.4: inside `with no_grad():` (no backward follows, so keep no graph), for every batch compute the
        # model's outputs, append the loss as a float, and add accuracy(outputs, y) * batch size to `correct`
        # and the batch size (len(outputs.data)) to `count`, so the accuracy is per example, not per batch.
        ### BEGIN SOLUTION
        with no_grad():
            for x, y in loader:
                outputs = self.model(x)
                losses.append(float(self.loss_fn(outputs, y).data))
                n = len(outputs.data)
                correct += accuracy(outputs, y) * n
                count += n
        ### END SOLUTION
        return float(np.mean(losses)), correct / max(count, 1)


# --- 8.5 checkpoints --------------------------------------------------------------------------------------------------

def save_checkpoint(model, path):
    """Write the values of model.parameters(), in order, to the file `path` (NumPy's .npz format)."""
    # TODO 8.5: a dict {"param_0": first parameter's data, "param_1": ..., ...} saved with np.savez. Open the file
    # yourself (with open(path, "wb") as f: np.savez(f, **arrays)): given a file name, np.savez appends ".npz"
    # unless the name already ends with it, and the checkpoint would not be where the caller looks.
    ### BEGIN SOLUTION
    arrays = {f"param_{i}": p.data for i, p in enumerate(model.parameters())}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    ### END SOLUTION


def load_checkpoint(model, path):
    """Copy the values saved at `path` into model.parameters() (the same architecture), and return the model."""
    params = model.parameters()
    with np.load(path) as saved:
        # TODO 8.5: check there is one saved array per parameter and that each "param_i" has parameter i's shape
        # (raise a ValueError naming the mismatch: loading into a different architecture is a common slip), then
        # copy each into the parameter's data IN PLACE (p.data[...] = value), so an optimizer holding the
        # parameters keeps working with the loaded values.
        ### BEGIN SOLUTION
        if len(saved.files) != len(params):
            raise ValueError(f"the checkpoint holds {len(saved.files)} arrays but the model has {len(params)} parameters")
        for i, p in enumerate(params):
            value = saved[f"param_{i}"]
            if value.shape != p.shape:
                raise ValueError(f"parameter {i} has shape {p.shape} but the checkpoint holds {value.shape}")
            p.data[...] = value
        ### END SOLUTION
    return model
