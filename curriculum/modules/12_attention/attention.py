"""Module 12: Attention, every position of a sequence looking at every other and taking what it needs.

`scaled_dot_product_attention(Q, K, V, mask)` compares every query with every key (a dot product scaled by
1/sqrt(d)), turns each row of scores into weights with a softmax, and returns the weighted sums of the values.
`MultiHeadAttention` runs several such attentions side by side on learned projections of its input.

The 2017 milestone trains a transformer in this tab, so attention is built for speed: it computes on the arrays
inside the Tensors (`.data`) with a few large NumPy operations (no Python loop over positions or heads) and records
ONE Function for autograd with module 06's `record`, whose backward you write too.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import math

import numpy as np

from tinytorch.core.autograd import Function, record, transposed, unbroadcast
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor

# The score given to a blocked position. exp(MASKED - row max) is exactly 0 in float32, so a blocked key gets no
# weight; unlike -inf, a row with every key blocked stays finite (uniform weights) instead of becoming nan.
MASKED = -1e9


def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def _allowed(mask):
    """A mask as booleans, True where attending is allowed: accepts bool arrays, 0/1 arrays and Tensors."""
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    return m if m.dtype == np.bool_ else m != 0


# --- 12.1 scaled dot-product attention ------------------------------------------------------------------------

def scaled_dot_product_attention(Q, K, V, mask=None):
    """softmax(Q @ K^T / sqrt(d) + blocked) @ V, with the softmax over the keys (the last axis).

    Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv): any leading axes (batch, heads) are batches of independent
    attentions. mask: None, or broadcastable to (..., Tq, Tk), True/1 where query i may attend to key j.
    Returns (output (..., Tq, dv), weights (..., Tq, Tk)). The output is recorded for autograd; the weights are
    handed back for inspection only (they carry no gradient).
    """
    q, k, v = _array(Q), _array(K), _array(V)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"attention needs Q (..., Tq, d), K (..., Tk, d), V (..., Tk, dv); got Q {q.shape}, "
                         f"K {k.shape}, V {v.shape}")
    scale = 1.0 / math.sqrt(q.shape[-1])  # a Python float keeps the float32 arrays float32
    # TODO 12.1: scores = q @ k^T (np.swapaxes(k, -1, -2): swap only the last two axes) times scale; where the
    # mask blocks (not _allowed(mask)), set the score to MASKED (np.where); then a stable softmax over the LAST
    # axis (subtract each row's max, exp, divide by the row sum) gives `weights`, and out = weights @ v.
    ### BEGIN SOLUTION
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if mask is not None:
        scores = np.where(_allowed(mask), scores, MASKED)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    out = weights @ v
    ### END SOLUTION
    output = record(Tensor(out), AttentionBackward(Q, K, V, weights, scale))
    return output, Tensor(weights)


# --- 12.2 masks ------------------------------------------------------------------------------------------------

def causal_mask(seq_len):
    """(T, T) booleans, True on and below the diagonal: position i may attend to positions 0..i, never to a later
    one. A language model that could see the next token would learn to copy it instead of predicting it."""
    # TODO 12.2: the lower triangle of a (seq_len, seq_len) matrix of True, diagonal included (np.tril).
    ### BEGIN SOLUTION
    return np.tril(np.ones((seq_len, seq_len), dtype=bool))
    ### END SOLUTION


def padding_mask(lengths, max_len):
    """(B, 1, 1, T) booleans for a batch of sequences padded at the end to max_len: True at the real tokens
    0..lengths[b]-1 of sequence b, False at its padding. The two 1s broadcast over heads and queries: every query
    may attend to every real key, and no query to a padding key."""
    lengths = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths).reshape(-1)
    # TODO 12.2: compare the positions np.arange(max_len) with each sequence's length (broadcast a row of
    # positions against a column of lengths: position < length), then give the (B, T) result its two middle axes.
    ### BEGIN SOLUTION
    real = np.arange(max_len)[None, :] < lengths[:, None]
    return real[:, None, None, :]
    ### END SOLUTION


# --- 12.3 attention's backward ---------------------------------------------------------------------------------

class AttentionBackward(Function):
    """out = W @ V with W = softmax(S) and S = Q @ K^T * scale (blocked scores replaced by a constant).

    Backwards, step by step, with g = d loss/d out:
        dV = W^T @ g                       dW = g @ V^T
        dS = W * (dW - sum(dW * W, over the keys))      (softmax's backward, row by row, as in module 06)
        dQ = dS @ K * scale                dK = dS^T @ Q * scale
    A blocked position has W = 0, so its dS is 0: no gradient flows through a key the query could not see.
    """

    def __init__(self, Q, K, V, weights, scale):
        super().__init__(Q, K, V)
        self.weights, self.scale = weights, scale  # W, saved by the forward: the (Tq, Tk) memory attention keeps

    def apply(self, grad_output):
        q, k, v = (_array(x) for x in self.inputs)
        w = self.weights
        # TODO 12.3: the five lines of the docstring. Use transposed(m) (module 06) for a ^T on the LEFT of @:
        # it swaps the last two axes and lays them out in order, which NumPy without a BLAS multiplies faster.
        ### BEGIN SOLUTION
        grad_v = transposed(w) @ grad_output
        grad_w = grad_output @ np.swapaxes(v, -1, -2)
        grad_scores = w * (grad_w - (grad_w * w).sum(axis=-1, keepdims=True)) * self.scale
        grad_q = grad_scores @ k
        grad_k = transposed(grad_scores) @ q
        ### END SOLUTION
        # Q, K or V may have broadcast over a batch axis (one K for every head, say): sum back to their shapes.
        return unbroadcast(grad_q, q.shape), unbroadcast(grad_k, k.shape), unbroadcast(grad_v, v.shape)


# --- 12.4 multi-head attention ---------------------------------------------------------------------------------

class MultiHeadAttention(Layer):
    """num_heads attentions side by side, each on its own head_dim-wide slice of learned projections of x.

    x (B, T, D) -> q, k, v = q_proj(x), k_proj(x), v_proj(x), each (B, T, D) -> split into heads (B, H, T, D/H)
    -> attention per head -> heads merged back to (B, T, D) -> out_proj. Splitting D into H heads costs no extra
    parameters and no extra FLOPs: each head compares positions on a different subspace.
    """

    def __init__(self, embed_dim, num_heads):
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.attention_weights = None  # (B, H, T, T) of the last forward, for drawing attention maps
        # TODO 12.4: four Linear(embed_dim, embed_dim) layers: self.q_proj, self.k_proj, self.v_proj, self.out_proj.
        ### BEGIN SOLUTION
        self.q_proj = Linear(embed_dim, embed_dim)
        self.k_proj = Linear(embed_dim, embed_dim)
        self.v_proj = Linear(embed_dim, embed_dim)
        self.out_proj = Linear(embed_dim, embed_dim)
        ### END SOLUTION

    def split_heads(self, x):
        """(B, T, D) -> (B, H, T, head_dim): head h gets features h*head_dim .. (h+1)*head_dim - 1 of every position."""
        batch, steps, _ = x.shape
        # TODO 12.4: reshape to (B, T, H, head_dim), then swap axes 1 and 2, with Tensor ops (module 06 records
        # them). Reshaping straight to (B, H, T, head_dim) would mix positions into heads.
        ### BEGIN SOLUTION
        return x.reshape(batch, steps, self.num_heads, self.head_dim).transpose(1, 2)
        ### END SOLUTION

    def merge_heads(self, x):
        """(B, H, T, head_dim) -> (B, T, D): the inverse of split_heads."""
        batch, _, steps, _ = x.shape
        # TODO 12.4: undo split_heads: swap axes 1 and 2 back, then reshape to (B, T, embed_dim).
        ### BEGIN SOLUTION
        return x.transpose(1, 2).reshape(batch, steps, self.embed_dim)
        ### END SOLUTION

    def forward(self, x, mask=None):
        """x (B, T, D), mask broadcastable to (B, H, T, T) -> (B, T, D); keeps the weights in attention_weights."""
        # TODO 12.4: project x three times and split each into heads, attend (keep the weights in
        # self.attention_weights), merge the heads and project with out_proj.
        ### BEGIN SOLUTION
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        out, self.attention_weights = scaled_dot_product_attention(q, k, v, mask)
        return self.out_proj(self.merge_heads(out))
        ### END SOLUTION

    def parameters(self):
        return [p for layer in (self.q_proj, self.k_proj, self.v_proj, self.out_proj) for p in layer.parameters()]

    def __repr__(self):
        return f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.num_heads})"
