"""Tests for module 14 (Profiling). Expected counts are worked out by hand from the layer sizes (2 FLOPs per
multiply-add), memory from arrays of known size, and times from layers that take a known number of milliseconds on
a virtual clock that stands in for time.perf_counter (a real clock on a shared machine jumps by tens of ms whenever
the process waits for a core); never from a reference implementation."""
import time
import tracemalloc

import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT
from tinytorch.profiling.profiler import Profiler, amdahl_speedup, layer_flops

P = Profiler()


class VirtualClock:
    """time.perf_counter replaced for a test: time moves only when a layer spends it, so durations are exact."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def spend(self, ms):
        self.now += ms / 1e3


@pytest.fixture
def clock(monkeypatch):
    virtual = VirtualClock()
    monkeypatch.setattr(time, "perf_counter", virtual)
    return virtual


class Spin(Layer):
    """Takes `ms` of its own time on the clock, then calls `inner` (if any)."""

    def __init__(self, clock, ms, inner=None):
        self.clock, self.ms, self.inner = clock, ms, inner

    def forward(self, x):
        self.clock.spend(self.ms)
        return self.inner(x) if self.inner is not None else x


class Stored(Layer):
    """A layer that keeps its weights in a form of its own and says how many bytes they take."""

    def forward(self, x):
        return x

    def storage_bytes(self):
        return 1000


def mlp():
    return Sequential(Linear(64, 32), ReLU(), Linear(32, 10))


# --- 14.1 parameters and bytes -----------------------------------------------------------------------------------

@pytest.mark.exercise("14.1")
def test_count_parameters_of_an_mlp_by_hand():
    count = P.count_parameters(mlp())
    assert count == 64 * 32 + 32 + 32 * 10 + 10, (
        f"Linear(64, 32) holds 64*32 weights + 32 biases, Linear(32, 10) 32*10 + 10: 2,410 in all; got {count}")


@pytest.mark.exercise("14.1")
def test_a_layer_used_twice_is_counted_once():
    shared = Linear(8, 8)
    model = Sequential(shared, ReLU(), shared)
    assert len(model.parameters()) == 4, "the test expects Sequential to list the shared layer's weights twice"
    count = P.count_parameters(model)
    assert count == 8 * 8 + 8, (f"the same Linear(8, 8) used twice stores 72 numbers once, got {count}: count each "
                                "Tensor once (compare id(tensor))")
    assert P.model_bytes(model) == 72 * 4, f"72 float32 weights take 288 bytes, got {P.model_bytes(model)}"


@pytest.mark.exercise("14.1")
def test_model_bytes_asks_layers_that_store_weights_their_own_way():
    model = Sequential(Stored(), Linear(4, 2))
    got = P.model_bytes(model)
    assert got == 1000 + (4 * 2 + 2) * 4, (
        f"a layer with storage_bytes() = 1000 plus Linear(4, 2)'s 10 float32 numbers make 1040 bytes, got {got}")


@pytest.mark.exercise("14.1")
def test_count_parameters_of_a_gpt_by_hand():
    np.random.seed(0)
    V, D, L, T = 11, 16, 2, 8
    count = P.count_parameters(GPT(vocab_size=V, embed_dim=D, num_layers=L, num_heads=2, max_seq_len=T))
    block = 2 * D + 4 * (D * D + D) + 2 * D + (D * 4 * D + 4 * D) + (4 * D * D + D)  # ln1, attention, ln2, MLP
    expected = V * D + T * D + L * block + 2 * D + D * V + V
    assert count == expected, f"GPT({V}, {D}, {L} layers, context {T}) has {expected:,} parameters, counted {count:,}"


# --- 14.2 FLOPs ----------------------------------------------------------------------------------------------------

@pytest.mark.exercise("14.2")
def test_linear_flops_by_hand():
    layer = Linear(16, 8)
    got = layer_flops(layer, (4, 5, 16), (4, 5, 8))
    assert got == 2 * 20 * 16 * 8, (
        f"Linear(16, 8) on (4, 5, 16) multiplies 20 rows by a 16x8 weight: 2 * 20 * 16 * 8 = 5,120 FLOPs, got {got} "
        "(2 FLOPs per multiply-add; every axis but the last is a row)")
    assert layer_flops(ReLU(), (4, 5, 8), (4, 5, 8)) == 0, "an activation counts 0 FLOPs by this convention"
    assert P.count_flops(layer, (4, 5, 16)) == 5120, "count_flops of one Linear should be its layer_flops"


@pytest.mark.exercise("14.2")
def test_conv2d_flops_by_hand():
    np.random.seed(1)
    conv = Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
    # (9 + 2*1 - 3) // 2 + 1 = 5: each of 2 * 8 * 5 * 5 outputs sums 3 * 3 * 3 products
    expected = 2 * (2 * 8 * 5 * 5) * (3 * 3 * 3)
    got = P.count_flops(conv, (2, 3, 9, 9))
    assert got == expected, (
        f"Conv2d(3, 8, 3, stride 2, padding 1) on (2, 3, 9, 9) gives (2, 8, 5, 5) outputs of 27 multiply-adds each: "
        f"{expected:,} FLOPs, got {got:,}: count the OUTPUT positions, which stride and padding change")


@pytest.mark.exercise("14.2")
def test_attention_flops_by_hand():
    np.random.seed(2)
    B, T, D = 2, 5, 16
    mha = MultiHeadAttention(D, 4)
    projections = 4 * 2 * (B * T) * D * D
    attention = 2 * 2 * B * T * T * D  # Q @ K^T and weights @ V: B * T * T * D multiply-adds each, over all heads
    got = P.count_flops(mha, (B, T, D))
    assert got == projections + attention, (
        f"MultiHeadAttention(16, 4) on (2, 5, 16): four projections {projections:,} + attention {attention:,} = "
        f"{projections + attention:,} FLOPs, got {got:,}. layer_flops of the attention layer counts only its two "
        "products; its projections are Linear layers, counted when they run")


@pytest.mark.exercise("14.2")
def test_model_flops_add_up_every_layer():
    got = P.count_flops(mlp(), (8, 64))
    assert got == 2 * 8 * (64 * 32 + 32 * 10), f"the MLP on 8 rows does 2 * 8 * (64*32 + 32*10) FLOPs, got {got:,}"
    np.random.seed(3)
    V, D, T = 11, 16, 8
    gpt = GPT(vocab_size=V, embed_dim=D, num_layers=2, num_heads=2, max_seq_len=T)
    per_block = 4 * 2 * T * D * D + 4 * T * T * D + 2 * 2 * T * D * 4 * D  # projections, attention, MLP
    expected = 2 * per_block + 2 * T * D * V  # two blocks and the head; embeddings are look-ups: 0
    got = P.count_flops(gpt, (1, T))
    assert got == expected, f"the GPT on (1, {T}) tokens does {expected:,} FLOPs by hand, got {got:,}"


# --- 14.3 memory -----------------------------------------------------------------------------------------------------

@pytest.mark.exercise("14.3")
def test_measure_memory_sees_a_numpy_array():
    usage = P.measure_memory(lambda: np.ones(250_000, dtype=np.float32))  # 1,000,000 bytes
    assert 1_000_000 <= usage.peak_bytes < 1_100_000, (
        f"a call creating a 1,000,000-byte array should peak at about 1 MB, got {usage.peak_bytes:,} bytes")
    assert usage.retained_bytes >= 1_000_000, (
        f"the call returns that array, so it is still alive after the call: retained {usage.retained_bytes:,} bytes. "
        "Keep the result in a variable until you have read tracemalloc")


@pytest.mark.exercise("14.3")
def test_a_temporary_counts_in_the_peak_only():
    def temporary():
        scratch = np.ones(500_000, dtype=np.float32)  # 2 MB, gone when the call returns
        return float(scratch.sum())

    usage = P.measure_memory(temporary)
    assert usage.peak_bytes >= 2_000_000, f"a 2 MB temporary should show in the peak, got {usage.peak_bytes:,}"
    assert usage.retained_bytes < 100_000, f"nothing of it survives the call, yet {usage.retained_bytes:,} retained"


@pytest.mark.exercise("14.3")
def test_memory_held_before_the_call_is_not_counted():
    tracemalloc.start()  # as the page's Profile button does: the 4 MB below are traced before the call
    try:
        weights = np.ones(1_000_000, dtype=np.float32)
        usage = P.measure_memory(lambda w: w[:10].copy(), weights)
    finally:
        tracemalloc.stop()
    assert usage.peak_bytes < 100_000 and usage.retained_bytes < 100_000, (
        f"the call allocates 40 bytes but measured {usage}: subtract what was traced before the call, and reset "
        "the peak (tracemalloc.reset_peak()) just before it")


@pytest.mark.exercise("14.3")
def test_measure_memory_leaves_tracing_as_it_found_it():
    assert not tracemalloc.is_tracing(), "tracemalloc was already on when the test started"
    P.measure_memory(lambda: np.zeros(10))
    assert not tracemalloc.is_tracing(), "measure_memory left tracemalloc on: stop it if you started it"
    tracemalloc.start()
    try:
        usage = P.measure_memory(lambda: np.ones(250_000, dtype=np.float32))
        assert tracemalloc.is_tracing(), ("measure_memory stopped tracemalloc although someone else (the page's "
                                          "Profile button) had started it: only stop it if you started it")
        assert usage.peak_bytes >= 1_000_000, f"inside an outer trace the peak should still be 1 MB, got {usage.peak_bytes:,}"
    finally:
        tracemalloc.stop()


# --- 14.4 latency ----------------------------------------------------------------------------------------------------

class Counted(Layer):
    """Counts its calls, spends `slow_ms` on the calls listed in `slow`, and records whether a graph was built."""

    def __init__(self, clock, slow=(), slow_ms=0.0, each_ms=0.0):
        self.clock, self.calls, self.slow, self.slow_ms, self.each_ms = clock, 0, set(slow), slow_ms, each_ms
        self.w = Tensor([2.0], requires_grad=True)
        self.recorded = []

    def forward(self, x):
        self.clock.spend(self.slow_ms if self.calls in self.slow else self.each_ms)
        self.calls += 1
        out = x * self.w
        self.recorded.append(getattr(out, "grad_fn", None) is not None)
        return out


@pytest.mark.exercise("14.4")
def test_latency_runs_warmup_and_timed_calls_without_a_graph(clock):
    from tinytorch.core.autograd import enable_autograd
    enable_autograd()
    model = Counted(clock)
    result = P.measure_latency(model, Tensor([1.0]), warmup=4, iterations=6)
    assert model.calls == 10, f"warmup=4 and iterations=6 should call the model 10 times, it was called {model.calls}"
    assert isinstance(result, float) and result >= 0, f"measure_latency should return a float of ms, got {result!r}"
    assert not any(model.recorded), ("the model built an autograd graph while being timed: inference latency is "
                                     "measured inside no_grad()")


@pytest.mark.exercise("14.4")
def test_latency_is_in_milliseconds(clock):
    got = P.measure_latency(Counted(clock, each_ms=2.0), Tensor([1.0]), warmup=1, iterations=3)
    assert got == pytest.approx(2.0), (
        f"a model taking 2 ms per call measured {got}: time each call with time.perf_counter() and return "
        "milliseconds (seconds * 1000)")


@pytest.mark.exercise("14.4")
def test_latency_is_the_median_not_the_mean(clock):
    got = P.measure_latency(Counted(clock, slow={3}, slow_ms=40.0, each_ms=1.0), Tensor([1.0]), warmup=1, iterations=9)
    assert got == pytest.approx(1.0), (
        f"one timed call of 9 took 40 ms, the others 1 ms; the median is 1 ms but got {got:.2f} ms (a mean would "
        "say 5.3 ms)")


@pytest.mark.exercise("14.4")
def test_warmup_calls_are_not_timed(clock):
    model = Counted(clock, slow={0, 1, 2, 3, 4}, slow_ms=20.0, each_ms=1.0)
    got = P.measure_latency(model, Tensor([1.0]), warmup=5, iterations=3)
    assert got == pytest.approx(1.0), (
        f"the 5 slow calls (20 ms) were all warm-up and the 3 timed ones took 1 ms, yet the result is {got:.1f} ms: "
        "time only the iterations")


# --- 14.5 layer by layer, Amdahl ------------------------------------------------------------------------------------

@pytest.mark.exercise("14.5")
def test_amdahl_by_hand():
    cases = [((0.5, 2), 1 / 0.75), ((0.9, 10), 1 / (0.1 + 0.09)), ((0.0, 100), 1.0), ((1.0, 8), 8.0), ((0.8, 1), 1.0)]
    for (fraction, factor), expected in cases:
        got = amdahl_speedup(fraction, factor)
        assert got == pytest.approx(expected), (
            f"speeding up {fraction:.0%} of the time {factor}x: new time (1 - f) + f / s, speed-up 1 / that = "
            f"{expected:.4f}; got {got}")
    assert amdahl_speedup(0.9, 1e12) == pytest.approx(10.0, rel=1e-6), "with 10 % untouched, the limit is 10x"


@pytest.mark.exercise("14.5")
def test_profile_layers_separates_own_time_from_children(clock):
    inner = Spin(clock, 12.0)
    outer = Spin(clock, 6.0, inner)
    rows = {r["name"]: r for r in P.profile_layers(outer, Tensor([1.0]), iterations=2)}
    assert set(rows) == {"(model)", "inner"}, f"expected rows for the model and 'inner', got {sorted(rows)}"
    me, child = rows["(model)"], rows["inner"]
    assert child["self_ms"] == pytest.approx(12.0) and child["total_ms"] == pytest.approx(12.0), (
        f"inner takes 12 ms and calls nothing, measured {child}")
    assert me["total_ms"] == pytest.approx(18.0), (
        f"the outer layer's total includes inner's 12 ms and its own 6: got {me['total_ms']:.1f}")
    assert me["self_ms"] == pytest.approx(6.0), (
        f"the outer layer's own time is 6 ms, got {me['self_ms']:.1f} ms: subtract the time spent in the layers it "
        "called (children_seconds) from its total")


@pytest.mark.exercise("14.5")
def test_profile_layers_rows_of_an_mlp():
    rows = P.profile_layers(mlp(), Tensor(np.zeros((4, 64))), iterations=3)
    names = [r["name"] for r in rows]
    assert names == ["(model)", "layers.0", "layers.1", "layers.2"], f"rows in named_layers order, got {names}"
    first = rows[1]
    assert first["kind"] == "Linear" and first["calls"] == 1, f"layers.0 is one call of a Linear, got {first}"
    assert first["flops"] == 2 * 4 * 64 * 32 and first["output_bytes"] == 4 * 32 * 4, f"layers.0 row: {first}"
    for r in rows:
        assert 0 <= r["self_ms"] <= r["total_ms"] + 1e-9, f"a layer's own time cannot exceed its total: {r}"
    assert rows[0]["self_ms"] < rows[0]["total_ms"], "the Sequential's own time excludes its layers' time"
