"""Tests for module 04. Expected values come from NumPy formulas in float64 and hand-worked numbers."""
import math

import numpy as np
import pytest

from tinytorch.core.losses import BinaryCrossEntropyLoss, CrossEntropyLoss, MSELoss, log_softmax
from tinytorch.core.tensor import Tensor


def logsumexp64(x, axis):
    """log(sum(exp(x))) in float64 with the max shift: the independent reference."""
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=axis, keepdims=True)
    return m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def value(loss):
    """The float inside a scalar loss Tensor, after checking it is one."""
    assert isinstance(loss, Tensor), f"a loss must return a Tensor, got {type(loss).__name__}"
    assert loss.shape == (), f"a loss must be a scalar Tensor of shape (), got shape {loss.shape}"
    return float(loss.data)


# --- 4.1 log_softmax -----------------------------------------------------------------------------------------
@pytest.mark.exercise("4.1")
def test_log_softmax_matches_formula():
    x = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
    out = log_softmax(Tensor(x))
    assert isinstance(out, Tensor), f"log_softmax must return a Tensor, got {type(out).__name__}"
    assert out.shape == (4, 5), f"log_softmax must keep the input's shape (4, 5), got {out.shape}"
    expected = x - logsumexp64(x, axis=-1)
    assert np.allclose(out.data, expected, atol=1e-5), "log_softmax differs from x - log(sum(exp(x))) per row"


@pytest.mark.exercise("4.1")
def test_log_softmax_rows_are_log_probabilities():
    x = np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32) * 3
    probs = np.exp(log_softmax(Tensor(x)).data.astype(np.float64))
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-5), \
        f"exp(log_softmax) must sum to 1 in every row, got row sums {probs.sum(axis=-1)}: sum over dim only"


@pytest.mark.exercise("4.1")
def test_log_softmax_large_logits_stay_finite():
    out = log_softmax(Tensor([[1000.0, 1001.0, 1002.0]])).data
    assert np.all(np.isfinite(out)), f"logits near 1000 gave {out}: subtract the row maximum before exp()"
    # log(1 + e + e^2) = 2.40760596, worked by hand
    assert np.allclose(out, [[-2.40760596, -1.40760596, -0.40760596]], atol=1e-4), f"got {out}"


@pytest.mark.exercise("4.1")
def test_log_softmax_shifts_each_row_by_its_own_max():
    out = log_softmax(Tensor([[1000.0, 1001.0], [0.0, 1.0]])).data
    assert np.all(np.isfinite(out)), \
        f"a row far below another gave {out}: use each row's own max (keepdims=True), not the global max"
    assert np.allclose(out[1], out[0], atol=1e-5), "rows [1000, 1001] and [0, 1] must have equal log_softmax"


@pytest.mark.exercise("4.1")
def test_log_softmax_along_dim0():
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    out = log_softmax(Tensor(x), dim=0).data
    assert np.allclose(out, x - logsumexp64(x, axis=0), atol=1e-5), "log_softmax(x, dim=0) must normalise columns"


# --- 4.2 MSELoss ---------------------------------------------------------------------------------------------
@pytest.mark.exercise("4.2")
def test_mse_hand_worked():
    loss = MSELoss()(Tensor([1.0, 2.0, 3.0]), Tensor([1.0, 1.0, 1.0]))
    # squared errors 0, 1, 4: their mean is 5/3
    assert math.isclose(value(loss), 5 / 3, rel_tol=1e-6), f"expected (0 + 1 + 4) / 3 = 1.6667, got {value(loss)}"


@pytest.mark.exercise("4.2")
def test_mse_matches_numpy_on_a_batch():
    rng = np.random.default_rng(3)
    p, t = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    expected = np.mean((p.astype(np.float64) - t) ** 2)
    got = value(MSELoss()(Tensor(p), Tensor(t)))
    assert math.isclose(got, expected, rel_tol=1e-5), \
        f"expected the mean of all 12 squared errors, {expected:.6f}, got {got:.6f}"


@pytest.mark.exercise("4.2")
def test_mse_column_predictions_against_flat_targets():
    p, t = np.array([[1.0], [2.0], [4.0]], np.float32), np.array([1.0, 2.0, 3.0], np.float32)
    got = value(MSELoss()(Tensor(p), Tensor(t)))
    assert math.isclose(got, 1 / 3, rel_tol=1e-6), \
        f"(3, 1) predictions against (3,) targets must pair them up (loss 1/3), got {got}: an (N, N) grid?"


# --- 4.3 CrossEntropyLoss ------------------------------------------------------------------------------------
@pytest.mark.exercise("4.3")
def test_cross_entropy_uniform_logits_give_log_classes():
    got = value(CrossEntropyLoss()(Tensor(np.zeros((2, 4), np.float32)), np.array([1, 3])))
    assert math.isclose(got, math.log(4), rel_tol=1e-5), \
        f"equal logits over 4 classes must cost log(4) = 1.3863 per example, got {got}"


@pytest.mark.exercise("4.3")
def test_cross_entropy_matches_formula():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 5)).astype(np.float32) * 2
    targets = np.array([0, 4, 2, 2, 1, 3])
    log_probs = logits - logsumexp64(logits, axis=1)
    expected = -np.mean(log_probs[np.arange(6), targets])
    got = value(CrossEntropyLoss()(Tensor(logits), targets))
    assert math.isclose(got, expected, rel_tol=1e-5), \
        f"expected -mean(log_softmax[i, target_i]) = {expected:.6f}, got {got:.6f}"


@pytest.mark.exercise("4.3")
def test_cross_entropy_accepts_tensor_targets():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.2]], np.float32)
    from_ints = value(CrossEntropyLoss()(Tensor(logits), np.array([0, 1])))
    from_tensor = value(CrossEntropyLoss()(Tensor(logits), Tensor([0.0, 1.0])))
    expected = -np.mean([logits[0, 0] - logsumexp64(logits[0], 0)[0], logits[1, 1] - logsumexp64(logits[1], 0)[0]])
    assert math.isclose(from_ints, expected, rel_tol=1e-5), f"expected {expected:.6f}, got {from_ints:.6f}"
    assert math.isclose(from_tensor, from_ints, rel_tol=1e-6), \
        f"a float32 Tensor of class ids gave {from_tensor}, integer ids gave {from_ints}: they must agree"


@pytest.mark.exercise("4.3")
def test_cross_entropy_large_logits():
    logits = Tensor([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]])
    confident_right = value(CrossEntropyLoss()(logits, np.array([0, 0])))
    confident_wrong = value(CrossEntropyLoss()(logits, np.array([1, 1])))
    assert math.isfinite(confident_right) and math.isfinite(confident_wrong), \
        f"logits of +-1000 gave {confident_right}, {confident_wrong}: build on the stable log_softmax"
    assert abs(confident_right) < 1e-4, f"a confident correct prediction must cost about 0, got {confident_right}"
    assert math.isclose(confident_wrong, 1000.0, rel_tol=1e-4), \
        f"missing the right class by a margin of 1000 must cost 1000, got {confident_wrong}"


@pytest.mark.exercise("4.3")
def test_cross_entropy_is_a_mean_over_the_batch():
    one = np.array([[3.0, 1.0, 0.0]], np.float32)
    single = value(CrossEntropyLoss()(Tensor(one), np.array([1])))
    repeated = value(CrossEntropyLoss()(Tensor(np.repeat(one, 4, axis=0)), np.array([1, 1, 1, 1])))
    assert math.isclose(single, repeated, rel_tol=1e-5), \
        f"4 copies of one example must cost the same as one ({single:.4f}), got {repeated:.4f}: mean, not sum"


# --- 4.4 BinaryCrossEntropyLoss ------------------------------------------------------------------------------
@pytest.mark.exercise("4.4")
def test_bce_hand_worked():
    got = value(BinaryCrossEntropyLoss()(Tensor([0.8, 0.8]), Tensor([1.0, 0.0])))
    expected = (-math.log(0.8) - math.log(0.2)) / 2  # 0.2231 for the right guess, 1.6094 for the wrong one
    assert math.isclose(got, expected, rel_tol=1e-5), f"expected (-log 0.8 - log 0.2) / 2 = {expected:.5f}, got {got}"


@pytest.mark.exercise("4.4")
def test_bce_matches_formula():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, size=(5, 2)).astype(np.float32)
    t = (rng.uniform(size=(5, 2)) > 0.5).astype(np.float32)
    p64 = p.astype(np.float64)
    expected = -np.mean(t * np.log(p64) + (1 - t) * np.log(1 - p64))
    got = value(BinaryCrossEntropyLoss()(Tensor(p), Tensor(t)))
    assert math.isclose(got, expected, rel_tol=1e-5), f"expected {expected:.6f}, got {got:.6f}"


@pytest.mark.exercise("4.4")
def test_bce_probabilities_of_exactly_zero_and_one():
    wrong = value(BinaryCrossEntropyLoss()(Tensor([0.0, 1.0]), Tensor([1.0, 0.0])))
    right = value(BinaryCrossEntropyLoss()(Tensor([0.0, 1.0]), Tensor([0.0, 1.0])))
    assert math.isfinite(wrong) and math.isfinite(right), \
        f"p of exactly 0 and 1 gave {wrong}, {right}: clip p into [1e-7, 1 - 1e-7] before the logs"
    assert 15.0 < wrong < 17.0, f"certain and wrong must cost about -log(1e-7) = 16.1, got {wrong}"
    assert 0.0 <= right < 1e-5, f"certain and right must cost about 0, got {right}"


@pytest.mark.exercise("4.4")
def test_bce_is_positive_and_grows_with_the_error():
    losses = [value(BinaryCrossEntropyLoss()(Tensor([p]), Tensor([1.0]))) for p in (0.9, 0.5, 0.1)]
    assert losses[0] > 0, f"a loss is never negative, got {losses[0]} for p=0.9, t=1: check the minus sign"
    assert losses[0] < losses[1] < losses[2], \
        f"for t=1 the loss must grow as p falls 0.9 -> 0.5 -> 0.1, got {losses}: log(p) goes with t, log(1-p) with 1-t"


# --- the contract with later modules -------------------------------------------------------------------------
@pytest.mark.exercise("4.2")
def test_call_runs_forward():
    class Doubled(MSELoss):
        def forward(self, predictions, targets):
            return super().forward(predictions, targets) * 2

    got = value(Doubled()(Tensor([2.0]), Tensor([0.0])))
    assert math.isclose(got, 8.0), f"loss(p, t) must run self.forward(p, t) (module 06 wraps it), got {got}"
