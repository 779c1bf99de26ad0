"""Module 13: Transformers, attention stacked into blocks, and blocks stacked into a language model.

A TransformerBlock is two sublayers, each wrapped the same way: normalise, transform, add back (pre-norm with a
residual). x + attention(LayerNorm(x)) lets positions talk to each other; x + MLP(LayerNorm(x)) then works on each
position alone. GPT embeds tokens and positions, runs the blocks with a causal mask, normalises once more and maps
every position to a score for every possible next token.

LayerNorm computes on `.data` and records ONE Function (module 06's `record`), like attention in module 12: the
2017 milestone trains this model in the tab, where every recorded op costs Python time.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.autograd import Function, no_grad, record
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, PositionalEncoding


def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


# --- 13.1 layer normalisation ----------------------------------------------------------------------------------

class LayerNorm(Layer):
    """Normalise each position's features to mean 0 and variance 1, then scale by gamma and shift by beta:

        x_hat = (x - mean) / sqrt(var + eps)      (mean and biased variance over the last len(normalized_shape) axes)
        out = gamma * x_hat + beta

    Unlike batch norm, nothing is shared across the batch or across positions: every token is normalised on its
    own, the same in training and in generation.
    """

    def __init__(self, normalized_shape, eps=1e-5):
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps = eps
        self.gamma = Tensor(np.ones(self.normalized_shape), requires_grad=True)
        self.beta = Tensor(np.zeros(self.normalized_shape), requires_grad=True)

    def forward(self, x):
        data = _array(x)
        if data.shape[data.ndim - len(self.normalized_shape):] != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape} got an input of shape {data.shape}: its last axes "
                             "must match normalized_shape")
        axes = tuple(range(-len(self.normalized_shape), 0))
        # TODO 13.1: with `axes`, compute the mean, the centred values, the biased variance (the mean of their
        # squares), inv_std = 1 / sqrt(var + eps) and x_hat = centred * inv_std; out = x_hat * gamma + beta (the
        # arrays gamma.data and beta.data). Keep the reduced axes (keepdims=True) so everything broadcasts.
        ### BEGIN SOLUTION
        mean = data.mean(axis=axes, keepdims=True)
        centred = data - mean
        var = (centred * centred).mean(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat = centred * inv_std
        out = x_hat * self.gamma.data + self.beta.data
        ### END SOLUTION
        return record(Tensor(out), LayerNormBackward(x, self.gamma, self.beta, x_hat, inv_std, axes))

    def parameters(self):
        return [self.gamma, self.beta]

    def __repr__(self):
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class LayerNormBackward(Function):
    """out = gamma * x_hat + beta with x_hat = (x - mean) * inv_std, over n normalised elements per position.

        d gamma = sum over every leading axis of g * x_hat          d beta = sum over every leading axis of g
        d x_hat = g * gamma
        d x = inv_std * (d x_hat - mean(d x_hat) - x_hat * mean(d x_hat * x_hat))   (means over the normalised axes)

    The two means are there because every element of a position moved that position's mean and variance.
    """

    def __init__(self, x, gamma, beta, x_hat, inv_std, axes):
        super().__init__(x, gamma, beta)
        self.x_hat, self.inv_std, self.axes = x_hat, inv_std, axes

    def apply(self, grad_output):
        gamma = _array(self.inputs[1])
        x_hat, axes = self.x_hat, self.axes
        leading = tuple(range(grad_output.ndim - len(axes)))
        # TODO 13.1: the four lines of the docstring (keepdims=True for the two means over `axes`).
        ### BEGIN SOLUTION
        grad_gamma = (grad_output * x_hat).sum(axis=leading)
        grad_beta = grad_output.sum(axis=leading)
        grad_x_hat = grad_output * gamma
        grad_x = self.inv_std * (grad_x_hat - grad_x_hat.mean(axis=axes, keepdims=True)
                                 - x_hat * (grad_x_hat * x_hat).mean(axis=axes, keepdims=True))
        ### END SOLUTION
        return grad_x, grad_gamma, grad_beta


# --- 13.2 the position-wise MLP ----------------------------------------------------------------------------------

class MLP(Layer):
    """Linear(embed_dim, hidden_dim) -> GELU -> Linear(hidden_dim, embed_dim), applied to every position alone.
    With hidden_dim = 4 * embed_dim it holds two thirds of a block's parameters."""

    def __init__(self, embed_dim, hidden_dim):
        self.embed_dim, self.hidden_dim = embed_dim, hidden_dim
        # TODO 13.2: self.fc1 = Linear(embed_dim, hidden_dim), self.activation = GELU() (module 02),
        # self.fc2 = Linear(hidden_dim, embed_dim).
        ### BEGIN SOLUTION
        self.fc1 = Linear(embed_dim, hidden_dim)
        self.activation = GELU()
        self.fc2 = Linear(hidden_dim, embed_dim)
        ### END SOLUTION

    def forward(self, x):
        # TODO 13.2: fc1, then the activation, then fc2.
        ### BEGIN SOLUTION
        return self.fc2(self.activation(self.fc1(x)))
        ### END SOLUTION

    def parameters(self):
        return self.fc1.parameters() + self.fc2.parameters()

    def __repr__(self):
        return f"MLP({self.embed_dim}, {self.hidden_dim})"


# --- 13.3 the transformer block ----------------------------------------------------------------------------------

class TransformerBlock(Layer):
    """Pre-norm transformer block (GPT-2's arrangement):

        x = x + attn(ln1(x), mask)
        x = x + mlp(ln2(x))

    The residual path `x + ...` carries the input through untouched, so a deep stack starts close to the identity
    and gradients reach the first block undiminished; normalising only the sublayers' inputs keeps that path clean.
    """

    def __init__(self, embed_dim, num_heads, mlp_ratio=4):
        # TODO 13.3: self.ln1 and self.ln2 (LayerNorm(embed_dim)), self.attn (MultiHeadAttention from module 12)
        # and self.mlp (MLP with hidden_dim = mlp_ratio * embed_dim).
        ### BEGIN SOLUTION
        self.ln1 = LayerNorm(embed_dim)
        self.attn = MultiHeadAttention(embed_dim, num_heads)
        self.ln2 = LayerNorm(embed_dim)
        self.mlp = MLP(embed_dim, mlp_ratio * embed_dim)
        ### END SOLUTION

    def forward(self, x, mask=None):
        # TODO 13.3: the two lines of the class docstring.
        ### BEGIN SOLUTION
        x = x + self.attn(self.ln1(x), mask)
        return x + self.mlp(self.ln2(x))
        ### END SOLUTION

    def parameters(self):
        return [p for part in (self.ln1, self.attn, self.ln2, self.mlp) for p in part.parameters()]


# --- 13.4 GPT ------------------------------------------------------------------------------------------------------

class GPT(Layer):
    """A decoder-only language model: token ids (B, T) -> logits (B, T, vocab_size), where logits[b, t] scores every
    token as the one that follows ids[b, :t + 1]. The causal mask keeps position t from seeing later tokens, so one
    forward pass trains all T next-token predictions of a sequence at once.

    The loss is the caller's: CrossEntropyLoss()(logits.reshape(B * T, V), targets.reshape(B * T)).
    """

    def __init__(self, vocab_size, embed_dim, num_layers, num_heads, max_seq_len):
        self.vocab_size, self.embed_dim, self.max_seq_len = vocab_size, embed_dim, max_seq_len
        self.num_layers, self.num_heads = num_layers, num_heads
        # TODO 13.4: self.token_embedding = Embedding(vocab_size, embed_dim) and self.position_embedding =
        # PositionalEncoding(max_seq_len, embed_dim) (module 11); self.blocks, a list of num_layers
        # TransformerBlock(embed_dim, num_heads); self.ln_f = LayerNorm(embed_dim); self.head = Linear(embed_dim,
        # vocab_size).
        ### BEGIN SOLUTION
        self.token_embedding = Embedding(vocab_size, embed_dim)
        self.position_embedding = PositionalEncoding(max_seq_len, embed_dim)
        self.blocks = [TransformerBlock(embed_dim, num_heads) for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.head = Linear(embed_dim, vocab_size)
        ### END SOLUTION

    def forward(self, ids):
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids).astype(np.int64)
        if ids.ndim != 2:
            raise ValueError(f"GPT wants token ids shaped (batch, time), got {ids.shape}")
        steps = ids.shape[1]
        if steps > self.max_seq_len:
            raise ValueError(f"{steps} tokens do not fit the context of {self.max_seq_len}: crop the input")
        # TODO 13.4: embed the tokens, add the positions, run every block with causal_mask(steps), then ln_f and
        # the head.
        ### BEGIN SOLUTION
        x = self.position_embedding(self.token_embedding(ids))
        mask = causal_mask(steps)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln_f(x))
        ### END SOLUTION

    def parameters(self):
        parts = [self.token_embedding, self.position_embedding, *self.blocks, self.ln_f, self.head]
        return [p for part in parts for p in part.parameters()]

    # --- 13.5 generation ---------------------------------------------------------------------------------------
    def generate(self, tokens, max_new_tokens, temperature=1.0, top_k=None):
        """The prompt `tokens` followed by max_new_tokens sampled ones, as a list of ints. Each step runs forward on
        the whole context (its last max_seq_len tokens) and samples from the last position's logits; seed
        np.random for a repeatable sample. temperature 0 always picks the most likely token."""
        tokens = [int(t) for t in np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens).reshape(-1)]
        with no_grad():  # no backward follows: record no graph
            for _ in range(max_new_tokens):
                # TODO 13.5: crop the context to the last max_seq_len tokens, run forward on it as a batch of one,
                # and append sample_next_token(the logits of its LAST position, temperature, top_k).
                ### BEGIN SOLUTION
                context = np.array([tokens[-self.max_seq_len:]])
                logits = self.forward(context).data[0, -1]
                tokens.append(sample_next_token(logits, temperature, top_k))
                ### END SOLUTION
        return tokens


def sample_next_token(logits, temperature=1.0, top_k=None):
    """A token id drawn from softmax(logits / temperature), keeping only the top_k largest logits when top_k is given.

    Temperature below 1 sharpens the distribution toward the most likely tokens, above 1 flattens it; 0 means
    greedy (the arg-max). Top-k cuts off the long tail of unlikely tokens that spoil a sample now and then.
    """
    logits = np.asarray(logits, dtype=np.float64).reshape(-1)  # float64: np.random.choice wants p to sum to 1
    if temperature <= 0:
        return int(np.argmax(logits))
    # TODO 13.5: divide the logits by the temperature; with top_k, set every logit outside the k largest to -inf
    # (np.argpartition(logits, -top_k)[-top_k:] are the k largest); softmax (subtract the max) into probabilities
    # and return int(np.random.choice(len(probs), p=probs)).
    ### BEGIN SOLUTION
    logits = logits / temperature
    if top_k is not None and top_k < len(logits):
        keep = np.argpartition(logits, -top_k)[-top_k:]
        kept = np.full_like(logits, -np.inf)
        kept[keep] = logits[keep]
        logits = kept
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    return int(np.random.choice(len(probs), p=probs))
    ### END SOLUTION
