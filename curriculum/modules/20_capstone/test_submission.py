"""Tests for module 20 (Capstone). Sizes are recomputed from the arrays themselves, budgets checked against values
worked out by hand, speed-ups against NumPy medians of the same samples, and the order of the timed calls observed
by the models being timed. No test depends on how fast this machine is, and none compares with a reference file.
The budgets come from budgets.toml beside this file, the submission's shape from submission.schema.json."""
import json
from pathlib import Path

import numpy as np
import pytest

from tinytorch.benchmarking.benchmark import BenchmarkResult
from tinytorch.capstone.submission import (FORMAT, STEPS, Budgets, Data, check_budgets, make_submission, measure,
                                           optimize, summary)
from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Layer, Linear, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.optimization.quantization import QuantizedConv2d, QuantizedLinear

HERE = Path(__file__).parent
BUDGETS = Budgets.from_toml((HERE / "budgets.toml").read_text())
SCHEMA = json.loads((HERE / "submission.schema.json").read_text())
RNG = np.random.default_rng(2020)


def small_cnn(seed=0):
    np.random.seed(seed)
    return Sequential(Conv2d(1, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(64, 10))


def small_data(n=40):
    x = RNG.random((n, 1, 8, 8)).astype(np.float32)
    return Data(x, RNG.integers(0, 10, n), x[:16], RNG.integers(0, 10, 16))


def float_bytes(model):
    return sum(p.data.nbytes for p in model.parameters())


def weights(model):
    return [np.array(p.data) for p in model.parameters()]


def result(name, latency_ms, size_bytes, accuracy, samples=None):
    samples = list(samples if samples is not None else [latency_ms] * 5)
    return BenchmarkResult(name=name, batch_size=32, latency_ms=latency_ms, latency_ci_ms=(latency_ms * 0.9,
                           latency_ms * 1.1), p90_ms=latency_ms * 1.2, samples_ms=samples, throughput=1.0,
                           size_bytes=size_bytes, peak_memory_bytes=1000, accuracy=accuracy,
                           accuracy_ci=(accuracy - 0.03, min(1.0, accuracy + 0.03)))


def measured(latency_ms, size_bytes, accuracy):
    return {"latency_ms": latency_ms, "size_bytes": size_bytes, "accuracy": accuracy}


# --- 20.1 the pipeline ---------------------------------------------------------------------------------------------

@pytest.mark.exercise("20.1")
def test_optimize_applies_steps_in_order_with_their_parameters(monkeypatch):
    calls = []

    def recording(tag):
        def step(model, data, **params):
            calls.append((tag, model, params))
            return Sequential(Linear(2, 3 if tag == "a" else 5))
        return step

    monkeypatch.setitem(STEPS, "a", recording("a"))
    monkeypatch.setitem(STEPS, "b", recording("b"))
    start, data = Sequential(Linear(2, 2)), small_data()
    final, log = optimize(start, [{"step": "a", "fraction": 0.25}, {"step": "b"}], data)
    assert [c[0] for c in calls] == ["a", "b"], f"steps ran as {[c[0] for c in calls]}, expected a then b"
    assert calls[0][2] == {"fraction": 0.25} and calls[1][2] == {}, (
        f"each step gets its own parameters without the 'step' key: got {calls[0][2]} and {calls[1][2]}")
    assert calls[0][1] is start, "the first step must receive the model given to optimize"
    assert calls[1][1] is not start, "the second step must receive the FIRST step's result, not the original model"
    assert final.layers[0].weight.shape == (2, 5), "optimize must return the last step's result"
    assert [entry["step"] for entry in log] == ["a", "b"], f"one log entry per step, in order: got {log}"
    assert [entry["size_bytes"] for entry in log] == [(2 * 3 + 3) * 4, (2 * 5 + 5) * 4], (
        f"each log entry holds the stored bytes of the model AFTER its step: got {log}")


@pytest.mark.exercise("20.1")
def test_optimize_real_steps_shrink_a_copy():
    model, data = small_cnn(), small_data()
    before = weights(model)
    pruned, log = optimize(model, [{"step": "structured_prune", "fraction": 0.5}, {"step": "quantize"}], data)
    assert all(np.array_equal(a, b) for a, b in zip(before, weights(model))), "optimize changed the original model"
    assert float_bytes(model) == (4 * 9 + 4 + 64 * 10 + 10) * 4
    halved = (2 * 9 + 2 + 32 * 10 + 10) * 4
    assert log[0] == {"step": "structured_prune", "size_bytes": halved}, (
        f"pruning half of 4 channels leaves 2, and the Linear 32 inputs: {halved} bytes as float32, got {log[0]}")
    assert isinstance(pruned.layers[0], QuantizedConv2d) and isinstance(pruned.layers[-1], QuantizedLinear), (
        "the quantize step must quantize the PRUNED model (apply each step to the previous one's result)")
    assert log[1]["size_bytes"] < halved / 2, f"int8 stores about a quarter of float32: {log[1]} after {log[0]}"


@pytest.mark.exercise("20.1")
def test_optimize_rejects_an_unknown_step_by_name():
    with pytest.raises(ValueError, match="prune_everything"):
        optimize(small_cnn(), [{"step": "prune_everything"}], small_data())


@pytest.mark.exercise("20.1")
def test_optimize_with_no_steps_gives_the_model_and_an_empty_log():
    model = small_cnn()
    same, log = optimize(model, [], small_data())
    assert log == [], f"no steps, no log entries: got {log}"
    assert [np.array_equal(a, b) for a, b in zip(weights(model), weights(same))] == [True] * 4


# --- 20.2 measuring, side by side ------------------------------------------------------------------------------------

class Logged(Layer):
    """A model that writes down every call: which model, how many examples, in which mode."""

    def __init__(self, name, log):
        self.name, self.log, self.linear = name, log, Linear(4, 3)

    def forward(self, x):
        self.log.append((self.name, len(x.data), self.training))
        return self.linear(x)

    def parameters(self):
        return self.linear.parameters()


@pytest.mark.exercise("20.2")
def test_measure_times_both_models_taking_turns_at_the_budget_batch():
    log = []
    x = RNG.standard_normal((12, 4)).astype(np.float32)
    data = Data(x, np.zeros(12, int), x, RNG.integers(0, 3, 12))
    budgets = Budgets("t", max_size_bytes=100, max_latency_ratio=1.0, max_accuracy_drop=0.0, batch_size=4)
    base, opt = measure(Logged("baseline", log), Logged("optimized", log), data, budgets, warmup=2, iterations=6)
    assert (base.name, opt.name) == ("baseline", "optimized"), f"got results named {base.name}, {opt.name}"
    assert base.batch_size == opt.batch_size == 4, f"measure at the budgets' batch size 4, got {base.batch_size}"
    assert len(base.samples_ms) == len(opt.samples_ms) == 6, "iterations timed calls of each model"
    timed = [name for name, batch, _ in log if batch == 4][4:]  # after two warm-up calls of each
    assert timed[:12] == ["baseline", "optimized"] * 6, (
        f"the timed calls must alternate (one Benchmark over both models), got {timed[:12]}: measured one after "
        "the other, a busy minute lands on one model only")
    assert base.accuracy is not None and opt.accuracy is not None, "accuracy over the test labels, for both"


@pytest.mark.exercise("20.2")
def test_summary_is_plain_json_with_every_figure():
    r = result("optimized", np.float64(0.25), np.int64(5480), np.float64(0.965))
    s = summary(r)
    text = json.dumps(s)  # NumPy numbers would raise here
    again = json.loads(text)
    assert again["latency_ms"] == pytest.approx(0.25) and again["size_bytes"] == 5480, f"got {s}"
    assert again["accuracy"] == pytest.approx(0.965), f"got {s}"
    assert again["latency_ci_ms"] == pytest.approx([0.225, 0.275]) and again["p90_ms"] == pytest.approx(0.3)
    assert again["accuracy_ci"] == pytest.approx([0.935, 0.995]), f"got {s}"
    assert type(s["size_bytes"]) is int and type(s["latency_ms"]) is float, (
        f"plain int and float, not NumPy scalars: got {type(s['size_bytes'])} and {type(s['latency_ms'])}")


# --- 20.3 the budgets ------------------------------------------------------------------------------------------------

@pytest.mark.exercise("20.3")
def test_budgets_worked_by_hand():
    budgets = Budgets("t", max_size_bytes=6144, max_latency_ratio=0.8, max_accuracy_drop=0.01)
    checks = check_budgets(measured(0.50, 10920, 0.965), measured(0.30, 5480, 0.96), budgets)
    assert [c["name"] for c in checks] == ["size", "latency", "accuracy"], f"got {[c['name'] for c in checks]}"
    size, latency, accuracy = checks
    assert (size["value"], size["limit"], size["met"]) == (5480, 6144, True), f"size check: {size}"
    assert latency["value"] == pytest.approx(0.6) and latency["met"] is True, (
        f"0.30 ms against the baseline's 0.50 ms is a ratio of 0.6 (optimised / baseline): got {latency}")
    assert accuracy["value"] == pytest.approx(0.005) and accuracy["met"] is True, (
        f"96.5 % -> 96.0 % is a drop of 0.005 (half a point): got {accuracy}")
    assert latency["limit"] == 0.8 and accuracy["limit"] == 0.01


@pytest.mark.exercise("20.3")
@pytest.mark.parametrize("which, optimized", [
    ("size", measured(0.30, 6145, 0.965)),
    ("latency", measured(0.41, 5000, 0.965)),
    ("accuracy", measured(0.30, 5000, 0.95)),
], ids=["size", "latency", "accuracy"])
def test_each_budget_can_be_missed_alone(which, optimized):
    budgets = Budgets("t", max_size_bytes=6144, max_latency_ratio=0.8, max_accuracy_drop=0.01)
    checks = {c["name"]: c["met"] for c in check_budgets(measured(0.50, 10920, 0.965), optimized, budgets)}
    expected = {"size": True, "latency": True, "accuracy": True, which: False}
    assert checks == expected, f"only the {which} budget is missed here: got {checks}"


@pytest.mark.exercise("20.3")
def test_a_value_at_its_limit_meets_it_and_a_gain_is_a_negative_drop():
    budgets = Budgets("t", max_size_bytes=4000, max_latency_ratio=0.5, max_accuracy_drop=0.25)
    checks = check_budgets(measured(2.0, 9999, 0.5), measured(1.0, 4000, 0.25), budgets)
    assert [c["met"] for c in checks] == [True, True, True], f"a value equal to its limit meets it: got {checks}"
    gained = check_budgets(measured(2.0, 9999, 0.5), measured(1.0, 4000, 0.75), budgets)[2]
    assert gained["value"] == pytest.approx(-0.25) and gained["met"], (
        f"accuracy rising from 50 % to 75 % is a drop of -0.25, which meets any budget: got {gained}")
    assert all(type(c["met"]) is bool for c in checks), "met must be a plain bool (JSON true/false)"


@pytest.mark.exercise("20.3")
def test_the_declared_budgets_are_readable_and_sensible():
    assert BUDGETS.task == "TinyDigits CNN" and BUDGETS.batch_size >= 1, f"budgets.toml gave {BUDGETS}"
    assert 0 < BUDGETS.max_latency_ratio and 0 <= BUDGETS.max_accuracy_drop < 1 and BUDGETS.max_size_bytes > 0


# --- 20.4 the submission ---------------------------------------------------------------------------------------------

PIPELINE = [{"step": "structured_prune", "fraction": 0.5}, {"step": "finetune", "epochs": 3, "lr": 0.01}]


def submitted(base_latency=0.5, opt_latency=0.3, opt_size=5480, opt_accuracy=0.965):
    base = result("baseline", base_latency, 10920, 0.965, samples=[base_latency * f for f in (0.9, 1, 1.1, 1.3, 1)])
    opt = result("optimized", opt_latency, opt_size, opt_accuracy, samples=[opt_latency * f for f in (1, 0.95, 1.2, 1)])
    return make_submission(base, opt, PIPELINE, BUDGETS, log=[{"step": "structured_prune", "size_bytes": 5480}])


@pytest.mark.exercise("20.4")
def test_submission_has_the_schema_shape_and_survives_json():
    s = submitted()
    missing = [key for key in SCHEMA["required"] if key not in s]
    unknown = [key for key in s if key not in SCHEMA["properties"]]
    assert not missing and not unknown, f"the submission lacks {missing} and has keys the schema does not know {unknown}"
    assert s["format"] == FORMAT and s["version"] == SCHEMA["properties"]["version"]["const"], f"got {s['format']}"
    assert json.loads(json.dumps(s)) == s, "the submission must be plain JSON (json.dumps, then loads, gives it back)"
    assert s["pipeline"] == PIPELINE and s["pipeline"] is not PIPELINE, "a copy of the pipeline, as data"
    assert s["budgets"] == {"task": BUDGETS.task, "max_size_bytes": BUDGETS.max_size_bytes,
                            "max_latency_ratio": BUDGETS.max_latency_ratio,
                            "max_accuracy_drop": BUDGETS.max_accuracy_drop, "batch_size": BUDGETS.batch_size}
    assert s["backend"] in ("numpy", "simd") and s["task"] == BUDGETS.task
    assert s["baseline"]["size_bytes"] == 10920 and s["optimized"]["size_bytes"] == 5480


@pytest.mark.exercise("20.4")
def test_submission_passes_only_when_every_budget_is_met():
    assert BUDGETS.max_latency_ratio < 0.96 and BUDGETS.max_size_bytes >= 5480, "these cases assume budgets.toml's"
    assert submitted()["passed"] is True, "every budget met here: passed must be True"
    slow = submitted(opt_latency=0.48)
    assert [c["met"] for c in slow["checks"]] == [True, False, True] and slow["passed"] is False, (
        f"0.48 / 0.5 = 0.96x misses the {BUDGETS.max_latency_ratio}x latency budget, so the submission does not pass: {slow['checks']}")
    big = submitted(opt_size=BUDGETS.max_size_bytes + 1)
    assert big["passed"] is False, "one byte over the size budget: not passed"


@pytest.mark.exercise("20.4")
def test_submission_speedup_comes_from_both_models_samples():
    s = submitted()
    base = [0.5 * f for f in (0.9, 1, 1.1, 1.3, 1)]
    opt = [0.3 * f for f in (1, 0.95, 1.2, 1)]
    expected = float(np.median(base) / np.median(opt))
    assert s["speedup"]["median"] == pytest.approx(expected), (
        f"speed-up = median of the baseline's samples / median of the optimised model's: {expected}, "
        f"got {s['speedup']['median']}")
    low, high = s["speedup"]["ci"]
    assert low <= expected <= high, f"the interval [{low}, {high}] must contain the speed-up {expected}"
