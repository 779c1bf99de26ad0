"""Module 11: Embeddings, from token ids to the vectors a transformer works on.

An `Embedding` is a table with one learned row per token id: looking a token up copies its row. A transformer
also needs to know WHERE each token stands, so a `PositionalEncoding` adds one learned row per position, and
`sinusoidal_encoding` builds the fixed alternative of the original Transformer paper.

Both layers compute on `.data` with one NumPy operation and record ONE autograd Function per call (module 06's
`record`), with a backward written for them: a lookup's backward must ADD the gradients of every position that
used the same row. That keeps the 2017 milestone fast enough in the tab.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.autograd import Function, record
from tinytorch.core.layers import Layer
from tinytorch.core.tensor import Tensor


def _as_ids(ids):
    """Token ids as an integer array, from a list, an integer array or a Tensor (whose data is float32)."""
    data = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if data.dtype.kind == "f":
        if not np.all(data == np.round(data)):
            raise ValueError(f"token ids must be whole numbers, got {data.ravel()[:8].tolist()}")
    elif data.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got an array of {data.dtype}")
    return data.astype(np.intp)  # intp: what NumPy indexes with (np.bincount in Pyodide refuses int64)


# --- 11.1 and 11.2: the embedding table ------------------------------------------------------------------------

class EmbeddingBackward(Function):
    """out = weight[ids]: row ids[k] of the table was copied to output position k. The gradient of a row is the sum
    of the output gradients at every position that copied it: a token that occurs 5 times in a batch gets 5."""

    def __init__(self, weight, ids):
        super().__init__(weight)
        self.ids = ids  # an integer array of any shape

    def apply(self, grad_output):
        (weight,) = self.inputs
        # TODO 11.2: start from float32 zeros shaped like the table, then ADD each output position's gradient
        # (grad_output reshaped to (-1, embed_dim)) into the row of its id (self.ids reshaped to (-1,)) with
        # np.add.at. Not grad[ids] += g: with a repeated id, NumPy writes that row once and loses the other copies.
        ### BEGIN SOLUTION
        grad = np.zeros(weight.shape, dtype=np.float32)
        np.add.at(grad, self.ids.reshape(-1), grad_output.reshape(-1, weight.shape[-1]))
        return (grad,)
        ### END SOLUTION


class Embedding(Layer):
    """A learned table of vocab_size rows of embed_dim numbers: forward(ids) returns each id's row.

    ids can have any shape, (B, T) for a batch of sequences: the output has shape ids.shape + (embed_dim,).
    """

    def __init__(self, vocab_size, embed_dim):
        self.vocab_size, self.embed_dim = vocab_size, embed_dim
        # TODO 11.1: self.weight, a Tensor (vocab_size, embed_dim) from np.random.randn scaled by sqrt(1 / embed_dim)
        # (each row then has a length of about 1 whatever the width), learned: requires_grad=True.
        ### BEGIN SOLUTION
        self.weight = Tensor(np.random.randn(vocab_size, embed_dim) * np.sqrt(1.0 / embed_dim), requires_grad=True)
        ### END SOLUTION

    def forward(self, ids):
        ids = _as_ids(ids)
        # TODO 11.1: refuse any id outside 0..vocab_size-1 with a ValueError that names the id and vocab_size
        # (NumPy would silently read row -1 as the LAST row), then look the rows up in one step on the data:
        # out = Tensor(self.weight.data[ids]). No loop over ids, and no one-hot matrix product.
        ### BEGIN SOLUTION
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids.min() if ids.min() < 0 else ids.max()
            raise ValueError(f"token id {bad} is outside this Embedding's vocabulary of {self.vocab_size} ids "
                             f"(0..{self.vocab_size - 1}): does the tokenizer's vocab_size match?")
        out = Tensor(self.weight.data[ids])
        ### END SOLUTION
        # TODO 11.2: record an EmbeddingBackward of the table and these ids on out (record(out, function) returns
        # out), so backward() reaches the table.
        ### BEGIN SOLUTION
        return record(out, EmbeddingBackward(self.weight, ids))
        ### END SOLUTION

    def parameters(self):
        return [self.weight]

    def __repr__(self):
        return f"Embedding(vocab_size={self.vocab_size}, embed_dim={self.embed_dim})"


# --- 11.3: learned positions ---------------------------------------------------------------------------------

class PositionalEncodingBackward(Function):
    """out = x + weight[:T] (broadcast over the batch): x gets grad_output unchanged; row t of the table gets the
    sum over the batch of the gradients at position t; rows T and beyond were not used and get zeros."""

    def apply(self, grad_output):
        x, weight = self.inputs
        # TODO 11.3: grad_x is grad_output itself. grad_weight: float32 zeros shaped like the table, whose first T
        # rows (T = grad_output.shape[-2]) are grad_output summed over every leading (batch) axis:
        # grad_output.reshape(-1, T, embed_dim).sum(axis=0).
        ### BEGIN SOLUTION
        T, D = grad_output.shape[-2], grad_output.shape[-1]
        grad_weight = np.zeros(weight.shape, dtype=np.float32)
        grad_weight[:T] = grad_output.reshape(-1, T, D).sum(axis=0)
        return grad_output, grad_weight
        ### END SOLUTION


class PositionalEncoding(Layer):
    """Learned positions: forward(x) with x of shape (B, T, embed_dim) adds row t of a learned table to every
    token at position t, for t = 0..T-1. Sequences longer than max_seq_len have no rows and are refused."""

    def __init__(self, max_seq_len, embed_dim):
        self.max_seq_len, self.embed_dim = max_seq_len, embed_dim
        self.weight = Tensor(np.random.randn(max_seq_len, embed_dim) * np.sqrt(1.0 / embed_dim), requires_grad=True)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.data.ndim < 2 or x.shape[-1] != self.embed_dim:
            raise ValueError(f"PositionalEncoding expects (batch, seq_len, {self.embed_dim}), got shape {x.shape}")
        seq_len = x.shape[-2]
        # TODO 11.3: a sequence longer than self.max_seq_len gets a ValueError saying its length and max_seq_len (a slice
        # weight[:seq_len] would silently stop at max_seq_len rows). Otherwise add rows 0..seq_len-1 of the
        # table to x on the data, in one step, and return that Tensor with a PositionalEncodingBackward(x,
        # self.weight) recorded on it.
        ### BEGIN SOLUTION
        if seq_len > self.max_seq_len:
            raise ValueError(f"sequence length {seq_len} is longer than max_seq_len={self.max_seq_len} of this "
                             "PositionalEncoding: cut the sequence, or make the table longer")
        out = Tensor(x.data + self.weight.data[:seq_len])
        return record(out, PositionalEncodingBackward(x, self.weight))
        ### END SOLUTION

    def parameters(self):
        return [self.weight]

    def __repr__(self):
        return f"PositionalEncoding(max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim})"


# --- 11.4: fixed sinusoidal positions ------------------------------------------------------------------------

def sinusoidal_encoding(max_seq_len, embed_dim):
    """The Transformer paper's fixed positions, a float32 array (max_seq_len, embed_dim):

        PE[pos, 2i]     = sin(pos / 10000 ** (2i / embed_dim))
        PE[pos, 2i + 1] = cos(pos / 10000 ** (2i / embed_dim))

    Each pair of columns is one clock hand turning at its own speed: the first turns once every 2*pi positions,
    the last one about 10000 times slower, so every position gets its own combination of angles.
    """
    # TODO 11.4: positions 0..max_seq_len-1 as a column, one rate per column pair, 1 / 10000 ** (2i / embed_dim)
    # for 2i = 0, 2, 4, ... (np.arange(0, embed_dim, 2) / embed_dim); angles = positions * rates. Fill the even
    # columns with sin(angles) and the odd ones with cos (an odd embed_dim has one cos column fewer). float32.
    ### BEGIN SOLUTION
    positions = np.arange(max_seq_len)[:, None]
    rates = 1.0 / 10000 ** (np.arange(0, embed_dim, 2) / embed_dim)
    angles = positions * rates
    encoding = np.zeros((max_seq_len, embed_dim), dtype=np.float32)
    encoding[:, 0::2] = np.sin(angles)
    encoding[:, 1::2] = np.cos(angles[:, :embed_dim // 2])
    return encoding
    ### END SOLUTION
