"""Module 18: Memoization, computing each token's keys and values once instead of once per generated token.

Module 13's `generate` runs the whole context through the model for every new token, so the keys and values of a
token that has not changed are computed again at every step. A `KVCache` keeps them: preallocated float32 arrays,
one slot per layer and position, written once (`update`), read back every step after (`get`). With the cache a
generation step runs ONE token through the model: its query attends to every cached key.

`enable_kv_cache(model)` at the bottom of this file switches that on for a module-13 GPT without rewriting module 13,
the way module 06's `enable_autograd()` switched gradients on: it puts a cached path in front of the forward of the
model's attention layers and of its position embedding, and a cached `generate` on the model. Outside generation
the model computes exactly as before (training, evaluation, profiling), and cached generation gives exactly the
tokens of uncached generation.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import types
from contextlib import contextmanager

import numpy as np

from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import sample_next_token


def _array(x):
    """The float32 array inside a Tensor, or an array-like turned into one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


# --- 18.1 and 18.2: the cache ------------------------------------------------------------------------------------

class KVCache:
    """The keys and values of every position generated so far, for every layer of a transformer.

        keys, values   float32 arrays (num_layers, batch_size, num_heads, max_seq_len, head_dim), allocated once
        seq_pos        how many positions are complete in every layer: the position of the next token
        lengths        per layer, how many positions it holds (seq_pos, plus the new ones written this step)
        hits, writes   counters: keys/values handed back from earlier steps, and keys/values written

    One generation step, for t new tokens: every layer calls update(layer, k, v) with the new tokens' keys and
    values and get(layer) for all of its keys and values so far; then advance(t) moves seq_pos past them.
    """

    def __init__(self, batch_size, max_seq_len, num_layers, num_heads, head_dim):
        self.batch_size, self.max_seq_len = batch_size, max_seq_len
        self.num_layers, self.num_heads, self.head_dim = num_layers, num_heads, head_dim
        self.hits = 0    # (layer, position) keys and values get() handed back that an earlier step had written
        self.writes = 0  # (layer, position) keys and values update() stored
        self.active = False  # True while activated(): the model's cached path is in use
        # TODO 18.1: self.keys and self.values, float32 zeros shaped (num_layers, batch_size, num_heads,
        # max_seq_len, head_dim): every slot the cache will ever use, allocated now, so writing a token never
        # allocates or copies what is already there. self.seq_pos = 0; self.lengths = [0] * num_layers.
        ### BEGIN SOLUTION
        shape = (num_layers, batch_size, num_heads, max_seq_len, head_dim)
        self.keys = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.seq_pos = 0
        self.lengths = [0] * num_layers
        ### END SOLUTION

    def memory_usage(self):
        """Bytes of the cache: {"allocated_bytes": both arrays, whole; "used_bytes": the part holding the seq_pos
        complete positions; "bytes_per_position": what one more position costs, keys and values of every layer}."""
        # TODO 18.1: a key AND a value of head_dim float32 numbers per layer, batch entry and head make one
        # position's bytes; allocated_bytes is what both arrays hold (their .nbytes), used_bytes seq_pos positions.
        ### BEGIN SOLUTION
        per_position = 2 * self.num_layers * self.batch_size * self.num_heads * self.head_dim * 4
        return {"allocated_bytes": int(self.keys.nbytes + self.values.nbytes),
                "used_bytes": int(self.seq_pos * per_position), "bytes_per_position": int(per_position)}
        ### END SOLUTION

    def update(self, layer, key, value):
        """Store the keys and values of this step's new tokens, (batch_size, num_heads, t, head_dim) each, in
        positions seq_pos .. seq_pos + t - 1 of `layer`."""
        key, value = _array(key), _array(value)
        expected = (self.batch_size, self.num_heads, key.shape[2] if key.ndim == 4 else -1, self.head_dim)
        if key.shape != expected or value.shape != expected:
            raise ValueError(f"KVCache.update wants keys and values shaped (batch {self.batch_size}, heads "
                             f"{self.num_heads}, new tokens, head_dim {self.head_dim}); got {key.shape} and "
                             f"{value.shape}")
        new = key.shape[2]
        # TODO 18.2: if seq_pos + new is more than max_seq_len, raise a ValueError that says so and names
        # max_seq_len (the arrays end there; NumPy would fail with a message about broadcasting, or worse, write
        # fewer positions). Otherwise copy key and value into positions seq_pos .. seq_pos + new - 1 of this layer
        # (slice axis 3 of self.keys[layer]) and set lengths[layer] to the position after them.
        ### BEGIN SOLUTION
        end = self.seq_pos + new
        if end > self.max_seq_len:
            raise ValueError(f"the KV cache is full: {self.seq_pos} positions cached and {new} new ones do not fit "
                             f"in max_seq_len={self.max_seq_len}; reset() it, or make a longer cache")
        self.keys[layer, :, :, self.seq_pos:end] = key
        self.values[layer, :, :, self.seq_pos:end] = value
        self.lengths[layer] = end
        ### END SOLUTION
        self.writes += new

    def get(self, layer):
        """(keys, values) of every position `layer` holds, each (batch_size, num_heads, positions, head_dim)."""
        # TODO 18.2: slices of self.keys[layer] and self.values[layer] up to lengths[layer] along the position
        # axis. Slicing gives views of the cache's own memory: no copy, however long the sequence.
        ### BEGIN SOLUTION
        length = self.lengths[layer]
        keys, values = self.keys[layer, :, :, :length], self.values[layer, :, :, :length]
        ### END SOLUTION
        self.hits += min(self.seq_pos, self.lengths[layer])  # positions an earlier step wrote: not computed again
        return keys, values

    def advance(self, steps=1):
        """Move seq_pos past the `steps` new tokens of this step, once every layer has stored them."""
        behind = [layer for layer in range(self.num_layers) if self.lengths[layer] < self.seq_pos + steps]
        if behind:
            raise ValueError(f"advance({steps}) at position {self.seq_pos}: layer {behind[0]} holds only "
                             f"{self.lengths[behind[0]]} positions; update every layer before advancing")
        # TODO 18.2: move seq_pos forward by steps.
        ### BEGIN SOLUTION
        self.seq_pos += steps
        ### END SOLUTION

    def reset(self):
        """Forget every position, for a new sequence. The arrays stay allocated, to be written over."""
        # TODO 18.2: seq_pos and every layer's length back to 0. (The old numbers may stay in the arrays: get()
        # never hands back a position no update() of this sequence wrote.)
        ### BEGIN SOLUTION
        self.seq_pos = 0
        self.lengths = [0] * self.num_layers
        ### END SOLUTION

    @contextmanager
    def activated(self):
        """Inside `with cache.activated():` the model's cached path reads and writes this cache (given)."""
        before, self.active = self.active, True
        try:
            yield self
        finally:
            self.active = before

    def __repr__(self):
        return (f"KVCache(batch_size={self.batch_size}, max_seq_len={self.max_seq_len}, num_layers="
                f"{self.num_layers}, num_heads={self.num_heads}, head_dim={self.head_dim}, seq_pos={self.seq_pos})")


# --- 18.3 attention that reads the cache --------------------------------------------------------------------------

def cached_attention(attn, x, cache, layer):
    """Module 12's MultiHeadAttention `attn` on the NEW positions x (B, t, D) only: their keys and values join the
    cache's, and their queries attend to every key so far. The t new queries are the LAST t positions, so query i
    may see the keys up to position seq_pos + i, all earlier ones included."""
    # TODO 18.3: project x into q, k and v and split each into heads (attn.q_proj, attn.split_heads, ...); store k
    # and v in the cache at `layer` and get back all of its keys and values. Mask: query i of the t new ones stands
    # at position seq_pos + i and may attend to key j when j <= seq_pos + i (np.arange(total)[None, :] against a
    # column of the queries' positions). Attend with scaled_dot_product_attention (module 12), merge the heads and
    # apply attn.out_proj.
    ### BEGIN SOLUTION
    new = x.shape[1]
    q = attn.split_heads(attn.q_proj(x))
    k = attn.split_heads(attn.k_proj(x))
    v = attn.split_heads(attn.v_proj(x))
    cache.update(layer, k, v)
    keys, values = cache.get(layer)
    total = keys.shape[2]
    allowed = np.arange(total)[None, :] <= np.arange(total - new, total)[:, None]
    out, _ = scaled_dot_product_attention(q, keys, values, allowed)
    return attn.out_proj(attn.merge_heads(out))
    ### END SOLUTION


# --- 18.4 positions that move on, and one cached step ---------------------------------------------------------------

def cached_positions(positions, x, cache):
    """Module 11's PositionalEncoding `positions` for NEW tokens x (B, t, D) that follow the cache's seq_pos ones:
    they stand at positions seq_pos .. seq_pos + t - 1, not 0 .. t - 1."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    new = x.shape[-2]
    if cache.seq_pos + new > positions.max_seq_len:
        raise ValueError(f"positions {cache.seq_pos}..{cache.seq_pos + new - 1} are past max_seq_len="
                         f"{positions.max_seq_len} of the position embedding")
    # TODO 18.4: x plus rows seq_pos .. seq_pos + t - 1 of the table (positions.weight.data), as a Tensor.
    ### BEGIN SOLUTION
    return Tensor(x.data + positions.weight.data[cache.seq_pos:cache.seq_pos + new])
    ### END SOLUTION


def cached_step(model, new_tokens):
    """Run the tokens that follow the cached ones through `model` (one with enable_kv_cache) and return the last
    one's logits (vocab_size,). Their keys and values stay in the cache for the next step."""
    cache = model.kv_cache
    # TODO 18.4: inside cache.activated(), call the model's own forward on np.array([new_tokens]) (a batch of
    # one): its attention layers and position embedding now take the cached path. Then advance the cache past the
    # new tokens and return the last position's logits (.data[0, -1]).
    ### BEGIN SOLUTION
    with cache.activated():
        logits = model(np.array([new_tokens]))
    cache.advance(len(new_tokens))
    return logits.data[0, -1]
    ### END SOLUTION


# --- 18.5 cached generation ----------------------------------------------------------------------------------------

def cached_generate(model, tokens, max_new_tokens, temperature=1.0, top_k=None):
    """Module 13's generate with a KV cache: the same tokens, each step running one token through the model.

    The prompt goes through once ("prefill"); then each step runs only the token just sampled. Module 13 crops the
    context to its last max_seq_len tokens; once the text is longer than that, every token's position shifts by one
    at each step, so every cached key and value is stale: reset the cache and prefill the window again.
    """
    tokens = [int(t) for t in np.asarray(tokens.data if isinstance(tokens, Tensor) else tokens).reshape(-1)]
    if not tokens:
        raise ValueError("generate needs a prompt of at least one token")
    cache, window = model.kv_cache, model.max_seq_len
    with no_grad():  # no backward follows: record no graph
        for step in range(max_new_tokens):
            # TODO 18.5: on the first step, or when len(tokens) > window (the window slid), reset the cache and
            # run the last `window` tokens through cached_step; otherwise run only the last token. Append
            # sample_next_token(logits, temperature, top_k), exactly as module 13 does.
            ### BEGIN SOLUTION
            if step == 0 or len(tokens) > window:
                cache.reset()
                logits = cached_step(model, tokens[-window:])
            else:
                logits = cached_step(model, tokens[-1:])
            tokens.append(sample_next_token(logits, temperature, top_k))
            ### END SOLUTION
    return tokens


# --- switching the cache on (given) ---------------------------------------------------------------------------------

class CachedPath:
    """Stands in for a layer's forward once its model has a KV cache: the cached computation `cached(owner, x,
    cache, ...)` while the cache is activated, the layer's own forward otherwise. An object rather than a closure, so
    that copy.deepcopy(model) gives the copy a path to its own layer and cache."""

    def __init__(self, owner, cached, cache, **where):
        self.owner, self.cached, self.cache, self.where = owner, cached, cache, where  # owner: the layer

    def __call__(self, x, *args, **kwargs):
        if self.cache.active:
            return self.cached(self.owner, x, self.cache, **self.where)
        return type(self.owner).forward(self.owner, x, *args, **kwargs)


def enable_kv_cache(model, batch_size=1):
    """Give a module-13 GPT a KV cache, `model.kv_cache`, and a cached `model.generate`; returns the model.

    The cache is sized from the model: max_seq_len positions, one layer per block, the attention's num_heads and
    head_dim. Calling it again starts with a new cache; disable_kv_cache(model) puts everything back.
    """
    disable_kv_cache(model)
    attention = model.blocks[0].attn
    cache = KVCache(batch_size, model.max_seq_len, len(model.blocks), attention.num_heads, attention.head_dim)
    model.kv_cache = cache
    for layer, block in enumerate(model.blocks):
        block.attn.forward = CachedPath(block.attn, cached_attention, cache, layer=layer)
    model.position_embedding.forward = CachedPath(model.position_embedding, cached_positions, cache)
    model.generate = types.MethodType(cached_generate, model)  # a bound method: copies bind to the copy
    return model


def disable_kv_cache(model):
    """Remove what enable_kv_cache added: the model computes and generates as module 13 wrote it. Returns it."""
    for layer in [model.position_embedding, *(block.attn for block in model.blocks)]:
        if isinstance(layer.__dict__.get("forward"), CachedPath):
            del layer.forward
    for name in ("kv_cache", "generate"):
        model.__dict__.pop(name, None)
    return model
