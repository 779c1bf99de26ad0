"""Tests for module 11 (Embeddings). Lookups are compared with rows picked by hand, gradients with central finite
differences of the forward pass and with sums worked out by hand, the sinusoids with Python's math module; never
with a reference implementation."""
import math

import numpy as np
import pytest

from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor
from tinytorch_wasm.gradcheck import check_gradients
from tinytorch.text.embeddings import (Embedding, EmbeddingBackward, PositionalEncoding, PositionalEncodingBackward,
                                       sinusoidal_encoding)

enable_autograd()

RNG = np.random.default_rng(1111)
IDS = np.array([[1, 3, 1, 4], [0, 1, 3, 3]])  # repeated ids: 1 three times, 3 three times


def rand(*shape):
    return np.asarray(RNG.uniform(-1.0, 1.0, size=shape), dtype=np.float32)


def embedding(vocab_size=5, embed_dim=3):
    emb = Embedding(vocab_size, embed_dim)
    emb.weight.data[...] = rand(vocab_size, embed_dim)
    return emb


# --- 11.1 the lookup -----------------------------------------------------------------------------------------

@pytest.mark.exercise("11.1")
def test_table_shape_dtype_and_scale():
    np.random.seed(0)
    emb = Embedding(1000, 64)
    w = emb.weight
    assert isinstance(emb, Layer), "Embedding should subclass Layer (module 03)"
    assert isinstance(w, Tensor) and w.shape == (1000, 64), f"weight should be a (1000, 64) Tensor, got {w!r}"
    assert w.data.dtype == np.float32, f"weight should be float32, got {w.data.dtype}"
    assert w.requires_grad, "the table is learned: create it with requires_grad=True"
    assert emb.parameters() == [w], "parameters() should be [weight]"
    assert abs(w.data.std() * math.sqrt(64) - 1) < 0.05, (
        f"weights should be randn * sqrt(1 / embed_dim), std {1 / 8:.3f}; got std {w.data.std():.3f}")


@pytest.mark.exercise("11.1")
def test_lookup_returns_the_rows_of_the_ids():
    emb = embedding()
    w = emb.weight.data.copy()
    out = emb(IDS)
    assert isinstance(out, Tensor), f"forward should return a Tensor, got {type(out).__name__}"
    assert out.shape == (2, 4, 3), f"ids of shape (2, 4) should give (2, 4, embed_dim=3), got {out.shape}"
    assert out.data.dtype == np.float32, f"the output should be float32, got {out.data.dtype}"
    for b in range(2):
        for t in range(4):
            assert np.array_equal(out.data[b, t], w[IDS[b, t]]), (
                f"out[{b}, {t}] should be row {IDS[b, t]} of the table, got {out.data[b, t]}")


@pytest.mark.exercise("11.1")
@pytest.mark.parametrize("ids, shape", [
    (3, (3,)),
    ([4, 0, 4], (3, 3)),
    (np.array([[2], [1]], dtype=np.int32), (2, 1, 3)),
    (Tensor([[1, 2], [3, 4]]), (2, 2, 3)),            # a Tensor of ids holds float32: still whole numbers
    (np.zeros((2, 2, 2), dtype=np.int64), (2, 2, 2, 3)),
], ids=["scalar", "list", "int32-column", "tensor", "3-d"])
def test_lookup_accepts_ids_of_any_shape_and_type(ids, shape):
    emb = embedding()
    out = emb(ids)
    assert out.shape == shape, f"ids {np.shape(getattr(ids, 'data', ids))} should give shape {shape}, got {out.shape}"
    flat = np.asarray(getattr(ids, "data", ids)).astype(int).reshape(-1)
    assert np.array_equal(out.data.reshape(-1, 3), emb.weight.data[flat]), "the rows looked up are wrong"


@pytest.mark.exercise("11.1")
@pytest.mark.parametrize("bad", [[0, 5], [-1, 2], 7], ids=["vocab-size", "minus-one", "scalar"])
def test_ids_outside_the_vocabulary_are_refused(bad):
    emb = embedding()
    with pytest.raises(ValueError) as error:
        emb(bad)
    assert "5" in str(error.value), (
        f"the error should name the vocabulary size (5) so the mismatch can be found; it said {error.value}")


# --- 11.2 backward: repeated ids accumulate ------------------------------------------------------------------

@pytest.mark.exercise("11.2")
def test_embedding_backward_adds_every_occurrence():
    weight = Tensor(np.zeros((5, 2)), requires_grad=True)
    ids = np.array([1, 3, 1, 1])
    g = np.array([[1, 2], [10, 20], [100, 200], [1000, 2000]], dtype=np.float32)
    (grad,) = EmbeddingBackward(weight, ids).apply(g)
    want = np.zeros((5, 2))
    want[1] = [1101, 2202]   # positions 0, 2 and 3 used row 1
    want[3] = [10, 20]
    assert np.shape(grad) == (5, 2), f"the gradient should have the table's shape (5, 2), got {np.shape(grad)}"
    assert np.array_equal(grad, want), (
        f"row 1 was used three times and should get 1 + 100 + 1000 = 1101 (and 2202); got\n{grad}\n"
        "grad[ids] += g keeps only one of the repeats: use np.add.at")


@pytest.mark.exercise("11.2")
def test_forward_records_one_embedding_backward():
    emb = embedding()
    out = emb(IDS)
    assert isinstance(out.grad_fn, EmbeddingBackward), (
        f"forward should record EmbeddingBackward on its result, got {out.grad_fn!r}: one Function per lookup")
    assert any(x is emb.weight for x in out.grad_fn.inputs), "EmbeddingBackward should have the table as its input"
    with no_grad():
        assert emb(IDS).grad_fn is None, "inside no_grad() nothing should be recorded"


@pytest.mark.exercise("11.2")
def test_embedding_gradient_with_repeated_ids_matches_finite_differences():
    emb = embedding()
    check_gradients(lambda weight: emb(IDS) * emb(IDS), [emb.weight], "Embedding weight, squared, repeated ids")


@pytest.mark.exercise("11.2")
def test_embedding_gradients_accumulate_over_a_batch_of_shape_b_t():
    emb = embedding(vocab_size=4, embed_dim=2)
    emb(np.array([[2, 2], [2, 0]])).sum().backward()
    want = np.array([[1, 1], [0, 0], [3, 3], [0, 0]])
    assert np.array_equal(emb.weight.grad.data, want), (
        f"summing the output gives each row the number of times its id occurs: want\n{want}\ngot\n"
        f"{emb.weight.grad.data}")


# --- 11.3 learned positional encoding ------------------------------------------------------------------------

@pytest.mark.exercise("11.3")
def test_positions_0_to_t_minus_1_are_added():
    pos = PositionalEncoding(max_seq_len=6, embed_dim=3)
    x = rand(2, 4, 3)
    out = pos(Tensor(x))
    assert pos.parameters() == [pos.weight] and pos.weight.shape == (6, 3), "the table is (max_seq_len, embed_dim)"
    assert out.shape == (2, 4, 3) and out.data.dtype == np.float32, f"got shape {out.shape}, dtype {out.data.dtype}"
    want = x + pos.weight.data[:4]
    assert np.allclose(out.data, want, atol=1e-6), "out[b, t] should be x[b, t] + row t of the table, for t = 0..3"
    full = pos(Tensor(rand(1, 6, 3)))
    assert full.shape == (1, 6, 3), "a sequence of exactly max_seq_len tokens fits"


@pytest.mark.exercise("11.3")
def test_a_sequence_longer_than_max_seq_len_is_refused():
    pos = PositionalEncoding(max_seq_len=4, embed_dim=3)
    with pytest.raises(ValueError) as error:
        pos(Tensor(rand(2, 5, 3)))
    message = str(error.value)
    assert "5" in message and "max_seq_len" in message, (
        f"the error should say the length (5) is more than max_seq_len, not leave it to NumPy: {message}")
    with pytest.raises(ValueError):  # one row would broadcast silently over all three positions
        PositionalEncoding(max_seq_len=1, embed_dim=3)(Tensor(rand(2, 3, 3)))


@pytest.mark.exercise("11.3")
def test_positional_backward_by_hand():
    x = Tensor(np.zeros((2, 2, 1)), requires_grad=True)
    weight = Tensor(np.zeros((3, 1)), requires_grad=True)
    g = np.array([[[1], [2]], [[10], [20]]], dtype=np.float32)
    grad_x, grad_w = PositionalEncodingBackward(x, weight).apply(g)
    assert np.array_equal(grad_x, g), "x's gradient is grad_output unchanged"
    assert np.array_equal(np.asarray(grad_w).ravel(), [11, 22, 0]), (
        f"row t gets the batch's gradients at position t summed (1 + 10, 2 + 20) and the unused row 0; "
        f"got {np.asarray(grad_w).ravel().tolist()}")


@pytest.mark.exercise("11.3")
def test_token_and_position_gradients_match_finite_differences():
    emb, pos = embedding(), PositionalEncoding(max_seq_len=6, embed_dim=3)
    h = lambda: pos(emb(IDS))
    out = h()
    assert isinstance(out.grad_fn, PositionalEncodingBackward), f"forward should record one Function, got {out.grad_fn!r}"
    check_gradients(lambda token_table, position_table: h() * h(), [emb.weight, pos.weight],
                    "Embedding then PositionalEncoding (input 0: the token table, 1: the position table), squared")
    assert not np.any(pos.weight.grad.data[4:]), "rows 4 and 5 were not used by a length-4 sequence: zero gradient"


# --- 11.4 sinusoidal encoding --------------------------------------------------------------------------------

@pytest.mark.exercise("11.4")
@pytest.mark.parametrize("max_seq_len, embed_dim", [(12, 8), (5, 7)], ids=["even-dim", "odd-dim"])
def test_sinusoidal_by_formula(max_seq_len, embed_dim):
    pe = sinusoidal_encoding(max_seq_len, embed_dim)
    assert isinstance(pe, np.ndarray) and pe.shape == (max_seq_len, embed_dim), f"got {type(pe)} {np.shape(pe)}"
    assert pe.dtype == np.float32, f"the encoding should be float32, got {pe.dtype}"
    for pos in range(max_seq_len):
        for j in range(embed_dim):
            angle = pos / 10000 ** ((j - j % 2) / embed_dim)     # columns 2i and 2i+1 share a rate
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert abs(pe[pos, j] - want) < 1e-5, (
                f"PE[{pos}, {j}] should be {'sin' if j % 2 == 0 else 'cos'}({pos} / 10000 ** ({j - j % 2} / "
                f"{embed_dim})) = {want:.5f}, got {pe[pos, j]:.5f}")


@pytest.mark.exercise("11.4")
def test_sinusoidal_first_row_and_distinct_positions():
    pe = sinusoidal_encoding(64, 16)
    assert np.allclose(pe[0], [0, 1] * 8), f"position 0 is sin(0), cos(0), ... = 0, 1, 0, 1, ...; got {pe[0]}"
    assert np.all(np.abs(pe) <= 1), "sines and cosines stay within [-1, 1]"
    distances = np.linalg.norm(pe[:, None] - pe[None], axis=-1) + np.eye(64)
    assert distances.min() > 0.1, "every position should get its own vector"
