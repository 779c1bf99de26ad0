"""Tests for module 08 (Training). Expected values come from the formulas worked out with NumPy and by hand (a
linear model's SGD steps, cross-entropy of known logits), never from a reference implementation."""
import math

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss, MSELoss
from tinytorch.core.optimizers import SGD
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (CosineSchedule, Trainer, accuracy, clip_grad_norm, load_checkpoint,
                                     save_checkpoint)
from tinytorch.data.loader import DataLoader, TensorDataset


def linear(weight, bias):
    """A Linear layer with the given weight (in, out) and bias (out,)."""
    weight = np.array(weight, dtype=np.float32)
    layer = Linear(*weight.shape)
    layer.weight.data[...] = weight
    layer.bias.data[...] = np.array(bias, dtype=np.float32)
    return layer


def loader(x, y, batch_size):
    return DataLoader(TensorDataset(np.array(x, dtype=np.float32), np.array(y, dtype=np.float32)),
                      batch_size=batch_size)


def cross_entropy(logits, ids):
    """Mean cross-entropy of float64 logits (N, C) against class ids, with NumPy."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(ids)), ids].mean()


def blobs(n=64, seed=0):
    """Two well separated Gaussian blobs in 2-D, labels 0 and 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    points = rng.normal(scale=0.7, size=(n, 2)) + np.where(labels[:, None] == 1, 2.0, -2.0)
    return points.astype(np.float32), labels


# --- 8.1 cosine schedule -----------------------------------------------------------------------------------------

@pytest.mark.exercise("8.1")
def test_cosine_schedule_endpoints_and_midpoint():
    s = CosineSchedule(max_lr=0.1, min_lr=0.001, total_epochs=10)
    assert math.isclose(s.get_lr(0), 0.1, rel_tol=1e-6), f"epoch 0 should give max_lr 0.1, got {s.get_lr(0)}"
    assert math.isclose(s.get_lr(10), 0.001, rel_tol=1e-6), f"the last epoch should give min_lr 0.001, got {s.get_lr(10)}"
    assert math.isclose(s.get_lr(5), 0.0505, rel_tol=1e-6), (
        f"halfway, cos(pi/2) = 0, so the rate is the average of max and min, 0.0505; got {s.get_lr(5)}")


@pytest.mark.exercise("8.1")
def test_cosine_schedule_shape_and_clamp():
    s = CosineSchedule(max_lr=1.0, min_lr=0.0, total_epochs=8)
    assert math.isclose(s.get_lr(2), (1 + math.cos(math.pi / 4)) / 2, rel_tol=1e-6), (
        f"a quarter of the way: (1 + cos(pi/4)) / 2 = 0.8536, got {s.get_lr(2)}")
    rates = [s.get_lr(e) for e in range(9)]
    assert all(a > b for a, b in zip(rates, rates[1:])), f"the rate should fall every epoch: {rates}"
    assert math.isclose(s.get_lr(12), 0.0, abs_tol=1e-9), f"after total_epochs stay at min_lr, got {s.get_lr(12)}"


# --- 8.2 gradient clipping -------------------------------------------------------------------------------------------

def params_with_grads():
    a, b, c = Tensor([1.0], requires_grad=True), Tensor([[1.0, 1.0]], requires_grad=True), Tensor([2.0])
    a.grad, b.grad = Tensor([3.0]), Tensor([[0.0, 4.0]])  # global norm sqrt(9 + 16) = 5; c has no gradient
    return a, b, c


@pytest.mark.exercise("8.2")
def test_clip_grad_norm_scales_all_gradients_together():
    a, b, c = params_with_grads()
    norm = clip_grad_norm([a, b, c], max_norm=1.0)
    assert math.isclose(norm, 5.0, rel_tol=1e-5), f"the global norm of gradients 3 and 4 is 5, got {norm}"
    assert np.allclose(a.grad.data, [0.6], atol=1e-5) and np.allclose(b.grad.data, [[0.0, 0.8]], atol=1e-5), (
        "every gradient should be multiplied by the same factor 1/5, giving 0.6 and 0.8; got "
        f"{a.grad.data.tolist()} and {b.grad.data.tolist()}")


@pytest.mark.exercise("8.2")
def test_clip_grad_norm_leaves_small_gradients_alone():
    a, b, c = params_with_grads()
    norm = clip_grad_norm([a, b, c], max_norm=10.0)
    assert math.isclose(norm, 5.0, rel_tol=1e-5), f"clip_grad_norm should return the norm 5, got {norm}"
    assert np.allclose(a.grad.data, [3.0]) and np.allclose(b.grad.data, [[0.0, 4.0]]), (
        "a norm of 5 is below max_norm 10: the gradients must stay as they are (clipping never scales up)")


@pytest.mark.exercise("8.2")
def test_clip_grad_norm_matches_numpy_on_random_gradients():
    rng = np.random.default_rng(8)
    params = [Tensor(np.zeros(shape), requires_grad=True) for shape in [(4, 3), (3,), (2, 2, 2)]]
    for p in params:
        p.grad = Tensor(rng.normal(size=p.shape))
    flat = np.concatenate([p.grad.data.ravel() for p in params]).astype(np.float64)
    norm = clip_grad_norm(params, max_norm=0.5)
    assert math.isclose(norm, np.linalg.norm(flat), rel_tol=1e-5), (
        f"the global norm is sqrt of the sum of ALL squared gradient elements, {np.linalg.norm(flat):.5f}; got {norm}")
    clipped = np.concatenate([p.grad.data.ravel() for p in params])
    assert math.isclose(np.linalg.norm(clipped), 0.5, rel_tol=1e-4), (
        f"after clipping the global norm should be max_norm 0.5, got {np.linalg.norm(clipped):.5f}")
    assert np.allclose(clipped / np.linalg.norm(clipped), flat / np.linalg.norm(flat), atol=1e-5), (
        "clipping must keep the direction: scale every gradient by the same factor")


# --- 8.3 the training step and epoch ---------------------------------------------------------------------------------

X4 = [[1.0, 2.0], [0.0, 1.0], [2.0, -1.0], [1.0, 1.0]]
Y4 = [[1.0], [0.0], [2.0], [1.0]]


@pytest.mark.exercise("8.3")
def test_train_epoch_takes_one_sgd_step_per_batch():
    model = linear([[0.5], [-0.5]], [0.1])
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    mean_loss = trainer.train_epoch(loader(X4, Y4, batch_size=2))
    # The same two steps with NumPy: for MSE, d/dW = 2 x^T (x W + b - y) / N and d/db = 2 sum(x W + b - y) / N.
    x, y = np.array(X4), np.array(Y4)
    w, b, losses = np.array([[0.5], [-0.5]]), np.array([0.1]), []
    for rows in (slice(0, 2), slice(2, 4)):
        err = x[rows] @ w + b - y[rows]
        losses.append(np.mean(err ** 2))
        w, b = w - 0.1 * 2 * x[rows].T @ err / 2, b - 0.1 * 2 * err.sum(axis=0) / 2
    assert np.allclose(model.weight.data, w, atol=1e-5) and np.allclose(model.bias.data, b, atol=1e-5), (
        f"after two batches the weights should be {w.ravel().round(4).tolist()} and bias {b.round(4).tolist()}, got "
        f"{model.weight.data.ravel().round(4).tolist()} and {model.bias.data.round(4).tolist()}: each batch needs "
        "zero_grad, forward, loss, backward and step, in that order")
    assert math.isclose(mean_loss, np.mean(losses), rel_tol=1e-4), (
        f"train_epoch should return the mean of the batch losses, {np.mean(losses):.5f}, got {mean_loss}")


@pytest.mark.exercise("8.3")
def test_trainer_reduces_the_loss_on_separable_data():
    np.random.seed(0)  # Linear draws its initial weights from np.random
    points, labels = blobs()
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 2))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1, momentum=0.9), CrossEntropyLoss(),
                      scheduler=CosineSchedule(0.1, 0.01, 5))
    data = loader(points, labels, batch_size=16)
    losses = [trainer.train_epoch(data) for _ in range(5)]
    assert all(np.isfinite(losses)), f"the epoch losses should be numbers: {losses}"
    assert losses[-1] < 0.5 * losses[0] and losses[-1] < 0.2, (
        f"on two well separated blobs the loss should fall well below its start; epoch losses {np.round(losses, 3)}")
    assert math.isclose(trainer.optimizer.lr, CosineSchedule(0.1, 0.01, 5).get_lr(4), rel_tol=1e-6), (
        "the fifth epoch should train with the schedule's rate for epoch 4")


@pytest.mark.exercise("8.3")
def test_trainer_clips_the_gradient_norm():
    model = linear([[2.0], [2.0]], [1.0])
    before = [p.data.copy() for p in model.parameters()]
    trainer = Trainer(model, SGD(model.parameters(), lr=1.0), MSELoss(), grad_clip_norm=1e-3)
    trainer.train_epoch(loader([[1.0, 2.0], [3.0, 1.0]], [[-5.0], [-5.0]], batch_size=2))
    moved = math.sqrt(sum(float(np.sum((p.data - b) ** 2)) for p, b in zip(model.parameters(), before)))
    assert 0 < moved <= 1.01e-3, (
        f"with lr 1 and grad_clip_norm 1e-3 the weights may move by at most 1e-3 in total, they moved {moved:.4g}: "
        "clip between backward() and step()")


# --- 8.4 evaluation and accuracy -------------------------------------------------------------------------------------

@pytest.mark.exercise("8.4")
def test_accuracy_for_scores_and_probabilities():
    scores = Tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [5.0, 6.0]])
    assert math.isclose(accuracy(scores, Tensor([0, 1, 1, 1])), 0.75), "argmax predicts 0, 1, 0, 1: 3 of 4 right"
    probs = Tensor([[0.9], [0.2], [0.5], [0.4]])
    assert math.isclose(accuracy(probs, np.array([1, 0, 1, 1])), 0.75), (
        "a single column holds probabilities: predict 1 when p >= 0.5, so 1, 0, 1, 0 against 1, 0, 1, 1 is 3 of 4")


@pytest.mark.exercise("8.4")
def test_evaluate_loss_and_per_example_accuracy():
    model = Sequential(linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]))  # outputs = inputs
    x = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [5.0, 6.0]])
    ids = np.array([0, 1, 1, 1])
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), CrossEntropyLoss())
    loss, acc = trainer.evaluate(loader(x, ids, batch_size=3))  # batches of 3 and 1 examples
    expected_loss = np.mean([cross_entropy(x[:3], ids[:3]), cross_entropy(x[3:], ids[3:])])
    assert math.isclose(acc, 0.75, rel_tol=1e-6), (
        f"3 of 4 examples are right, so accuracy is 0.75, got {acc}: weight each batch by its size "
        "(averaging the batches' accuracies, 2/3 and 1/1, gives 0.83)")
    assert math.isclose(loss, expected_loss, rel_tol=1e-4), f"mean batch loss should be {expected_loss:.5f}, got {loss}"
    assert not model.training, "evaluate should put the model in evaluation mode (model.eval())"
    assert all(p.grad is None for p in model.parameters()), "evaluate must not compute gradients"
    assert np.allclose(model[0].weight.data, np.eye(2)), "evaluate must not change the weights"


@pytest.mark.exercise("8.4")
def test_evaluate_binary_probabilities():
    from tinytorch.core.activations import Sigmoid
    from tinytorch.core.losses import BinaryCrossEntropyLoss
    model = Sequential(linear([[1.0]], [0.0]), Sigmoid())  # p = sigmoid(x)
    x, t = np.array([[2.0], [-1.0], [0.5], [-3.0], [1.0]]), np.array([[1.0], [0.0], [0.0], [1.0], [1.0]])
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), BinaryCrossEntropyLoss())
    loss, acc = trainer.evaluate(loader(x, t, batch_size=5))
    p = 1 / (1 + np.exp(-x))  # 0.88, 0.27, 0.62, 0.05, 0.73: predictions 1, 0, 1, 0, 1 against 1, 0, 0, 1, 1
    expected_loss = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    assert math.isclose(acc, 0.6, rel_tol=1e-6), f"3 of 5 probabilities fall on the right side of 0.5, got {acc}"
    assert math.isclose(loss, expected_loss, rel_tol=1e-4), f"the BCE loss should be {expected_loss:.5f}, got {loss}"


# --- 8.5 checkpoints ----------------------------------------------------------------------------------------------------

@pytest.mark.exercise("8.5")
def test_checkpoint_round_trip(tmp_path):
    np.random.seed(1)
    source = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    target = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))  # different random weights
    path = tmp_path / "model.ckpt"
    save_checkpoint(source, str(path))
    assert path.exists(), "save_checkpoint must write exactly the file it was given (np.savez appends .npz to names)"
    returned = load_checkpoint(target, str(path))
    assert returned is target, "load_checkpoint should return the model"
    for i, (a, b) in enumerate(zip(source.parameters(), target.parameters())):
        assert np.array_equal(a.data, b.data), f"parameter {i} differs after loading the checkpoint"
        assert b.data.dtype == np.float32, f"parameter {i} should stay float32 after loading, got {b.data.dtype}"


@pytest.mark.exercise("8.5")
def test_checkpoint_shape_mismatch_is_an_error(tmp_path):
    path = tmp_path / "small.npz"
    save_checkpoint(Linear(2, 1), str(path))
    bigger = Linear(2, 4)  # (2, 1) -> (2, 4) and (1,) -> (4,) would broadcast silently without a check
    with pytest.raises(ValueError):
        load_checkpoint(bigger, str(path))
