"""Tests for module 16 (Compression). Expected values come from counts and formulas worked out by hand, from
properties any correct implementation has (the pruned weights are the smallest, a pruned model computes what the
full one does without the removed units, the SVD error equals the discarded singular values), from formulas in float64
NumPy and from central finite differences of your own loss (check_gradients); never from a reference
implementation."""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.compression import (KnowledgeDistillation, factorize, from_csr, index_dtype, keep_units,
                                                low_rank_approximate, magnitude_prune, measure_sparsity, sparsify,
                                                structured_prune, to_csr, unit_norms)
from tinytorch.profiling.profiler import Profiler
from tinytorch_wasm.gradcheck import check_gradients

enable_autograd()

RNG = np.random.default_rng(1616)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def mlp(seed=0):
    np.random.seed(seed)
    model = Sequential(Linear(6, 10), ReLU(), Linear(10, 4))
    for layer in (model.layers[0], model.layers[2]):
        layer.bias.data[...] = rand(*layer.bias.shape)
    return model


# --- 16.1 sparsity and magnitude pruning --------------------------------------------------------------------------

@pytest.mark.exercise("16.1")
def test_measure_sparsity_counts_weights_not_biases():
    assert measure_sparsity(np.array([0.0, 1.0, 0.0, -2.0])) == 0.5, "two of four entries are zero: 0.5"
    model = mlp()
    model.layers[0].weight.data[:3] = 0.0  # 3 rows of 10 = 30 zeros among 6*10 + 10*4 = 100 weights
    model.layers[0].bias.data[...] = 0.0   # biases do not count
    got = measure_sparsity(model)
    assert got == pytest.approx(0.3), f"30 zero weights of 100 (biases excluded) is 0.3, got {got}"


@pytest.mark.exercise("16.1")
def test_magnitude_prune_zeroes_exactly_the_smallest_weights():
    model = mlp()
    pruned = magnitude_prune(model, 0.7)
    for before, after in ((model.layers[0], pruned.layers[0]), (model.layers[2], pruned.layers[2])):
        w, p = before.weight.data, after.weight.data
        k = round(0.7 * w.size)
        assert np.count_nonzero(p == 0) == k, f"{k} of {w.size} weights should be zero, got {np.count_nonzero(p == 0)}"
        kept, gone = np.abs(w[p != 0]), np.abs(w[p == 0])
        assert gone.max() <= kept.min(), (
            "the zeroed weights must be the ones of smallest MAGNITUDE (|w|): a large negative weight matters as much "
            "as a large positive one")
        assert np.array_equal(p[p != 0], w[p != 0]), "the kept weights must keep their values"
        assert np.array_equal(after.bias.data, before.bias.data), "magnitude_prune prunes weights, not biases"


@pytest.mark.exercise("16.1")
def test_magnitude_prune_leaves_the_original_and_handles_the_ends():
    model = mlp()
    original = model.layers[0].weight.data.copy()
    all_gone = magnitude_prune(model, 1.0)
    assert np.array_equal(model.layers[0].weight.data, original), "the original model changed: prune a copy"
    assert measure_sparsity(all_gone) == 1.0, "sparsity 1.0 zeroes every weight"
    untouched = magnitude_prune(model, 0.0)
    assert np.array_equal(untouched.layers[0].weight.data, original), "sparsity 0 changes nothing"
    x = Tensor(rand(3, 6))
    assert np.allclose(untouched(x).data, model(x).data), "the pruned copy is called like the model"


# --- 16.2 sparse storage ---------------------------------------------------------------------------------------------

@pytest.mark.exercise("16.2")
def test_csr_by_hand():
    m = np.array([[0, 2, 0, 0], [0, 0, 0, 0], [5, 0, 0, -1]], dtype=np.float32)
    csr = to_csr(m)
    assert csr.values.tolist() == [2.0, 5.0, -1.0], f"the nonzero values row by row are 2, 5, -1; got {csr.values}"
    assert csr.columns.tolist() == [1, 0, 3], f"their columns are 1, 0, 3; got {csr.columns}"
    assert csr.row_starts.tolist() == [0, 1, 1, 3], (
        f"row 0 holds values 0..0, row 1 none, row 2 values 1..2: row_starts [0, 1, 1, 3]; got {csr.row_starts}")
    assert csr.columns.dtype == np.uint8, f"4 columns need only uint8 indices, got {csr.columns.dtype}"
    assert np.array_equal(from_csr(csr), m), "from_csr(to_csr(m)) should give m back"


@pytest.mark.exercise("16.2")
def test_index_dtype_and_csr_bytes():
    assert index_dtype(256) == np.uint8 and index_dtype(257) == np.uint16, "uint8 numbers 256 positions, 0..255"
    assert index_dtype(65536) == np.uint16 and index_dtype(65537) == np.uint32, "uint16 numbers 65,536 positions"
    w = rand(300, 300)
    w[np.abs(w) < 1.6] = 0.0  # about 11 % kept
    csr = to_csr(w)
    nnz = np.count_nonzero(w)
    assert csr.nbytes() == nnz * (4 + 2) + 301 * 4, (
        f"{nnz} values (4 bytes) with uint16 columns (2 bytes) and 301 row starts (int32): {nnz * 6 + 301 * 4} "
        f"bytes, got {csr.nbytes()}")
    assert np.array_equal(from_csr(csr), w), "the round trip through CSR must be exact"


@pytest.mark.exercise("16.2")
def test_sparse_model_is_smaller_and_computes_the_same():
    np.random.seed(2)
    model = Sequential(Linear(64, 64), ReLU(), Linear(64, 10))
    pruned = magnitude_prune(model, 0.9)
    sparse = sparsify(pruned)
    x = Tensor(rand(5, 64))
    assert np.allclose(sparse(x).data, pruned(x).data, atol=1e-5), "the CSR model must compute what the pruned one does"
    profiler = Profiler()
    dense_bytes, sparse_bytes = profiler.model_bytes(pruned), profiler.model_bytes(sparse)
    assert sparse_bytes < 0.25 * dense_bytes, (
        f"at 90 % sparsity with 1-byte column indices the weights should take about 5 bytes per kept weight instead "
        f"of 4 per weight: {sparse_bytes:,} bytes against {dense_bytes:,} dense")


# --- 16.3 structured pruning -----------------------------------------------------------------------------------------

@pytest.mark.exercise("16.3")
def test_unit_norms_and_keep_units_by_hand():
    layer = Linear(2, 3)
    layer.weight.data[...] = [[3.0, 0.0, 1.0], [4.0, 0.5, -1.0]]
    assert np.allclose(unit_norms(layer), [5.0, 0.5, np.sqrt(2)]), (
        f"a Linear's units are its output columns: norms 5, 0.5, sqrt(2); got {unit_norms(layer)}")
    conv = Conv2d(2, 3, 1)
    conv.weight.data[...] = np.array([1.0, 2.0, 3.0]).reshape(3, 1, 1, 1) * np.ones((3, 2, 1, 1))
    assert np.allclose(unit_norms(conv), np.sqrt(2) * np.array([1.0, 2.0, 3.0])), (
        f"a Conv2d's units are its filters (axis 0): norms sqrt(2) * [1, 2, 3]; got {unit_norms(conv)}")
    assert keep_units(np.array([5.0, 0.5, 2.0, 0.1, 3.0]), 0.4).tolist() == [0, 2, 4], (
        "dropping 40 % of 5 units removes the 2 smallest norms (0.5 and 0.1), keeping units 0, 2, 4 in order")
    assert keep_units(np.array([1.0, 2.0]), 1.0).tolist() == [1], "at least one unit always stays"


@pytest.mark.exercise("16.3")
def test_structured_prune_removes_neurons_and_computes_as_without_them():
    model = mlp(3)
    model.layers[0].weight.data[:, [2, 7]] *= 0.01  # two hidden units with tiny weights
    x = rand(8, 6)
    pruned = structured_prune(model, 0.2, x)
    first, second = pruned.layers[0], pruned.layers[2]
    assert first.weight.shape == (6, 8) and first.bias.shape == (8,) and second.weight.shape == (8, 4), (
        f"removing 2 of 10 hidden units gives weights (6, 8) and (8, 4), got {first.weight.shape} and "
        f"{second.weight.shape}")
    keep = [i for i in range(10) if i not in (2, 7)]
    w1, b1 = model.layers[0].weight.data[:, keep], model.layers[0].bias.data[keep]
    expected = np.maximum(x @ w1 + b1, 0) @ model.layers[2].weight.data[keep] + model.layers[2].bias.data
    assert np.allclose(pruned(Tensor(x)).data, expected, atol=1e-5), (
        "the pruned model should compute exactly what the full one does with units 2 and 7 removed")
    assert model.layers[0].weight.shape == (6, 10), "the original model changed"


@pytest.mark.exercise("16.3")
def test_structured_prune_removes_conv_channels_through_pool_and_flatten():
    np.random.seed(4)
    cnn = Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(4 * 2 * 2, 3))
    cnn.layers[0].weight.data[1] *= 0.01  # channel 1 has the smallest filter
    x = rand(2, 1, 4, 4)
    pruned = structured_prune(cnn, 0.25, x)
    assert pruned.layers[0].weight.shape == (3, 1, 3, 3) and pruned.layers[4].weight.shape == (12, 3), (
        f"removing channel 1 of 4 leaves a (3, 1, 3, 3) filter bank and a Linear with 3 * 2 * 2 = 12 inputs; got "
        f"{pruned.layers[0].weight.shape} and {pruned.layers[4].weight.shape}")
    maps = cnn.layers[2](cnn.layers[1](cnn.layers[0](Tensor(x)))).data.copy()
    maps[:, 1] = 0.0  # the full CNN with channel 1 silenced
    expected = cnn.layers[4](Tensor(maps.reshape(2, -1))).data
    assert np.allclose(pruned(Tensor(x)).data, expected, atol=1e-4), (
        "the pruned CNN should compute what the full one does without channel 1 (the Linear's rows of that channel "
        "go too)")


# --- 16.4 low rank ------------------------------------------------------------------------------------------------------

@pytest.mark.exercise("16.4")
def test_low_rank_keeps_the_largest_singular_directions():
    u, _ = np.linalg.qr(RNG.standard_normal((8, 8)))
    v, _ = np.linalg.qr(RNG.standard_normal((6, 6)))
    sigma = np.array([10.0, 5.0, 2.0, 1.0, 0.5, 0.1])
    w = (u[:, :6] * sigma) @ v.T  # (8, 6) with known singular values
    A, B = low_rank_approximate(w, 0.5)
    assert A.shape == (8, 3) and B.shape == (3, 6), f"rank 0.5 * 6 = 3 gives A (8, 3) and B (3, 6), got {A.shape}, {B.shape}"
    error = np.sum((w - A.astype(np.float64) @ B) ** 2)
    assert error == pytest.approx(1.0 + 0.25 + 0.01, rel=1e-3), (
        f"the best rank-3 approximation leaves out singular values 1, 0.5, 0.1: squared error 1.26, got {error:.4f}. "
        "Keep the LARGEST singular values and scale U's columns by them")
    A1, B1 = low_rank_approximate(w, 0.01)
    assert A1.shape == (8, 1), "a tiny ratio still keeps rank 1"
    full_A, full_B = low_rank_approximate(w, 1.0)
    assert np.allclose(full_A @ full_B, w, atol=1e-4), "at full rank the factors reproduce W"


@pytest.mark.exercise("16.4")
def test_a_factorized_model_is_smaller_and_close_at_high_rank():
    np.random.seed(7)
    model = Sequential(Linear(40, 30), ReLU())
    u, _ = np.linalg.qr(RNG.standard_normal((40, 40)))
    v, _ = np.linalg.qr(RNG.standard_normal((30, 30)))
    model.layers[0].weight.data[...] = (u[:, :30] * 0.5 ** np.arange(30)) @ v.T  # fast-falling singular values
    factored = factorize(model, 0.25)  # rank 8 of 30: 8 * (40 + 30) = 560 numbers instead of 1,200
    first = factored.layers[0]
    assert isinstance(first, Sequential) and first.layers[0].weight.shape == (40, 8), (
        f"Linear(40, 30) at rank ratio 0.25 should become Linear(40, 8) then Linear(8, 30), got {first!r}")
    assert Profiler().count_parameters(factored) < Profiler().count_parameters(model), "factorising should save numbers"
    x = Tensor(rand(6, 40))
    assert np.allclose(factored(x).data, model(x).data, atol=1e-2), (
        "with singular values falling by half each, rank 8 should reproduce the layer almost exactly")


# --- 16.5 distillation ----------------------------------------------------------------------------------------------------

def distillation64(s, t, y, T, alpha):
    """The distillation loss in float64: alpha * T^2 * KL(p_t || p_s) + (1 - alpha) * CE(s, y)."""
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    pt = np.exp(log_softmax(t / T))
    kl = np.mean(np.sum(pt * (log_softmax(t / T) - log_softmax(s / T)), axis=1))
    ce = -np.mean(log_softmax(s)[np.arange(len(y)), y])
    return alpha * T * T * kl + (1 - alpha) * ce


@pytest.mark.exercise("16.5")
def test_distillation_loss_matches_the_formula():
    s, t, y = rand(5, 4, scale=2.0), rand(5, 4, scale=2.0), np.array([0, 3, 1, 2, 3])
    for T, alpha in ((1.0, 0.5), (4.0, 0.7), (2.0, 1.0), (3.0, 0.0)):
        kd = KnowledgeDistillation(teacher=None, student=None, temperature=T, alpha=alpha)
        got = float(kd.loss(Tensor(s), Tensor(t), y).data)
        expected = distillation64(s.astype(np.float64), t.astype(np.float64), y, T, alpha)
        assert got == pytest.approx(expected, rel=1e-4, abs=1e-5), (
            f"T={T}, alpha={alpha}: expected alpha * T^2 * KL(p_teacher || p_student) + (1 - alpha) * CE = "
            f"{expected:.5f}, got {got:.5f}")
    huge = KnowledgeDistillation(None, None, 2.0, 0.5).loss(Tensor([[1e4, 0.0]]), Tensor([[0.0, 1e4]]), [0])
    assert np.isfinite(huge.data), "logits of 10,000 must not overflow: use log-softmax with the max subtracted"


@pytest.mark.exercise("16.5")
def test_distillation_gradient_matches_finite_differences():
    t, y = rand(3, 4, scale=2.0), np.array([1, 0, 3])
    for T, alpha in ((3.0, 0.6), (5.0, 1.0)):
        kd = KnowledgeDistillation(None, None, temperature=T, alpha=alpha)
        s = Tensor(rand(3, 4, scale=2.0), requires_grad=True)
        check_gradients(lambda s: kd.loss(s, Tensor(t), y), [s], f"the distillation loss at T={T}, alpha={alpha}",
                        atol=1e-3, eps=1e-3)


class Watched(Linear):
    """A Linear that remembers whether autograd recorded its outputs."""

    recorded = None

    def forward(self, x):
        out = super().forward(x)
        self.recorded = bool(out.requires_grad)
        return out


@pytest.mark.exercise("16.5")
def test_distilling_trains_the_student_only():
    np.random.seed(5)
    teacher, student = mlp(6), Sequential(Linear(6, 3), ReLU(), Linear(3, 4))
    watched = Watched(10, 4)
    watched.weight.data[...], watched.bias.data[...] = teacher.layers[2].weight.data, teacher.layers[2].bias.data
    teacher.layers[2] = watched
    kd = KnowledgeDistillation(teacher, student, temperature=2.0, alpha=0.5)
    x, y = Tensor(rand(7, 6)), np.array([0, 1, 2, 3, 0, 1, 2])
    loss = kd(x, y)
    assert watched.recorded is False, (
        "the teacher's forward pass built an autograd graph: run it inside no_grad(), it is not being trained")
    expected = distillation64(student(x).data.astype(np.float64), teacher(x).data.astype(np.float64), y, 2.0, 0.5)
    assert float(loss.data) == pytest.approx(expected, rel=1e-4), "kd(x, y) should be loss(student(x), teacher(x), y)"
    loss.backward()
    assert all(p.grad is not None for p in student.parameters()), "every student weight should get a gradient"
    assert all(p.grad is None for p in teacher.parameters()), "the teacher's weights must get no gradient"
    assert kd.parameters() == student.parameters(), "kd.parameters() are the student's, for the optimizer"
