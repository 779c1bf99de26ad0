"""Tests for module 18 (Memoization). Expected values come from the arrays a test wrote into the cache, from your
own module 12 attention and module 13 GPT run WITHOUT a cache (the full forward and module 13's generate), and from
counting positions by hand; never from a reference implementation."""
import copy

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.tensor import Tensor
from tinytorch.generation.kv_cache import (KVCache, cached_attention, cached_generate, cached_positions,
                                           cached_step, disable_kv_cache, enable_kv_cache)
from tinytorch.models.transformer import GPT
from tinytorch.text.embeddings import PositionalEncoding

RNG = np.random.default_rng(1818)
VOCAB, WIDTH, LAYERS, HEADS, CONTEXT = 11, 8, 2, 2, 10


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def tiny_gpt(context=CONTEXT):
    np.random.seed(18)
    return GPT(VOCAB, WIDTH, LAYERS, HEADS, context)


def filled(cache, steps):
    """Write `steps` (a list of token counts) into every layer of `cache`, advancing after each step; returns the
    keys and values written, per layer, joined along the position axis."""
    written = {layer: ([], []) for layer in range(cache.num_layers)}
    for new in steps:
        for layer in range(cache.num_layers):
            shape = (cache.batch_size, cache.num_heads, new, cache.head_dim)
            k, v = rand(*shape), rand(*shape)
            cache.update(layer, Tensor(k), Tensor(v))
            written[layer][0].append(k)
            written[layer][1].append(v)
        cache.advance(new)
    return {layer: (np.concatenate(ks, axis=2), np.concatenate(vs, axis=2)) for layer, (ks, vs) in written.items()}


# --- 18.1 the cache's storage and memory -----------------------------------------------------------------------

@pytest.mark.exercise("18.1")
def test_cache_is_preallocated_float32():
    cache = KVCache(batch_size=2, max_seq_len=6, num_layers=3, num_heads=4, head_dim=5)
    for name in ("keys", "values"):
        array = getattr(cache, name, None)
        assert isinstance(array, np.ndarray), f"cache.{name} should be a NumPy array, allocated in __init__"
        assert array.shape == (3, 2, 4, 6, 5), (
            f"cache.{name} should hold every slot at once, (num_layers, batch, heads, max_seq_len, head_dim) = "
            f"(3, 2, 4, 6, 5); got {array.shape}")
        assert array.dtype == np.float32, f"cache.{name} should be float32 like the model, got {array.dtype}"
    assert not np.shares_memory(cache.keys, cache.values), "keys and values need arrays of their own"
    assert cache.seq_pos == 0 and list(cache.lengths) == [0, 0, 0], "a new cache holds no position yet"


@pytest.mark.exercise("18.1")
def test_memory_usage_counts_keys_and_values():
    cache = KVCache(batch_size=2, max_seq_len=6, num_layers=3, num_heads=4, head_dim=5)
    per_position = 2 * 3 * 2 * 4 * 5 * 4  # K and V, 3 layers, batch 2, 4 heads, 5 numbers, 4 bytes each
    usage = cache.memory_usage()
    assert usage["allocated_bytes"] == per_position * 6, (
        f"6 positions of keys AND values of 3 layers x batch 2 x 4 heads x 5 float32 take {per_position * 6} "
        f"bytes; memory_usage said {usage['allocated_bytes']}")
    assert usage["bytes_per_position"] == per_position, (
        f"one position costs a key and a value in every layer, batch entry and head: {per_position} bytes, "
        f"got {usage['bytes_per_position']}")
    assert usage["used_bytes"] == 0, "an empty cache uses none of its bytes yet"
    filled(cache, [2, 1])
    assert cache.memory_usage()["used_bytes"] == 3 * per_position, (
        f"after 3 positions, used_bytes should be 3 x {per_position}, got {cache.memory_usage()['used_bytes']}")


# --- 18.2 update, get, advance, reset ------------------------------------------------------------------------

@pytest.mark.exercise("18.2")
def test_get_returns_what_update_wrote():
    cache = KVCache(batch_size=1, max_seq_len=8, num_layers=2, num_heads=2, head_dim=3)
    k, v = rand(1, 2, 3, 3), rand(1, 2, 3, 3)
    cache.update(1, Tensor(k), Tensor(v))
    keys, values = cache.get(1)
    assert np.shape(keys) == (1, 2, 3, 3) and np.shape(values) == (1, 2, 3, 3), (
        f"after writing 3 positions to layer 1, get(1) should give (1, 2, 3, 3) keys and values (the positions "
        f"written, not all max_seq_len slots); got {np.shape(keys)} and {np.shape(values)}")
    assert np.array_equal(keys, k) and np.array_equal(values, v), "get(1) should give back exactly what update wrote"
    assert np.shape(cache.get(0)[0])[2] == 0, "layer 0 was not written: get(0) should hold 0 positions"
    assert cache.seq_pos == 0, "update must not move seq_pos: advance() does, once every layer has written"


@pytest.mark.exercise("18.2")
def test_each_step_appends_after_the_last():
    cache = KVCache(batch_size=2, max_seq_len=8, num_layers=2, num_heads=2, head_dim=3)
    written = filled(cache, [3, 1, 2])
    assert cache.seq_pos == 6, f"3 + 1 + 2 tokens were advanced: seq_pos should be 6, got {cache.seq_pos}"
    for layer in (0, 1):
        keys, values = cache.get(layer)
        assert np.shape(keys) == (2, 2, 6, 3), f"layer {layer} should hold 6 positions, got {np.shape(keys)}"
        assert np.array_equal(keys, written[layer][0]) and np.array_equal(values, written[layer][1]), (
            f"layer {layer}: the keys and values of steps of 3, 1 and 2 tokens should follow each other in "
            "order (step 2 at position 3, step 3 at positions 4-5): write at seq_pos, not at 0 or at the end")


@pytest.mark.exercise("18.2")
def test_get_reads_the_cache_without_copying():
    cache = KVCache(batch_size=1, max_seq_len=8, num_layers=1, num_heads=2, head_dim=3)
    filled(cache, [4])
    keys, values = cache.get(0)
    assert np.shares_memory(keys, cache.keys) and np.shares_memory(values, cache.values), (
        "get() should hand back slices (views) of cache.keys and cache.values: a copy costs a pass over every "
        "cached position at every step, the work the cache is there to save")


@pytest.mark.exercise("18.2")
def test_a_full_cache_refuses_more_with_a_clear_error():
    cache = KVCache(batch_size=1, max_seq_len=4, num_layers=1, num_heads=1, head_dim=2)
    filled(cache, [3])
    before = cache.keys.copy()
    with pytest.raises(ValueError, match="max_seq_len"):
        cache.update(0, rand(1, 1, 2, 2), rand(1, 1, 2, 2))  # positions 3 and 4 of a 4-position cache
    assert np.array_equal(cache.keys, before) and cache.seq_pos == 3, "a refused update must change nothing"
    cache.update(0, rand(1, 1, 1, 2), rand(1, 1, 1, 2))  # position 3 still fits
    cache.advance()
    assert cache.seq_pos == 4


@pytest.mark.exercise("18.2")
def test_reset_starts_a_new_sequence():
    cache = KVCache(batch_size=1, max_seq_len=5, num_layers=2, num_heads=1, head_dim=2)
    filled(cache, [4])
    cache.reset()
    assert cache.seq_pos == 0, f"reset() should put seq_pos back to 0, got {cache.seq_pos}"
    assert np.shape(cache.get(0)[0])[2] == 0, "after reset(), get() should hold no position"
    written = filled(cache, [2])
    assert np.array_equal(cache.get(1)[0], written[1][0]), "after reset(), the next write goes to position 0"
    assert cache.memory_usage()["allocated_bytes"] == 2 * 2 * 5 * 2 * 4, "reset() keeps the arrays allocated"


@pytest.mark.exercise("18.2")
def test_hits_count_what_earlier_steps_wrote():
    cache = KVCache(batch_size=1, max_seq_len=8, num_layers=2, num_heads=1, head_dim=2)
    for new in (3, 1, 1):
        for layer in range(2):
            cache.update(layer, rand(1, 1, new, 2), rand(1, 1, new, 2))
            cache.get(layer)
        cache.advance(new)
    assert cache.writes == 2 * 5, f"2 layers x 5 positions were written, writes says {cache.writes}"
    assert cache.hits == 2 * (0 + 3 + 4), (
        f"get() handed back 0, then 3, then 4 positions written by earlier steps, in each of 2 layers: hits "
        f"should be 14, got {cache.hits}")


# --- 18.3 attention that reads the cache -----------------------------------------------------------------------

def attention_and_input(steps=6):
    np.random.seed(3)
    attn = MultiHeadAttention(WIDTH, HEADS)
    x = rand(1, steps, WIDTH)
    full = attn(Tensor(x), causal_mask(steps)).data
    return attn, x, full


@pytest.mark.exercise("18.3")
def test_cached_attention_one_token_at_a_time_matches_full_attention():
    attn, x, full = attention_and_input()
    cache = KVCache(1, 8, 1, HEADS, WIDTH // HEADS)
    for t in range(6):
        out = cached_attention(attn, Tensor(x[:, t:t + 1]), cache, 0)
        cache.advance()
        assert np.shape(out.data) == (1, 1, WIDTH), f"one new position in, one out: got {np.shape(out.data)}"
        assert np.allclose(out.data[0, 0], full[0, t], atol=1e-5), (
            f"position {t} computed with the cache differs from module 12's attention over the whole sequence: "
            "the new query must attend to every cached key (read them back with get) and its own")
    assert cache.hits == 0 + 1 + 2 + 3 + 4 + 5, (
        f"the cached keys should be read back at every step (get): hits should be 15, got {cache.hits}")


@pytest.mark.exercise("18.3")
def test_cached_attention_in_chunks_masks_the_future():
    attn, x, full = attention_and_input()
    cache = KVCache(1, 8, 1, HEADS, WIDTH // HEADS)
    done = 0
    for new in (3, 2, 1):  # a prompt of 3, then 2 more at once, then 1
        out = cached_attention(attn, Tensor(x[:, done:done + new]), cache, 0)
        cache.advance(new)
        assert np.allclose(out.data[0], full[0, done:done + new], atol=1e-5), (
            f"positions {done}-{done + new - 1}, given together after {done} cached ones, differ from full "
            "attention: new query i stands at position seq_pos + i and may see keys up to there, and no later one")
        done += new


# --- 18.4 positions, and one cached step -------------------------------------------------------------------------

@pytest.mark.exercise("18.4")
def test_cached_positions_continue_from_seq_pos():
    np.random.seed(4)
    positions = PositionalEncoding(8, 4)
    cache = KVCache(1, 8, 1, 1, 4)
    filled(cache, [5])
    x = rand(1, 2, 4)
    out = cached_positions(positions, Tensor(x), cache)
    expected = x + positions.weight.data[5:7]
    assert np.allclose(np.asarray(out.data), expected, atol=1e-6), (
        "two new tokens after 5 cached ones stand at positions 5 and 6: add rows 5 and 6 of the table, "
        "not rows 0 and 1")


@pytest.mark.exercise("18.4")
def test_cached_steps_give_the_logits_of_the_full_forward():
    gpt = tiny_gpt()
    ids = [3, 1, 4, 1, 5, 9, 2]
    full = gpt(np.array([ids])).data[0]
    enable_kv_cache(gpt)
    got = [cached_step(gpt, ids[:4])]  # a prompt of 4, then one token per step
    got += [cached_step(gpt, ids[t:t + 1]) for t in range(4, len(ids))]
    assert gpt.kv_cache.seq_pos == len(ids), (
        f"after steps of 4, 1, 1 and 1 tokens the cache should be at position 7, got {gpt.kv_cache.seq_pos}")
    for t, logits in zip([3, 4, 5, 6], got):
        assert np.shape(logits) == (VOCAB,) and np.allclose(logits, full[t], atol=1e-4), (
            f"the cached step ending at token {t} should give the full forward's logits at position {t}")


# --- 18.5 cached generation ---------------------------------------------------------------------------------------

@pytest.mark.exercise("18.5")
@pytest.mark.parametrize("temperature, top_k", [(0, None), (1.0, None), (0.8, 3)], ids=["greedy", "sampled", "top-k"])
def test_cached_generation_gives_exactly_the_tokens_of_generate(temperature, top_k):
    gpt = tiny_gpt()
    np.random.seed(7)
    plain = gpt.generate([2, 7, 1], 6, temperature=temperature, top_k=top_k)
    returned = enable_kv_cache(gpt)
    assert returned is gpt, "enable_kv_cache(model) should return the model"
    np.random.seed(7)
    cached = gpt.generate([2, 7, 1], 6, temperature=temperature, top_k=top_k)
    assert cached == plain, (
        f"with the same seed, cached generation gave {cached} where module 13's generate gave {plain}")
    assert gpt.kv_cache.hits > 0, "the cache was never read: get() must hand back the cached keys at every step"


@pytest.mark.exercise("18.5")
def test_cached_generation_runs_one_token_per_step():
    gpt = enable_kv_cache(tiny_gpt())
    seen, forward = [], gpt.forward

    def spy(ids):
        seen.append(np.shape(ids))
        return forward(ids)

    gpt.forward = spy
    tokens = cached_generate(gpt, [1, 2, 3], 4, temperature=0)
    assert len(tokens) == 7, f"a prompt of 3 and 4 new tokens make 7, got {tokens}"
    assert seen == [(1, 3), (1, 1), (1, 1), (1, 1)], (
        f"the prompt should run through once, then each step only the token just sampled; forward saw {seen}")
    assert gpt.kv_cache.writes == LAYERS * 6, (
        f"each of the 6 positions that ran (3 prompt + 3 sampled) is written once per layer: "
        f"writes should be {LAYERS * 6}, got {gpt.kv_cache.writes}")


@pytest.mark.exercise("18.5")
def test_cached_generation_past_the_context_matches_generate():
    gpt = tiny_gpt(context=6)
    np.random.seed(11)
    plain = gpt.generate([5, 4, 3, 2], 7, temperature=1.0)
    enable_kv_cache(gpt)
    np.random.seed(11)
    cached = gpt.generate([5, 4, 3, 2], 7, temperature=1.0)
    assert cached == plain, (
        f"past max_seq_len = 6, generate crops the context and every position shifts: the cache must start over "
        f"on the new window (reset and run it again). Cached gave {cached}, module 13 gave {plain}")
    long_prompt = [1, 2, 3, 4, 5, 6, 7, 8]
    disable_kv_cache(gpt)
    plain = gpt.generate(long_prompt, 2, temperature=0)
    assert enable_kv_cache(gpt).generate(long_prompt, 2, temperature=0) == plain, (
        "a prompt of 8 tokens with max_seq_len = 6: run its last 6 tokens, as module 13 does")


@pytest.mark.exercise("18.5")
def test_each_generation_starts_from_an_empty_cache():
    gpt = enable_kv_cache(tiny_gpt())
    first = gpt.generate([1, 2], 5, temperature=0)
    second = gpt.generate([1, 2], 5, temperature=0)
    other = gpt.generate([6], 3, temperature=0)
    disable_kv_cache(gpt)
    assert second == first, f"the same prompt twice gave {first} then {second}: reset the cache at the start"
    assert other == gpt.generate([6], 3, temperature=0), "a new prompt must not attend to the previous text"


@pytest.mark.exercise("18.5")
def test_enable_changes_only_generation_and_disable_restores():
    gpt = tiny_gpt()
    ids = np.array([[1, 2, 3, 4], [4, 3, 2, 1]])
    before = gpt(ids).data
    enable_kv_cache(gpt)
    cache = gpt.kv_cache
    assert isinstance(cache, KVCache) and cache.max_seq_len == CONTEXT, "model.kv_cache, sized to the model"
    assert (cache.num_layers, cache.num_heads, cache.head_dim) == (LAYERS, HEADS, WIDTH // HEADS), (
        "one cache layer per block, with the attention's num_heads and head_dim")
    assert np.allclose(gpt(ids).data, before, atol=1e-6), (
        "outside generation a model with a cache must compute exactly as before (a batch of 2, for training)")
    clone = copy.deepcopy(gpt)
    assert clone.generate([1, 2], 3, temperature=0) == gpt.generate([1, 2], 3, temperature=0)
    assert clone.kv_cache is not gpt.kv_cache and gpt.kv_cache.writes == clone.kv_cache.writes, (
        "copy.deepcopy(model) should give the copy a cache of its own")
    assert disable_kv_cache(gpt) is gpt and not hasattr(gpt, "kv_cache"), "disable_kv_cache removes the cache"
    assert gpt.generate.__func__ is GPT.generate, "after disable_kv_cache, generate is module 13's again"
