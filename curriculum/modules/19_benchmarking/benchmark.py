"""Module 19: Benchmarking, measuring models so that the numbers can be trusted and compared.

One timing is a sample of a noisy process: the browser, other tabs and the machine's other users all take their
share. A benchmark therefore warms up first, times many calls one by one, reports the median and a confidence
interval rather than one number, measures what it compares side by side, and writes its rules down. This module
builds that: a Timer, percentiles and bootstrap intervals, inference and accuracy per example, a Benchmark of
latency, accuracy, size and memory (the last two by module 14's Profiler) over models and batch sizes, the Pareto
front of accuracy against cost, and TinyMLPerf, a suite with fixed rules over the course's own models.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import math
import time
from dataclasses import dataclass

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.profiling.profiler import Profiler


# --- 19.1 timing: warm-up, samples, percentiles ----------------------------------------------------------------

def percentile(samples, q):
    """The q-th percentile (0 <= q <= 100) of `samples`, interpolating linearly between the two nearest values.

    Sorted, the n samples sit at ranks 0 .. n-1; the q-th percentile is at rank q / 100 * (n - 1). A rank between
    two whole ranks lies that fraction of the way from the lower value to the upper one. (NumPy's default method,
    written out: np.percentile(samples, q) gives the same.)
    """
    values = np.asarray(samples, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("percentile of no samples: measure at least once")
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    # TODO 19.1: sort the values; rank = q / 100 * (n - 1); lower = floor(rank), upper = ceil(rank); return the
    # lower value plus (rank - lower) times the step to the upper value, as a float.
    ### BEGIN SOLUTION
    ordered = np.sort(values)
    rank = q / 100 * (len(ordered) - 1)
    lower, upper = math.floor(rank), math.ceil(rank)
    return float(ordered[lower] + (rank - lower) * (ordered[upper] - ordered[lower]))
    ### END SOLUTION


class Measurement:
    """The timings of one thing, in milliseconds, one per call, in the order they were taken."""

    def __init__(self, samples_ms):
        self.samples = [float(s) for s in samples_ms]

    @property
    def median(self):
        return percentile(self.samples, 50)

    @property
    def mean(self):
        return float(np.mean(self.samples))

    def percentile(self, q):
        return percentile(self.samples, q)

    def ci(self, confidence=0.95, n_resamples=1000, seed=None):
        """A bootstrap confidence interval of the median."""
        return bootstrap_ci(self.samples, np.median, confidence, n_resamples, seed)

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        low, high = self.ci(seed=0)
        return f"Measurement(median {self.median:.3f} ms, 95% CI [{low:.3f}, {high:.3f}], n={len(self)})"


class Timer:
    """Times calls of a function: `warmup` calls that are not timed, then `iterations` calls timed one by one.

        timer = Timer(warmup=5, iterations=50)
        m = timer.measure(model, x)          # a Measurement: m.median, m.percentile(90), m.ci()

    `clock` returns seconds (time.perf_counter, the finest clock Python has); tests pass a clock of their own.
    """

    def __init__(self, warmup=5, iterations=30, clock=time.perf_counter):
        if warmup < 0 or iterations < 1:
            raise ValueError(f"need warmup >= 0 and iterations >= 1, got {warmup} and {iterations}")
        self.warmup, self.iterations, self.clock = warmup, iterations, clock

    def time_call(self, fn, *args, **kwargs):
        """Milliseconds one call fn(*args, **kwargs) takes, read from self.clock."""
        # TODO 19.1: read self.clock() just before and just after the call (and nothing else in between);
        # return the difference in milliseconds.
        ### BEGIN SOLUTION
        start = self.clock()
        fn(*args, **kwargs)
        return (self.clock() - start) * 1e3
        ### END SOLUTION

    def measure(self, fn, *args, **kwargs):
        """A Measurement of fn(*args, **kwargs): the warm-up calls first, untimed, then one sample per timed call."""
        # TODO 19.1: call fn self.warmup times without timing (the first calls pay one-off costs: imports, memory
        # the allocator has not handed out yet, caches); then self.iterations calls, each timed on its own with
        # time_call. Return a Measurement of those samples.
        ### BEGIN SOLUTION
        for _ in range(self.warmup):
            fn(*args, **kwargs)
        return Measurement([self.time_call(fn, *args, **kwargs) for _ in range(self.iterations)])
        ### END SOLUTION


# --- 19.2 bootstrap confidence intervals -------------------------------------------------------------------------

def bootstrap_ci(samples, statistic=np.median, confidence=0.95, n_resamples=1000, seed=None):
    """(low, high): a `confidence` interval for `statistic` of the process the samples came from.

    The bootstrap: draw n_resamples new samples of the same size n from the samples themselves, WITH replacement
    (some values twice, some not at all), compute the statistic of each, and take the middle `confidence` share of
    those statistics: from the (1 - confidence) / 2 percentile to the (1 + confidence) / 2 percentile. Their
    spread is how much the statistic would move if you measured again. `statistic(array, axis=1)` must reduce each
    row (np.median, np.mean). `seed` makes the interval repeatable.
    """
    values = np.asarray(samples, dtype=np.float64).reshape(-1)
    if values.size == 0:
        raise ValueError("a confidence interval needs samples")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    rng = np.random.default_rng(seed)
    # TODO 19.2: indices = rng.integers(0, n, size=(n_resamples, n)); the resamples are values[indices], one per
    # row; stats = statistic(resamples, axis=1); return the two percentiles above (your percentile function).
    ### BEGIN SOLUTION
    indices = rng.integers(0, len(values), size=(n_resamples, len(values)))
    stats = statistic(values[indices], axis=1)
    tail = (1 - confidence) / 2 * 100
    return percentile(stats, tail), percentile(stats, 100 - tail)
    ### END SOLUTION


def speedup_ci(baseline_ms, candidate_ms, confidence=0.95, n_resamples=1000, seed=None):
    """(speedup, low, high): how many times faster the candidate is than the baseline, median against median,
    with a bootstrap interval. Above 1 the candidate is faster; an interval that contains 1 means these
    measurements cannot tell the two apart.

    The two were measured separately, so each is resampled on its own: a resample of the baseline's samples and
    one of the candidate's, their medians' ratio, n_resamples times.
    """
    base = np.asarray(baseline_ms, dtype=np.float64).reshape(-1)
    cand = np.asarray(candidate_ms, dtype=np.float64).reshape(-1)
    if base.size == 0 or cand.size == 0:
        raise ValueError("a speed-up needs samples of both")
    rng = np.random.default_rng(seed)
    speedup = float(np.median(base) / np.median(cand))
    # TODO 19.2: resample base (n_resamples rows of len(base) indices) and cand (rows of len(cand)) independently,
    # ratios = median of each base row / median of each cand row; return speedup and the two percentiles of the
    # ratios, as bootstrap_ci takes them.
    ### BEGIN SOLUTION
    base_rows = base[rng.integers(0, len(base), size=(n_resamples, len(base)))]
    cand_rows = cand[rng.integers(0, len(cand), size=(n_resamples, len(cand)))]
    ratios = np.median(base_rows, axis=1) / np.median(cand_rows, axis=1)
    tail = (1 - confidence) / 2 * 100
    return speedup, percentile(ratios, tail), percentile(ratios, 100 - tail)
    ### END SOLUTION


# --- 19.3 inference and accuracy ---------------------------------------------------------------------------------
# What a model stores and the memory a call needs come from module 14's Profiler: model_bytes (each parameter once,
# plus storage_bytes() of layers that keep weights their own way, as module 15's int8 layers do) and measure_memory
# (tracemalloc's peak, in a call of its own: tracing slows every allocation, so it never runs while timing).

def as_input(x):
    """What a model is called with: floating-point data as a Tensor, token ids (integers) as they are."""
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.integer) else Tensor(x)


def inference(model, x):
    """model(x) as a deployed model runs: in evaluation mode (Dropout off) and without recording a graph."""
    # TODO 19.3: switch the model to evaluation mode when it has an eval() method (a plain function has none), then
    # call it on x inside `with no_grad():` and return its output.
    ### BEGIN SOLUTION
    if callable(getattr(model, "eval", None)):
        model.eval()
    with no_grad():
        return model(x)
    ### END SOLUTION


def correct_per_example(outputs, labels):
    """How many predictions of each example are right: the arg-max of the last axis of `outputs` against `labels`.

    outputs (N, C) and labels (N,): one prediction per example, 0 or 1 each. outputs (N, T, V) and labels (N, T),
    a prediction per position of a sequence: 0 to T each. Returns an integer array of N counts.
    """
    scores = outputs.data if isinstance(outputs, Tensor) else np.asarray(outputs)
    labels = np.asarray(labels)
    if scores.shape[:-1] != labels.shape:
        raise ValueError(f"outputs {scores.shape} do not match labels {labels.shape}: expected outputs shaped labels "
                         "plus one axis of class scores")
    # TODO 19.3: predictions = the arg-max over the last axis; compare with labels; count the right ones per example
    # (reshape the comparison to (N, -1) and sum each row).
    ### BEGIN SOLUTION
    right = scores.argmax(axis=-1) == labels
    return right.reshape(len(labels), -1).sum(axis=1)
    ### END SOLUTION


# --- 19.4 the benchmark ----------------------------------------------------------------------------------------

@dataclass
class BenchmarkResult:
    """One model at one batch size. Latencies in milliseconds, sizes in bytes, accuracy as a fraction."""
    name: str
    batch_size: int
    latency_ms: float                     # the median of the timed calls
    latency_ci_ms: tuple                  # (low, high) bootstrap interval of that median
    p90_ms: float                         # 9 calls in 10 were at least this fast
    samples_ms: list                      # every timed call, in order
    throughput: float                     # examples per second at the median latency
    size_bytes: int | None                # what the model stores (None for a plain function: no parameters)
    peak_memory_bytes: int                # the most one call held at once
    accuracy: float | None = None         # of every labelled example; None without labels
    accuracy_ci: tuple | None = None      # (low, high) bootstrap interval over the examples
    task: str = ""                        # set by TinyMLPerf
    valid: bool = True                    # TinyMLPerf: the accuracy reached the task's quality target


class Benchmark:
    """Measures models side by side on the same inputs: latency at each batch size, accuracy, size and memory.

        bench = Benchmark(x_test, y_test, batch_sizes=(1, 32))
        results = bench.run({"baseline": model, "pruned": pruned})     # one BenchmarkResult per model and batch

    Every model is called as model(x) in evaluation mode under no_grad(). The inputs are prepared (as_input) before
    any timing: only the model's call is timed. Accuracy uses every example of `inputs` against `labels`.
    """

    def __init__(self, inputs, labels=None, batch_sizes=(1,), warmup=5, iterations=30, confidence=0.95,
                 seed=0, timer=None):
        self.inputs, self.labels = np.asarray(inputs), None if labels is None else np.asarray(labels)
        too_large = [b for b in batch_sizes if not 1 <= b <= len(self.inputs)]
        if too_large:
            raise ValueError(f"batch sizes {too_large} do not fit {len(self.inputs)} inputs")
        self.batch_sizes, self.confidence, self.seed = tuple(batch_sizes), confidence, seed
        self.timer = timer if timer is not None else Timer(warmup, iterations)

    def accuracy(self, model):
        """(accuracy, (low, high)) of the model on every input, or (None, None) without labels."""
        if self.labels is None:
            return None, None
        right = correct_per_example(inference(model, as_input(self.inputs)), self.labels)
        per_label = right / (self.labels.size // len(self.labels))
        low, high = bootstrap_ci(per_label, np.mean, self.confidence, seed=self.seed)
        return float(np.mean(per_label)), (low, high)

    def latencies(self, models):
        """{(name, batch size): [ms, ...]}: every model warmed up, then timed call by call, taking turns."""
        runs = {(name, b): (model, as_input(self.inputs[:b])) for name, model in models.items()
                for b in self.batch_sizes}
        samples = {key: [] for key in runs}
        # TODO 19.4: first warm up every (model, batch) in runs: self.timer.warmup calls of inference(model, x)
        # each, untimed. Then self.timer.iterations rounds; in each round every key of runs gets ONE call timed by
        # self.timer.time_call(inference, model, x), appended to samples[key]. Taking turns puts every model under
        # the same conditions: when the machine gets busy for a moment, every model's samples see it, not just
        # the one that happened to be running.
        ### BEGIN SOLUTION
        for model, x in runs.values():
            for _ in range(self.timer.warmup):
                inference(model, x)
        for _ in range(self.timer.iterations):
            for key, (model, x) in runs.items():
                samples[key].append(self.timer.time_call(inference, model, x))
        ### END SOLUTION
        return samples

    def run(self, models):
        """One BenchmarkResult per model (a dict {name: model}) and batch size, in that order."""
        samples = self.latencies(models)
        profiler, results = Profiler(), []
        for name, model in models.items():
            accuracy, accuracy_ci = self.accuracy(model)
            size = profiler.model_bytes(model) if callable(getattr(model, "parameters", None)) else None
            for b in self.batch_sizes:
                timing = Measurement(samples[(name, b)])
                x = as_input(self.inputs[:b])
                memory = profiler.measure_memory(inference, model, x)
                # TODO 19.4: a BenchmarkResult for this model and batch: latency_ms is timing's median (never
                # its mean: one call slowed by something else must not move it), latency_ci_ms its interval
                # (timing.ci with self.confidence and seed=self.seed), p90_ms its 90th percentile, samples_ms
                # timing.samples, throughput = b examples per median latency in SECONDS, size_bytes = size,
                # peak_memory_bytes = memory.peak_bytes, and the accuracy and its interval.
                ### BEGIN SOLUTION
                results.append(BenchmarkResult(
                    name=name, batch_size=b, latency_ms=timing.median,
                    latency_ci_ms=timing.ci(self.confidence, seed=self.seed), p90_ms=timing.percentile(90),
                    samples_ms=timing.samples, throughput=b / (timing.median / 1e3), size_bytes=size,
                    peak_memory_bytes=memory.peak_bytes,
                    accuracy=accuracy, accuracy_ci=accuracy_ci))
                ### END SOLUTION
        return results


# --- 19.5 the Pareto front ---------------------------------------------------------------------------------------

def dominates(a, b, cost="latency_ms", benefit="accuracy"):
    """True when result `a` is at least as good as `b` on both axes (cost no higher, benefit no lower) and strictly
    better on at least one. A dominated result is never the right choice: something else is better or equal on
    everything. `cost` and `benefit` name attributes of the results."""
    cost_a, cost_b = getattr(a, cost), getattr(b, cost)
    benefit_a, benefit_b = getattr(a, benefit), getattr(b, benefit)
    # TODO 19.5: the definition above, in one boolean expression.
    ### BEGIN SOLUTION
    return cost_a <= cost_b and benefit_a >= benefit_b and (cost_a < cost_b or benefit_a > benefit_b)
    ### END SOLUTION


def pareto_front(results, cost="latency_ms", benefit="accuracy"):
    """The results no other result dominates, sorted by cost (cheapest first). Two identical results do not
    dominate each other: both stay. Pass cost="size_bytes" for accuracy against size."""
    results = list(results)
    # TODO 19.5: keep each result r that no other result dominates (dominates(other, r, cost, benefit)); sort the
    # kept ones by their cost.
    ### BEGIN SOLUTION
    front = [r for r in results if not any(dominates(other, r, cost, benefit) for other in results if other is not r)]
    return sorted(front, key=lambda r: getattr(r, cost))
    ### END SOLUTION


# --- 19.6 TinyMLPerf: a suite with fixed rules ---------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """What a suite entry is measured on: the test inputs as the model takes them, their labels (a class per
    example, or per position of a sequence), and the accuracy an entry must reach to count."""
    name: str
    inputs: np.ndarray
    labels: np.ndarray
    quality_target: float


class TinyMLPerf:
    """The course's benchmark suite: MLPerf Inference's idea on a browser tab's scale. Anyone who runs it runs the
    same rules, so two results can be compared:

    - each task's entries are measured together by one Benchmark, taking turns (side by side, never one after
      the other);
    - single-stream (batch 1, one example as a user sends it) and offline (batch 32, throughput) for every entry;
    - WARMUP untimed calls per entry and batch, then ITERATIONS timed calls each; what is timed is the model's call
      in evaluation mode under no_grad() on inputs prepared beforehand;
    - latency is the median with a 95 % bootstrap interval (SEED fixed), and p90;
    - accuracy is the arg-max of the last axis against the labels, over every test example of the task;
    - an entry below its task's quality target is reported but not valid: a fast wrong model wins nothing.
    """

    WARMUP, ITERATIONS, BATCH_SIZES, CONFIDENCE, SEED = 5, 30, (1, 32), 0.95, 2018

    def __init__(self, tasks, timer=None):
        self.tasks = {task.name: task for task in tasks}
        self.timer = timer if timer is not None else Timer(self.WARMUP, self.ITERATIONS)

    def run(self, entries):
        """entries: {entry name: (task name, model)}. Returns the BenchmarkResults of every entry, task by task, with
        `task` and `valid` filled in."""
        unknown = {task for task, _ in entries.values()} - set(self.tasks)
        if unknown:
            raise KeyError(f"no task {sorted(unknown)} in this suite; it has {sorted(self.tasks)}")
        results = []
        for task in self.tasks.values():
            models = {name: model for name, (task_name, model) in entries.items() if task_name == task.name}
            if not models:
                continue
            # TODO 19.6: one Benchmark over this task's models with the suite's rules (the task's inputs and labels,
            # batch sizes BATCH_SIZES, confidence CONFIDENCE, seed SEED and self.timer); run it, and for each result
            # set result.task to the task's name and result.valid to whether its accuracy reached the quality target.
            ### BEGIN SOLUTION
            bench = Benchmark(task.inputs, task.labels, batch_sizes=self.BATCH_SIZES, confidence=self.CONFIDENCE,
                              seed=self.SEED, timer=self.timer)
            for result in bench.run(models):
                result.task = task.name
                result.valid = result.accuracy >= task.quality_target
                results.append(result)
            ### END SOLUTION
        return results


def format_results(results):
    """The results as text, three short lines each, every measured number with its interval; /s is examples per
    second at the median latency."""
    lines = []
    for r in results:
        task = f" · {r.task}" if r.task else ""
        verdict = "" if r.valid else " · NOT VALID: below the quality target"
        accuracy = "-" if r.accuracy is None else (
            f"{r.accuracy:.1%} [{r.accuracy_ci[0]:.1%}, {r.accuracy_ci[1]:.1%}]")
        size = "-" if r.size_bytes is None else f"{r.size_bytes / 1024:.1f} KB"
        lines += [f"{r.name}{task} · batch {r.batch_size}{verdict}",
                  f"  accuracy {accuracy}  size {size}  peak {r.peak_memory_bytes / 1024:.1f} KB",
                  f"  latency {r.latency_ms:.3f} ms [{r.latency_ci_ms[0]:.3f}, {r.latency_ci_ms[1]:.3f}]  "
                  f"p90 {r.p90_ms:.3f} ms  {r.throughput:,.0f}/s"]
    return "\n".join(lines)
