"""Tests for module 12 (Attention). Expected values come from the formulas written out in float64 NumPy, from
hand-worked masks, and from central finite differences of your own forward (check_gradients), never from a
reference implementation."""
import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention, causal_mask, padding_mask, scaled_dot_product_attention
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch_wasm.gradcheck import check_gradients

enable_autograd()

RNG = np.random.default_rng(1212)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def leaf(array):
    return Tensor(array, requires_grad=True)


def attention64(q, k, v, allowed=None):
    """The formula softmax(q k^T / sqrt(d)) v in float64, blocked scores at -inf: the independent reference."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights


def attend(q, k, v, mask=None):
    """Your attention on plain arrays, checked to return two Tensors; gives their arrays."""
    result = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask)
    assert isinstance(result, tuple) and len(result) == 2, "scaled_dot_product_attention returns (output, weights)"
    out, weights = result
    assert isinstance(out, Tensor) and isinstance(weights, Tensor), "output and weights should both be Tensors"
    return out.data, weights.data


# --- 12.1 scaled dot-product attention ------------------------------------------------------------------------

@pytest.mark.exercise("12.1")
def test_attention_matches_the_formula():
    q, k, v = rand(2, 3, 4, 8), rand(2, 3, 5, 8), rand(2, 3, 5, 6)  # batch 2, 3 heads, Tq 4, Tk 5, d 8, dv 6
    out, weights = attend(q, k, v)
    expected_out, expected_weights = attention64(q, k, v)
    assert out.shape == (2, 3, 4, 6), f"output should be (..., Tq, dv) = (2, 3, 4, 6), got {out.shape}"
    assert weights.shape == (2, 3, 4, 5), f"weights should be (..., Tq, Tk) = (2, 3, 4, 5), got {weights.shape}"
    assert out.dtype == np.float32 and weights.dtype == np.float32, "attention should stay float32"
    assert np.allclose(weights, expected_weights, atol=1e-5), (
        "weights differ from softmax(Q @ K^T / sqrt(d)) over the keys: check the 1/sqrt(d) scale, that K is "
        "transposed on its last two axes only, and that the softmax runs over the last axis")
    assert np.allclose(out, expected_out, atol=1e-5), "output differs from weights @ V"


@pytest.mark.exercise("12.1")
def test_weights_are_a_distribution_over_the_keys():
    _, weights = attend(rand(3, 4, 2), rand(3, 6, 2), rand(3, 6, 2))
    assert np.all(weights >= 0), "attention weights are probabilities: none may be negative"
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5), (
        f"each query's weights over the keys must sum to 1, got row sums {weights.sum(axis=-1)[0]}: softmax over "
        "the LAST axis (the keys), not over the queries")


@pytest.mark.exercise("12.1")
def test_the_scale_keeps_wide_heads_from_saturating():
    # With d = 64 and unit-variance entries, raw dot products have a spread of about 8: unscaled, the softmax puts
    # nearly all weight on one key. Scaled by 1/sqrt(64) the spread is about 1 and the weights stay soft.
    q, k, v = rand(1, 16, 64), rand(1, 16, 64), rand(1, 16, 4)
    _, weights = attend(q, k, v)
    _, expected = attention64(q, k, v)
    assert np.allclose(weights, expected, atol=1e-5), "weights differ from softmax(Q K^T / sqrt(64))"
    assert weights.max(axis=-1).mean() < 0.6, (
        f"the largest weight per query averages {weights.max(axis=-1).mean():.2f}: divide the scores by sqrt(d)")


@pytest.mark.exercise("12.1")
def test_huge_scores_stay_finite():
    q, k, v = rand(2, 3, 4, scale=100.0), rand(2, 3, 4, scale=100.0), rand(2, 3, 4)  # scores of about 1e4
    out, weights = attend(q, k, v)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(weights)), (
        "scores of about 1e4 gave inf or nan: subtract each row's maximum before np.exp")
    assert np.allclose(weights, attention64(q, k, v)[1], atol=1e-4), "weights for large scores are wrong"


@pytest.mark.exercise("12.1")
def test_mask_blocks_keys_and_renormalises():
    q, k, v = rand(2, 3, 4), rand(2, 5, 4), rand(2, 5, 3)
    allowed = RNG.random((2, 3, 5)) < 0.6
    allowed[..., 0] = True  # every query may see at least one key
    for mask in (allowed, allowed.astype(np.int64), Tensor(allowed.astype(np.float32))):
        out, weights = attend(q, k, v, mask)
        kind = type(mask).__name__ if isinstance(mask, Tensor) else str(mask.dtype)
        assert np.all(weights[~allowed] == 0), f"a {kind} mask: blocked keys must get weight exactly 0"
        assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-5), (
            f"a {kind} mask: the allowed keys' weights must still sum to 1; block the SCORES before the softmax, "
            "not the weights after it")
        expected_out, expected_weights = attention64(q, k, v, allowed)
        assert np.allclose(weights, expected_weights, atol=1e-5) and np.allclose(out, expected_out, atol=1e-5), (
            f"a {kind} mask (True/1 = may attend) gave the wrong weights or output")


# --- 12.2 masks ------------------------------------------------------------------------------------------------

@pytest.mark.exercise("12.2")
def test_causal_mask_is_the_lower_triangle():
    mask = np.asarray(causal_mask(4))
    expected = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=bool)
    assert mask.shape == (4, 4) and mask.dtype == np.bool_, f"causal_mask(4) should be (4, 4) bool, got {mask.dtype}"
    assert np.array_equal(mask, expected), (
        f"causal_mask(4) should let position i see 0..i, itself included:\n{expected.astype(int)}\ngot\n"
        f"{mask.astype(int)}")


@pytest.mark.exercise("12.2")
def test_padding_mask_marks_real_tokens():
    mask = np.asarray(padding_mask([2, 4, 1], 4))
    assert mask.shape == (3, 1, 1, 4) and mask.dtype == np.bool_, (
        f"padding_mask of 3 sequences padded to 4 should be (3, 1, 1, 4) bool (batch, heads, queries, keys), "
        f"got {mask.shape} {mask.dtype}")
    expected = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], dtype=bool)
    assert np.array_equal(mask[:, 0, 0], expected), (
        f"lengths [2, 4, 1] should mark keys {expected.astype(int).tolist()}, got {mask[:, 0, 0].astype(int).tolist()}")


@pytest.mark.exercise("12.2")
def test_causal_attention_cannot_see_the_future():
    q, k, v = rand(1, 5, 4), rand(1, 5, 4), rand(1, 5, 4)
    out, weights = attend(q, k, v, causal_mask(5))
    k2, v2 = k.copy(), v.copy()
    k2[:, 3:], v2[:, 3:] = rand(1, 2, 4), rand(1, 2, 4)  # change positions 3 and 4 only
    out2, _ = attend(q, k2, v2, causal_mask(5))
    assert np.allclose(out[:, :3], out2[:, :3], atol=1e-6), (
        "with a causal mask, the outputs at positions 0-2 changed when only positions 3-4 did: a query must not "
        "see later positions")
    assert np.all(np.triu(weights[0], k=1) == 0), "weights above the diagonal must be 0 under a causal mask"
    assert weights[0, 0, 0] == pytest.approx(1.0), "position 0 can see only itself: its weight on itself is 1"


@pytest.mark.exercise("12.2")
def test_padding_does_not_leak_into_any_output():
    lengths = [3, 5]
    q, k, v = rand(2, 1, 5, 4), rand(2, 1, 5, 4), rand(2, 1, 5, 4)
    out, _ = attend(q, k, v, padding_mask(lengths, 5))
    k2, v2 = k.copy(), v.copy()
    k2[0, :, 3:], v2[0, :, 3:] = rand(1, 2, 4, scale=10.0), rand(1, 2, 4, scale=10.0)  # sequence 0's padding
    out2, _ = attend(q, k2, v2, padding_mask(lengths, 5))
    assert np.allclose(out, out2, atol=1e-5), (
        "changing sequence 0's padding keys and values changed an output: the padding mask must block keys "
        "(the last axis) for every query")
    expected, _ = attention64(q[0], k[0, :, :3], v[0, :, :3])
    assert np.allclose(out[0], expected, atol=1e-5), "sequence 0 should attend exactly as if it had 3 tokens"


# --- 12.3 attention's backward ---------------------------------------------------------------------------------

@pytest.mark.exercise("12.3")
@pytest.mark.parametrize("mask", ["none", "causal", "padding"])
def test_attention_gradients(mask):
    shapes = (2, 2, 3, 2)  # batch 2, heads 2, 3 positions, head width 2
    masks = {"none": None, "causal": causal_mask(3), "padding": padding_mask([2, 3], 3)}
    q, k, v = leaf(rand(*shapes)), leaf(rand(*shapes)), leaf(rand(*shapes))
    check_gradients(lambda q, k, v: scaled_dot_product_attention(q, k, v, masks[mask])[0], [q, k, v],
                    f"attention with mask={mask}")


@pytest.mark.exercise("12.3")
def test_attention_gradients_with_different_key_count_and_value_width():
    q, k, v = leaf(rand(2, 2, 3)), leaf(rand(2, 4, 3)), leaf(rand(2, 4, 5))
    check_gradients(lambda q, k, v: scaled_dot_product_attention(q, k, v)[0], [q, k, v],
                    "attention with Tq 2, Tk 4, d 3, dv 5")


@pytest.mark.exercise("12.3")
def test_blocked_keys_get_no_gradient():
    q, k, v = leaf(rand(1, 3, 2)), leaf(rand(1, 4, 2)), leaf(rand(1, 4, 2))
    allowed = np.array([[True, True, False, False]])  # every query sees keys 0 and 1 only
    out, _ = scaled_dot_product_attention(q, k, v, allowed)
    out.backward(Tensor(rand(1, 3, 2)))
    assert k.grad is not None and v.grad is not None, "K and V must receive gradients"
    assert np.all(k.grad.data[:, 2:] == 0) and np.all(v.grad.data[:, 2:] == 0), (
        "keys and values no query could see must get a zero gradient")
    assert np.any(k.grad.data[:, :2] != 0) and np.any(v.grad.data[:, :2] != 0), "visible keys need gradients"


# --- 12.4 multi-head attention ---------------------------------------------------------------------------------

def linear64(layer, x):
    return x @ layer.weight.data.astype(np.float64) + layer.bias.data


@pytest.mark.exercise("12.4")
def test_multi_head_attention_layers_and_parameters():
    mha = MultiHeadAttention(12, 3)
    assert (mha.num_heads, mha.head_dim) == (3, 4), f"12 features in 3 heads is head_dim 4, got {mha.head_dim}"
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        layer = getattr(mha, name, None)
        assert isinstance(layer, Linear) and layer.weight.shape == (12, 12), f"{name} should be Linear(12, 12)"
    params = mha.parameters()
    assert sum(p.size for p in params) == 4 * (12 * 12 + 12), "four Linear(12, 12): 4 * (144 + 12) parameters"
    assert len({id(p) for p in params}) == 8, "parameters() should hold the 8 distinct tensors of the 4 layers"
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


@pytest.mark.exercise("12.4")
def test_split_heads_gives_each_head_its_own_features():
    mha = MultiHeadAttention(6, 3)
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)  # (B, T, D)
    heads = mha.split_heads(Tensor(x))
    assert heads.shape == (2, 3, 4, 2), f"split_heads of (2, 4, 6) into 3 heads should be (2, 3, 4, 2), got {heads.shape}"
    assert np.array_equal(heads.data[1, 2, 3], x[1, 3, 4:6]), (
        "head 2 of position 3 should hold features 4..5 of that position: reshape to (B, T, H, d), then swap "
        "axes 1 and 2")
    assert np.array_equal(mha.merge_heads(heads).data, x), "merge_heads(split_heads(x)) should give x back"


@pytest.mark.exercise("12.4")
def test_multi_head_attention_matches_per_head_numpy():
    mha = MultiHeadAttention(8, 2)
    for layer in (mha.q_proj, mha.k_proj, mha.v_proj, mha.out_proj):
        layer.bias.data[...] = rand(8, scale=0.1)
    x = rand(2, 5, 8)
    out = mha(Tensor(x), causal_mask(5))
    q, k, v = (linear64(layer, x.astype(np.float64)) for layer in (mha.q_proj, mha.k_proj, mha.v_proj))
    heads = [attention64(q[..., h * 4:(h + 1) * 4], k[..., h * 4:(h + 1) * 4], v[..., h * 4:(h + 1) * 4],
                         causal_mask(5)) for h in range(2)]
    expected = linear64(mha.out_proj, np.concatenate([o for o, _ in heads], axis=-1))
    assert isinstance(out, Tensor) and out.shape == (2, 5, 8), f"output should be (2, 5, 8), got {out.shape}"
    assert np.allclose(out.data, expected, atol=1e-4), (
        "output differs from: project, attend in each head on its own slice of features, concatenate, out_proj")
    weights = np.asarray(getattr(mha.attention_weights, "data", mha.attention_weights))
    assert weights.shape == (2, 2, 5, 5), f"attention_weights should be (B, H, T, T) = (2, 2, 5, 5), got {weights.shape}"
    assert np.allclose(weights[:, 1], heads[1][1], atol=1e-5), "attention_weights should hold the last forward's weights"


@pytest.mark.exercise("12.4")
def test_multi_head_attention_gradients():
    mha = MultiHeadAttention(4, 2)
    x = leaf(rand(2, 3, 4))
    check_gradients(lambda x, *params: mha(x, causal_mask(3)), [x, *mha.parameters()],
                    "MultiHeadAttention(4, 2) with a causal mask", samples=6)


@pytest.mark.exercise("12.4")
def test_multi_head_attention_ignores_padding():
    mha = MultiHeadAttention(4, 2)
    x = rand(2, 4, 4)
    out = mha(Tensor(x), padding_mask([2, 4], 4)).data
    x2 = x.copy()
    x2[0, 2:] = rand(2, 4, scale=10.0)  # new padding tokens for sequence 0
    out2 = mha(Tensor(x2), padding_mask([2, 4], 4)).data
    assert np.allclose(out[0, :2], out2[0, :2], atol=1e-5) and np.allclose(out[1], out2[1], atol=1e-5), (
        "the real tokens' outputs changed when only sequence 0's padding did: pass the mask on to the attention")
