"""Tests for module 19 (Benchmarking). No test reads a real clock: timers get a fake clock that advances by scripted
durations, so every expected median, sample and order is known exactly. Statistics are checked against NumPy and
against what theory says of synthetic samples (the spread of a median of normal samples), never against a
reference implementation."""
from collections import namedtuple

import numpy as np
import pytest

import tinytorch.core.autograd as autograd
from tinytorch.benchmarking.benchmark import (Benchmark, Measurement, Task, Timer, TinyMLPerf, bootstrap_ci,
                                              correct_per_example, dominates, inference, pareto_front, percentile,
                                              speedup_ci)
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Dropout, Layer, Linear, Sequential
from tinytorch.core.tensor import Tensor


class FakeClock:
    """A clock in seconds that only moves when a scripted workload moves it."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Scripted(Layer):
    """A model whose every call takes a scripted time on a fake clock, allocates a known temporary, logs how it was
    called, and predicts with a Linear layer (4 features -> 3 classes).

    The n-th call with a batch of b examples takes ms(b, n) milliseconds: n counts the calls at that batch size only,
    so the durations do not depend on how calls of different batch sizes or models are interleaved."""

    def __init__(self, clock, name, ms, log=None, scratch_floats_per_example=0):
        self.clock, self.name, self.ms, self.log = clock, name, ms, log
        self.scratch = scratch_floats_per_example
        self.calls = {}
        self.linear = Linear(4, 3)

    def forward(self, x):
        batch = len(x.data)
        n = self.calls.get(batch, 0)
        self.calls[batch] = n + 1
        self.clock.now += self.ms(batch, n) / 1e3
        if self.log is not None:
            self.log.append((self.name, batch, autograd._grad_enabled, self.training))
        if self.scratch:
            temporary = np.ones(batch * self.scratch)  # float64: 8 bytes each, freed before returning
            del temporary
        return self.linear(x)

    def parameters(self):
        return self.linear.parameters()


def records(n, seed=0):
    """n examples of 4 features."""
    return np.random.default_rng(seed).standard_normal((n, 4)).astype(np.float32)


def steady(base):
    """base ms per example give or take 20 % (11 different values), plus a 1-second stall on the 4th call at each
    batch size (a busy machine)."""
    return lambda batch, n: base * batch * (0.8 + 0.04 * (n * 7 % 11)) + (1000.0 if n == 3 else 0.0)


# --- 19.1 timing -----------------------------------------------------------------------------------------------------

@pytest.mark.exercise("19.1")
@pytest.mark.parametrize("values", [[7.0], [3.0, 1.0], [5.0, 1.0, 4.0, 2.0, 3.0], list(np.linspace(10, 0, 37) ** 2)],
                         ids=["one", "two", "five-unsorted", "thirty-seven"])
def test_percentile_matches_numpy(values):
    for q in (0, 10, 25, 50, 90, 99, 100):
        expected = float(np.percentile(values, q))
        got = percentile(values, q)
        assert got == pytest.approx(expected), (
            f"percentile({values[:5]}..., {q}) gave {got}, expected {expected}: sort first, then interpolate at rank "
            "q / 100 * (n - 1) (the largest value sits at rank n - 1, not n)")


@pytest.mark.exercise("19.1")
def test_percentile_refuses_what_it_cannot_answer():
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], 101)


@pytest.mark.exercise("19.1")
def test_timer_warms_up_then_times_each_call_in_milliseconds():
    clock = FakeClock()
    durations = iter([80.0, 60.0, 40.0] + [1.0, 2.0, 3.0, 2.5, 1.5])  # the first calls pay one-off costs
    seen = []

    def work(a, b=0):
        seen.append((a, b))
        clock.now += next(durations) / 1e3

    measured = Timer(warmup=3, iterations=5, clock=clock).measure(work, 1, b=2)
    assert len(seen) == 8, f"warmup=3 and iterations=5 should call the function 8 times, it was called {len(seen)}"
    assert seen[0] == (1, 2), "measure(fn, *args, **kwargs) should pass the arguments on to fn"
    assert isinstance(measured, Measurement), f"measure should return a Measurement, got {type(measured).__name__}"
    assert measured.samples == pytest.approx([1.0, 2.0, 3.0, 2.5, 1.5]), (
        f"samples {measured.samples}: expected one per timed call, in milliseconds, without the 3 warm-up calls "
        "(80, 60 and 40 ms), each call timed on its own by the timer's clock")
    assert measured.median == pytest.approx(2.0)


@pytest.mark.exercise("19.1")
def test_time_call_reads_the_clock_around_the_call():
    clock = FakeClock()

    def work():
        clock.now += 0.004

    timer = Timer(warmup=0, iterations=1, clock=clock)
    assert timer.time_call(work) == pytest.approx(4.0), "a call that takes 4 ms on the timer's clock should time 4.0"


# --- 19.2 bootstrap ------------------------------------------------------------------------------------------------

def normal(n, seed):
    return np.random.default_rng(seed).standard_normal(n)


@pytest.mark.exercise("19.2")
def test_bootstrap_is_repeatable_and_surrounds_the_median():
    samples = normal(200, 1) + 10
    first = bootstrap_ci(samples, np.median, 0.95, 500, seed=7)
    assert len(first) == 2 and all(isinstance(v, float) for v in first), f"expected (low, high) floats, got {first}"
    assert first == bootstrap_ci(samples, np.median, 0.95, 500, seed=7), "the same seed must give the same interval"
    low, high = first
    assert low < np.median(samples) < high, f"the interval [{low:.3f}, {high:.3f}] should contain the median"


@pytest.mark.exercise("19.2")
def test_bootstrap_width_is_the_statistics_spread_not_the_samples():
    # The median of n normal samples (sigma 1) varies with standard deviation 1.2533 / sqrt(n); the mean's is
    # 1 / sqrt(n). A 95 % interval is about 2 * 1.96 of those wide; the samples themselves spread 2 * 1.96.
    samples = normal(400, 2)
    for statistic, spread in ((np.median, 1.2533), (np.mean, 1.0)):
        low, high = bootstrap_ci(samples, statistic, 0.95, 1000, seed=0)
        expected = 2 * 1.96 * spread / np.sqrt(400)
        assert 0.6 * expected < high - low < 1.5 * expected, (
            f"the 95 % interval of the {statistic.__name__} of 400 normal samples should be about {expected:.3f} wide, "
            f"got [{low:.3f}, {high:.3f}]: resample WITH replacement (rng.integers), take the statistic of each "
            "resample, and the percentiles of those statistics (not of the samples)")
    low, high = bootstrap_ci(samples, np.mean, 0.5, 1000, seed=0)
    expected = 2 * 0.674 / np.sqrt(400)
    assert 0.6 * expected < high - low < 1.5 * expected, (
        f"a 50 % interval should be about {expected:.3f} wide, got {high - low:.3f}: take the (1 - confidence) / 2 and "
        "(1 + confidence) / 2 percentiles")


@pytest.mark.exercise("19.2")
def test_bootstrap_interval_shrinks_with_more_samples():
    widths = {}
    for n in (100, 900):
        low, high = bootstrap_ci(normal(n, 3), np.median, 0.95, 400, seed=0)
        widths[n] = high - low
    ratio = widths[900] / widths[100]
    assert 0.2 < ratio < 0.5, (
        f"9 times the samples should make the interval about 3 times narrower (1 / sqrt(9)); widths {widths}")


@pytest.mark.exercise("19.2")
def test_speedup_ci_tells_a_real_speedup_from_none():
    rng = np.random.default_rng(4)
    baseline = 2.0 + 0.1 * rng.standard_normal(60)
    faster = 1.0 + 0.05 * rng.standard_normal(45)     # two measurements need not have the same length
    speedup, low, high = speedup_ci(baseline, faster, seed=0)
    assert speedup == pytest.approx(np.median(baseline) / np.median(faster)), (
        f"the speed-up is median(baseline) / median(candidate), got {speedup}")
    assert 1.8 < low < speedup < high < 2.2, (
        f"a 2x faster candidate: expected an interval around 2, got [{low}, {high}]")
    same = 2.0 + 0.1 * rng.standard_normal(45)
    speedup, low, high = speedup_ci(baseline, same, seed=0)
    assert low < 1 < high, (
        f"the same code measured twice should give an interval containing 1 (no speed-up), got [{low:.3f}, {high:.3f}]")
    assert speedup_ci(baseline, same, seed=5) == speedup_ci(baseline, same, seed=5), "the seed must make it repeatable"


# --- 19.3 inference and accuracy -----------------------------------------------------------------------------------

@pytest.mark.exercise("19.3")
def test_inference_runs_in_eval_mode_without_a_graph():
    clock, log = FakeClock(), []
    model = Scripted(clock, "m", lambda b, n: 0.0, log)
    x = Tensor(records(5))
    out = inference(model, x)
    assert out.shape == (5, 3), "inference should return the model's output"
    assert log[-1][2] is False, "inference must run under no_grad(): a deployed model records no graph"
    assert log[-1][3] is False, "inference must put the model in evaluation mode (model.eval())"
    dropping = Sequential(Linear(4, 4), Dropout(0.5))
    assert np.array_equal(inference(dropping, x).data, inference(dropping, x).data), (
        "with Dropout inside, two inference calls differ: switch the model to evaluation mode")


@pytest.mark.exercise("19.3")
def test_correct_per_example_for_classes_and_sequences():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert correct_per_example(Tensor(scores), np.array([1, 1, 1])).tolist() == [1, 0, 1]
    logits = np.zeros((2, 3, 4))  # 2 sequences of 3 positions, 4 possible tokens
    logits[0, [0, 1, 2], [1, 2, 3]] = 1.0
    logits[1, [0, 1, 2], [0, 0, 0]] = 1.0
    labels = np.array([[1, 2, 0], [0, 3, 3]])
    got = correct_per_example(logits, labels)
    assert np.asarray(got).tolist() == [2, 1], (
        f"per sequence, the positions predicted right: expected [2, 1], got {np.asarray(got).tolist()}; take the "
        "arg-max over the LAST axis (the scores), whatever the number of axes before it")


# --- 19.4 the benchmark -------------------------------------------------------------------------------------------

def two_models(clock, log=None, scratch=0):
    np.random.seed(19)
    return {"fast": Scripted(clock, "fast", steady(0.5), log, scratch),
            "slow": Scripted(clock, "slow", steady(2.0), log, scratch)}


@pytest.mark.exercise("19.4")
def test_benchmark_reports_median_interval_and_throughput_per_model_and_batch():
    clock = FakeClock()
    models = two_models(clock)
    bench = Benchmark(records(40), batch_sizes=(1, 8), confidence=0.9, seed=3,
                      timer=Timer(warmup=2, iterations=9, clock=clock))
    results = bench.run(models)
    assert [(r.name, r.batch_size) for r in results] == [("fast", 1), ("fast", 8), ("slow", 1), ("slow", 8)], (
        "one result per model and batch size, model by model")
    for r in results:
        base = models[r.name].ms
        expected = [base(r.batch_size, n) for n in range(2, 2 + 9)]  # the calls after the 2 warm-up calls
        assert r.samples_ms == pytest.approx(expected), (
            f"{r.name} at batch {r.batch_size}: samples {r.samples_ms}, expected {expected} (warm-up calls untimed)")
        assert r.latency_ms == pytest.approx(np.median(expected)), (
            f"{r.name} at batch {r.batch_size}: latency {r.latency_ms} ms, but the median of the samples is "
            f"{np.median(expected)}: one stalled call (1000 ms) must not move the reported latency (a mean would)")
        low, high = r.latency_ci_ms
        assert min(expected) - 1e-6 <= low <= r.latency_ms <= high <= max(expected) + 1e-6, (
            f"{r.name} at batch {r.batch_size}: the median's interval [{low}, {high}] should surround it")
        assert r.p90_ms == pytest.approx(np.percentile(expected, 90)), "p90_ms is the 90th percentile of the samples"
        assert r.throughput == pytest.approx(r.batch_size / (np.median(expected) / 1000)), (
            f"throughput {r.throughput}: examples per SECOND, batch / (median ms / 1000)")
        assert r.size_bytes == (4 * 3 + 3) * 4, f"size_bytes {r.size_bytes}: the Linear(4, 3) stores 60 bytes"
        assert r.accuracy is None and r.accuracy_ci is None, "without labels there is no accuracy"
    again = Benchmark(records(40), batch_sizes=(1, 8), confidence=0.9, seed=3,
                      timer=Timer(warmup=2, iterations=9, clock=clock)).run(two_models(clock))
    assert [r.latency_ci_ms for r in again] == [r.latency_ci_ms for r in results], (
        "the same samples and seed should give the same intervals: pass seed=self.seed to the bootstrap")


@pytest.mark.exercise("19.4")
def test_benchmark_warms_up_everything_then_takes_turns():
    clock, log = FakeClock(), []
    Benchmark(records(40), batch_sizes=(1, 8), timer=Timer(warmup=2, iterations=5, clock=clock)).run(
        two_models(clock, log))
    keys = {("fast", 1), ("fast", 8), ("slow", 1), ("slow", 8)}
    calls = [(name, batch) for name, batch, *_ in log]
    warmup, timed = calls[:8], calls[8:8 + 20]
    assert sorted(warmup) == sorted(list(keys) * 2), (
        f"first every model warms up at every batch size (2 calls each), got {warmup}")
    assert all(set(timed[i:i + 4]) == keys for i in range(0, 20, 4)), (
        f"the timed calls should take turns, one call of each (model, batch) per round, got {timed[:8]}...: "
        "timing one model to the end before the next leaves each at the mercy of whatever the machine did then")
    assert all(not grad and not training for *_, grad, training in log), (
        "every call (timed, accuracy, memory) should be inference: eval mode, no graph")


@pytest.mark.exercise("19.4")
def test_benchmark_accuracy_memory_and_their_intervals():
    clock = FakeClock()
    np.random.seed(0)
    model = Scripted(clock, "m", lambda b, n: 1.0, scratch_floats_per_example=50_000)  # 400 KB per example
    x = records(40, seed=1)
    labels = model.linear(Tensor(x)).data.argmax(axis=1)                    # what the model predicts
    labels[:10] = (labels[:10] + 1) % 3                                       # 10 of 40 wrong: 75 %
    results = Benchmark(x, labels, batch_sizes=(1, 8), seed=0, timer=Timer(1, 3, clock)).run({"m": model})
    for r in results:
        assert r.accuracy == pytest.approx(0.75), f"30 of 40 examples are right: accuracy 0.75, got {r.accuracy}"
        low, high = r.accuracy_ci
        assert 0.55 < low < 0.75 < high < 0.9, (
            f"with 40 examples, 75 % is uncertain by about +-13 points: expected an interval around it, got "
            f"[{low:.2f}, {high:.2f}]")
        expected = r.batch_size * 50_000 * 8
        assert expected <= r.peak_memory_bytes < expected + 200_000, (
            f"batch {r.batch_size}: the model holds {expected:,} bytes of temporaries in one call, peak_memory_bytes "
            f"reported {r.peak_memory_bytes:,}")


@pytest.mark.exercise("19.4")
def test_benchmark_measures_a_plain_function_too():
    clock = FakeClock()

    def scores(x):  # no parameters, no eval(): a function, e.g. a model wrapped with some pre-processing
        clock.now += 0.002
        return Tensor(x.data[:, :3])

    (result,) = Benchmark(records(6), batch_sizes=(2,), timer=Timer(1, 5, clock)).run({"function": scores})
    assert result.latency_ms == pytest.approx(2.0) and result.throughput == pytest.approx(1000.0), (
        f"2 examples in 2 ms is 1000 examples per second, got latency {result.latency_ms} and {result.throughput}")
    assert result.size_bytes is None, "a plain function stores no parameters: its size is unknown (None), not 0"


# --- 19.5 the Pareto front -----------------------------------------------------------------------------------------

Point = namedtuple("Point", "name latency_ms accuracy size_bytes")


@pytest.mark.exercise("19.5")
def test_dominates_needs_no_worse_on_both_and_better_on_one():
    a = Point("a", 1.0, 0.9, 100)
    assert dominates(a, Point("b", 2.0, 0.8, 100)), "cheaper and more accurate dominates"
    assert dominates(a, Point("b", 1.0, 0.8, 100)), "as cheap and more accurate dominates"
    assert dominates(a, Point("b", 2.0, 0.9, 100)), "cheaper and as accurate dominates"
    assert not dominates(a, Point("b", 1.0, 0.9, 100)), "an equal point is not dominated"
    assert not dominates(a, Point("b", 0.5, 0.8, 100)), "a cheaper, less accurate point is a trade-off, not dominated"
    assert not dominates(Point("b", 2.0, 0.8, 100), a), "a worse point dominates nothing"
    assert dominates(a, Point("b", 0.5, 0.8, 200), cost="size_bytes"), "cost= names the attribute to minimise"


@pytest.mark.exercise("19.5")
def test_pareto_front_keeps_exactly_the_undominated_points_cheapest_first():
    points = [Point("A", 1.0, 0.80, 900), Point("B", 2.0, 0.90, 400), Point("C", 3.0, 0.85, 300),
              Point("D", 2.0, 0.88, 800), Point("E", 0.5, 0.80, 950), Point("F", 2.0, 0.90, 400),
              Point("G", 4.0, 0.95, 1000)]
    front = [p.name for p in pareto_front(points)]
    assert front == ["E", "B", "F", "G"], (
        f"expected E, B, F, G (A is as accurate as E but slower, D as fast as B but less accurate, C slower and less "
        f"accurate than B; B and F are equal, so neither dominates the other), got {front}")
    by_size = [p.name for p in pareto_front(points, cost="size_bytes")]
    assert by_size == ["C", "B", "F", "G"], f"against size: C, B, F, G expected, got {by_size}"


# --- 19.6 TinyMLPerf --------------------------------------------------------------------------------------------------

def suite_tasks():
    """Two tasks on the same 40 records, every label class 0, quality target 50 %."""
    x, labels = records(40, seed=5), np.zeros(40, dtype=np.int64)
    return [Task("one", x, labels, 0.5), Task("two", x, labels, 0.5)]


def predicting(model, rows_right):
    """Set the model's weights so that it predicts class 0 (the suite's label) for exactly `rows_right` records: class
    0 scores feature 0 minus a threshold, the other classes 0."""
    x = records(40, seed=5)
    ordered = np.sort(x[:, 0])[::-1]
    threshold = (ordered[rows_right - 1] + ordered[rows_right]) / 2 if rows_right < len(x) else ordered[-1] - 1
    model.linear.weight.data[...] = 0
    model.linear.weight.data[0, 0] = 1.0
    model.linear.bias.data[...] = [-threshold, 0.0, 0.0]
    return model


@pytest.mark.exercise("19.6")
def test_suite_measures_each_task_with_its_rules_and_marks_validity():
    clock, log = FakeClock(), []
    tasks = suite_tasks()
    entries = {"exact": ("one", predicting(Scripted(clock, "exact", steady(1.0), log), 20)),
               "poor": ("one", predicting(Scripted(clock, "poor", steady(1.0), log), 19)),
               "other": ("two", predicting(Scripted(clock, "other", steady(1.0), log), 40))}
    suite = TinyMLPerf(tasks, timer=Timer(warmup=2, iterations=4, clock=clock))
    results = suite.run(entries)
    got = [(r.name, r.task, r.batch_size) for r in results]
    assert got == [("exact", "one", 1), ("exact", "one", 32), ("poor", "one", 1), ("poor", "one", 32),
                   ("other", "two", 1), ("other", "two", 32)], (
        f"expected every entry at the suite's batch sizes {TinyMLPerf.BATCH_SIZES}, task by task, with its task "
        f"named: got {got}")
    valid = {r.name: r.valid for r in results}
    accuracy = {r.name: r.accuracy for r in results}
    assert accuracy == pytest.approx({"exact": 0.5, "poor": 0.475, "other": 1.0}), f"accuracies {accuracy}"
    assert valid == {"exact": True, "poor": False, "other": True}, (
        f"valid should be accuracy >= the task's quality target (0.5, reached exactly counts): got {valid}")
    for r in results:
        assert r.latency_ci_ms == Measurement(r.samples_ms).ci(TinyMLPerf.CONFIDENCE, seed=TinyMLPerf.SEED), (
            "the suite's intervals use its fixed confidence and seed")
    timed_one = [(name, batch) for name, batch, *_ in log if name in ("exact", "poor")][8:8 + 16]
    assert all(len({name for name, _ in timed_one[i:i + 4]}) == 2 for i in range(0, 16, 4)), (
        f"the entries of one task should be measured side by side by ONE Benchmark, taking turns, got {timed_one[:8]}")


@pytest.mark.exercise("19.6")
def test_suite_refuses_an_entry_for_a_task_it_does_not_have():
    tasks = suite_tasks()
    suite = TinyMLPerf(tasks)
    assert (suite.timer.warmup, suite.timer.iterations) == (TinyMLPerf.WARMUP, TinyMLPerf.ITERATIONS)
    with pytest.raises(KeyError):
        suite.run({"lost": ("three", Linear(4, 3))})
