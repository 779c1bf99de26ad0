"""Tests for module 13 (Transformers). Expected values come from the formulas in float64 NumPy, from properties any
correct model has (causality, residual paths, parameter counts) and from central finite differences of your own
forward (check_gradients), never from a reference implementation."""
import math

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT, MLP, LayerNorm, TransformerBlock, sample_next_token
from tinytorch_wasm.gradcheck import check_gradients

enable_autograd()

RNG = np.random.default_rng(1313)


def rand(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def leaf(array):
    return Tensor(array, requires_grad=True)


def layer_norm64(x, gamma, beta, axes=(-1,), eps=1e-5):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu64(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def linear64(layer, x):
    return np.asarray(x, dtype=np.float64) @ layer.weight.data + layer.bias.data


def randomise(layer_norm):
    """Give a LayerNorm random gamma and beta, so a test can tell it from another one."""
    layer_norm.gamma.data[...] = 1 + rand(*layer_norm.gamma.shape, scale=0.3)
    layer_norm.beta.data[...] = rand(*layer_norm.beta.shape, scale=0.3)


def tiny_gpt(vocab=7, width=8, layers=2, heads=2, context=6):
    np.random.seed(13)
    return GPT(vocab, width, layers, heads, context)


# --- 13.1 LayerNorm ------------------------------------------------------------------------------------------------

@pytest.mark.exercise("13.1")
def test_layer_norm_parameters():
    ln = LayerNorm(6)
    assert ln.gamma.shape == (6,) and ln.beta.shape == (6,), "gamma and beta should have the normalized shape (6,)"
    assert np.all(ln.gamma.data == 1) and np.all(ln.beta.data == 0), "gamma starts at 1 and beta at 0"
    assert ln.gamma.requires_grad and ln.beta.requires_grad, "gamma and beta are learned: requires_grad=True"
    assert ln.parameters()[0] is ln.gamma and ln.parameters()[1] is ln.beta, "parameters() is [gamma, beta]"


@pytest.mark.exercise("13.1")
@pytest.mark.parametrize("normalized_shape, shape", [(5, (2, 3, 5)), ((3, 4), (2, 3, 4))], ids=["last", "last-two"])
def test_layer_norm_matches_the_formula(normalized_shape, shape):
    ln = LayerNorm(normalized_shape)
    randomise(ln)
    x = rand(*shape, scale=3.0) + 2.0
    axes = (-1,) if isinstance(normalized_shape, int) else (-2, -1)
    out = ln(Tensor(x))
    assert isinstance(out, Tensor) and out.shape == shape, f"LayerNorm should keep the shape {shape}"
    assert out.dtype == np.float32, f"LayerNorm should stay float32, got {out.dtype}"
    expected = layer_norm64(x, ln.gamma.data, ln.beta.data, axes)
    assert np.allclose(out.data, expected, atol=1e-4), (
        "LayerNorm differs from gamma * (x - mean) / sqrt(var + eps) + beta over the last axes of each position "
        "(not over the batch), with the biased variance (divide by n)")


@pytest.mark.exercise("13.1")
def test_layer_norm_eps_goes_inside_the_square_root():
    x = np.array([[1.0, 1.003, 0.997, 1.001], [5.0, 5.0, 5.0, 5.0]], dtype=np.float32)  # variance ~5e-6, then 0
    out = LayerNorm(4)(Tensor(x)).data
    assert np.all(np.isfinite(out)), f"a constant row must not divide by zero, got {out[1]}"
    assert np.allclose(out, layer_norm64(x, 1.0, 0.0), atol=1e-3), (
        f"for a row with variance near eps, expected {layer_norm64(x, 1.0, 0.0)[0].round(3)}, got {out[0].round(3)}: "
        "divide by sqrt(var + eps), not by sqrt(var) + eps")


@pytest.mark.exercise("13.1")
def test_layer_norm_gradients():
    ln = LayerNorm(4)
    randomise(ln)
    x = leaf(rand(2, 3, 4))
    check_gradients(lambda x, gamma, beta: ln(x), [x, ln.gamma, ln.beta], "LayerNorm(4) on (2, 3, 4)")


# --- 13.2 MLP ------------------------------------------------------------------------------------------------------

@pytest.mark.exercise("13.2")
def test_mlp_is_linear_gelu_linear():
    mlp = MLP(4, 16)
    assert isinstance(mlp.fc1, Linear) and mlp.fc1.weight.shape == (4, 16), "fc1 should be Linear(4, 16)"
    assert isinstance(mlp.fc2, Linear) and mlp.fc2.weight.shape == (16, 4), "fc2 should be Linear(16, 4)"
    assert sum(p.size for p in mlp.parameters()) == 4 * 16 + 16 + 16 * 4 + 4, "MLP(4, 16) has 148 parameters"
    mlp.fc1.bias.data[...] = rand(16, scale=0.5)
    x = rand(2, 3, 4)
    expected = linear64(mlp.fc2, gelu64(linear64(mlp.fc1, x)))
    out = mlp(Tensor(x))
    assert out.shape == (2, 3, 4) and np.allclose(out.data, expected, atol=1e-4), (
        "MLP should compute fc2(GELU(fc1(x))) on every position")


# --- 13.3 TransformerBlock -----------------------------------------------------------------------------------------

def block_with_random_norms(width=8, heads=2):
    np.random.seed(3)
    block = TransformerBlock(width, heads)
    randomise(block.ln1)
    randomise(block.ln2)
    return block


@pytest.mark.exercise("13.3")
def test_block_parts():
    block = TransformerBlock(8, 2)
    assert isinstance(block.ln1, LayerNorm) and isinstance(block.ln2, LayerNorm), "ln1 and ln2 should be LayerNorms"
    assert block.ln1 is not block.ln2, "ln1 and ln2 must be two different LayerNorms, each with its own gamma and beta"
    assert isinstance(block.attn, MultiHeadAttention) and block.attn.num_heads == 2, "attn: MultiHeadAttention(8, 2)"
    assert isinstance(block.mlp, MLP) and block.mlp.fc1.weight.shape == (8, 32), "mlp: MLP(8, 4 * 8) by default"
    assert TransformerBlock(8, 2, mlp_ratio=2).mlp.fc1.weight.shape == (8, 16), "mlp_ratio=2 gives MLP(8, 16)"
    expected = 2 * (2 * 8) + 4 * (8 * 8 + 8) + (8 * 32 + 32 + 32 * 8 + 8)
    assert sum(p.size for p in block.parameters()) == expected, (
        f"a TransformerBlock(8, 2) has {expected} parameters: two LayerNorms, four Linear(8, 8), an MLP(8, 32)")


@pytest.mark.exercise("13.3")
def test_block_is_pre_norm_with_two_residuals():
    block = block_with_random_norms()
    x = rand(2, 4, 8)
    mask = causal_mask(4)
    out = block(Tensor(x), mask)
    h = x + block.attn(block.ln1(Tensor(x)), mask).data.astype(np.float64)
    expected = h + block.mlp(block.ln2(Tensor(h))).data
    assert isinstance(out, Tensor) and out.shape == (2, 4, 8), f"the block should keep the shape (2, 4, 8)"
    assert np.allclose(out.data, expected, atol=1e-4), (
        "the block should compute x = x + attn(ln1(x), mask), then x + mlp(ln2(x)): pre-norm (normalise what goes "
        "into each sublayer, not the sum that comes out) with both residuals")


@pytest.mark.exercise("13.3")
def test_block_with_silent_sublayers_is_the_identity():
    block = block_with_random_norms()
    for layer in (block.attn.out_proj, block.mlp.fc2):  # both sublayers now output exactly 0
        layer.weight.data[...] = 0
        layer.bias.data[...] = 0
    x = rand(2, 3, 8)
    out = block(Tensor(x))
    assert np.allclose(out.data, x, atol=1e-6), (
        "with both sublayers outputting 0, the block must return its input unchanged: that is the residual path "
        "x + sublayer(...), with nothing normalised or transformed on it")


@pytest.mark.exercise("13.3")
def test_block_gradients():
    block = block_with_random_norms(width=4, heads=2)
    x = leaf(rand(1, 3, 4))
    check_gradients(lambda x, *params: block(x, causal_mask(3)), [x, *block.parameters()],
                    "TransformerBlock(4, 2) with a causal mask", samples=4)


# --- 13.4 GPT ------------------------------------------------------------------------------------------------------

@pytest.mark.exercise("13.4")
def test_gpt_parts_and_logits_shape():
    gpt = tiny_gpt()
    for name in ("token_embedding", "position_embedding", "ln_f", "head"):
        assert hasattr(gpt, name), f"GPT needs the attribute {name}"
    assert len(gpt.blocks) == 2 and all(isinstance(b, TransformerBlock) for b in gpt.blocks), (
        "GPT.blocks should be a list of num_layers TransformerBlocks")
    assert isinstance(gpt.ln_f, LayerNorm) and isinstance(gpt.head, Linear), "ln_f: LayerNorm, head: Linear(D, V)"
    logits = gpt(np.array([[1, 2, 3, 4], [0, 6, 5, 1]]))
    assert isinstance(logits, Tensor) and logits.shape == (2, 4, 7), (
        f"logits for 2 sequences of 4 tokens over 7 token ids should be (2, 4, 7), got {logits.shape}")
    with pytest.raises(ValueError):
        gpt(np.zeros((1, 7), dtype=np.int64))  # 7 tokens, context 6


@pytest.mark.exercise("13.4")
def test_gpt_parameter_count():
    vocab, width, layers, context = 7, 8, 2, 6
    gpt = tiny_gpt(vocab, width, layers, 2, context)
    block = 2 * 2 * width + 4 * (width * width + width) + (width * 4 * width + 4 * width + 4 * width * width + width)
    expected = vocab * width + context * width + layers * block + 2 * width + (width * vocab + vocab)
    params = gpt.parameters()
    assert len({id(p) for p in params}) == len(params), "parameters() lists a tensor twice"
    assert sum(p.size for p in params) == expected, (
        f"GPT({vocab}, {width}, {layers}, 2, {context}) has {expected} parameters: token and position embeddings, "
        f"{layers} blocks, ln_f and the head; parameters() counted {sum(p.size for p in params)}")


@pytest.mark.exercise("13.4")
def test_gpt_is_causal_and_uses_positions():
    gpt = tiny_gpt()
    ids = np.array([[1, 2, 3, 4, 5]])
    logits = gpt(ids).data
    changed = ids.copy()
    changed[0, 3] = 0
    logits2 = gpt(changed).data
    assert np.allclose(logits[0, :3], logits2[0, :3], atol=1e-5), (
        "changing token 3 changed the logits at positions 0-2: the blocks need causal_mask(T), or the model "
        "learns to read the token it should predict")
    assert not np.allclose(logits[0, 3:], logits2[0, 3:], atol=1e-5), "changing token 3 must change later logits"
    same_token = gpt(np.array([[2, 2, 2]])).data[0]
    assert not np.allclose(same_token[0], same_token[2], atol=1e-5), (
        "the same token at positions 0 and 2 gave the same logits: add the position embedding")


@pytest.mark.exercise("13.4")
def test_gpt_backward_reaches_every_parameter():
    from tinytorch.core.losses import CrossEntropyLoss
    gpt = tiny_gpt()
    ids = np.array([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2]])
    logits = gpt(ids[:, :-1])
    loss = CrossEntropyLoss()(logits.reshape(2 * 4, 7), ids[:, 1:].reshape(-1))
    loss.backward()
    named = {"token_embedding": gpt.token_embedding, "position_embedding": gpt.position_embedding,
             "blocks[0]": gpt.blocks[0], "blocks[1]": gpt.blocks[1], "ln_f": gpt.ln_f, "head": gpt.head}
    for name, part in named.items():
        for p in part.parameters():
            assert p.grad is not None and np.any(p.grad.data != 0), (
                f"a parameter of gpt.{name} got no gradient from the loss: is it used in forward, and in parameters()?")


# --- 13.5 generation -----------------------------------------------------------------------------------------------

@pytest.mark.exercise("13.5")
def test_sample_greedy_and_top_k():
    logits = np.array([0.5, 3.0, 2.9, -1.0, 2.8])
    assert sample_next_token(logits, temperature=0) == 1, "temperature 0 should pick the arg-max"
    np.random.seed(0)
    draws = [sample_next_token(logits, top_k=2) for _ in range(300)]
    assert set(draws) == {1, 2}, f"top_k=2 should draw only the two largest logits (ids 1 and 2), drew {set(draws)}"
    assert {sample_next_token(logits, top_k=1) for _ in range(20)} == {1}, "top_k=1 is greedy"


@pytest.mark.exercise("13.5")
def test_sample_follows_the_tempered_softmax():
    logits = np.array([1.0, 0.0, -1.0])
    for temperature in (0.5, 2.0):
        np.random.seed(1)
        counts = np.bincount([sample_next_token(logits, temperature) for _ in range(1000)], minlength=3)
        expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
        assert np.allclose(counts / 1000, expected, atol=0.05), (
            f"at temperature {temperature} the draws should follow softmax(logits / T) = {expected.round(3)}, "
            f"got frequencies {(counts / 1000).round(3)}")


@pytest.mark.exercise("13.5")
def test_generate_extends_the_prompt_repeatably():
    gpt = tiny_gpt()
    np.random.seed(5)
    first = gpt.generate([1, 2], 8)
    np.random.seed(5)
    second = gpt.generate([1, 2], 8)
    assert isinstance(first, list) and all(isinstance(t, int) for t in first), "generate returns a list of ints"
    assert len(first) == 10 and first[:2] == [1, 2], f"the prompt [1, 2] plus 8 new tokens, got {first}"
    assert all(0 <= t < 7 for t in first), f"every token must be an id below vocab_size 7, got {first}"
    assert first == second, "with the same np.random seed, generate must give the same tokens"


@pytest.mark.exercise("13.5")
def test_generate_runs_the_last_position_of_a_cropped_context():
    gpt = tiny_gpt(context=4)
    seen, outputs = [], []
    forward = gpt.forward

    def spy(ids):
        seen.append(np.asarray(ids).tolist())
        outputs.append(forward(ids).data)
        return Tensor(outputs[-1])

    gpt.forward = spy
    tokens = gpt.generate([3, 1, 4, 1, 5], 3, temperature=0)
    assert len(seen) == 3, f"generating 3 tokens should run forward 3 times, it ran {len(seen)}"
    assert seen == [[tokens[i:i + 4]] for i in (1, 2, 3)], (
        f"each step should run forward on the last max_seq_len = 4 tokens as a batch of one, got {seen}")
    last = [int(np.argmax(logits[0, -1])) for logits in outputs]
    assert tokens[5:] == last, (
        f"greedy generation should append the arg-max of the LAST position's logits, {last}, got {tokens[5:]}")
