"""Module 20: Capstone, optimising a model end to end under stated budgets, and a submission that proves it.

Modules 14 to 19 gave you the tools: a Profiler, int8 quantization, pruning and low-rank factors, a faster matmul
backend, and a benchmark whose numbers can be trusted. Here they become one pipeline. You take the 1998 CNN trained
on TinyDigits (the baseline), run a list of optimisation steps over a copy of it, measure the result beside the
baseline with module 19's Benchmark, check it against three budgets (size, latency relative to the baseline,
accuracy), and write everything down as a submission: a JSON document that follows a schema kept in the course,
saved in your progress and exported with it, so that an instructor can run your pipeline again and check every
number instead of believing it.

The budgets are not in this file: they are declared beside it (budgets.toml) and read with Budgets.from_toml.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import copy
import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import NamedTuple

import numpy as np

from tinytorch.benchmarking.benchmark import Benchmark, speedup_ci
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import Trainer
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch.optimization.acceleration import get_backend
from tinytorch.optimization.compression import factorize, magnitude_prune, sparsify, structured_prune
from tinytorch.optimization.quantization import quantize_model
from tinytorch.profiling.profiler import Profiler

FORMAT = "tinytorch-capstone-submission"  # what a submission says it is (submission.schema.json)
VERSION = 1


@dataclass(frozen=True)
class Budgets:
    """What the optimised model must meet. Latency is relative to the baseline measured side by side on the same
    machine (machines differ; a ratio travels, milliseconds do not), at `batch_size` examples per call."""
    task: str
    max_size_bytes: int          # stored bytes, as module 14's Profiler().model_bytes counts them
    max_latency_ratio: float     # optimised median latency / baseline median latency
    max_accuracy_drop: float     # baseline accuracy - optimised accuracy, as a fraction (0.01 is one point)
    batch_size: int = 32

    @classmethod
    def from_toml(cls, text):
        """The budgets a TOML text declares (budgets.toml beside this module)."""
        return cls(**tomllib.loads(text))


class Data(NamedTuple):
    """The task's examples as the model takes them: images (N, 1, 8, 8) and their digits."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def calibration(self):
        """A batch of typical inputs (the first 64 training images), for calibrating int8 layers."""
        return self.x_train[:64]


# --- 20.1 the pipeline ---------------------------------------------------------------------------------------------

def finetune(model, data, epochs=3, lr=0.01, seed=0):
    """A copy of `model` trained `epochs` more epochs on the training set (Adam, batch 32, cross-entropy, your
    Trainer): pruning removes units the others relied on, and a little training lets them take over."""
    tuned = copy.deepcopy(model)
    loader = DataLoader(TensorDataset(data.x_train, data.y_train), batch_size=32, shuffle=True, seed=seed)
    trainer = Trainer(tuned, Adam(tuned.parameters(), lr=lr), CrossEntropyLoss())
    for _ in range(epochs):
        trainer.train_epoch(loader)
    return tuned


# Each step takes (model, data, **its parameters) and returns a NEW model, built with an earlier module's API.
STEPS = {
    "structured_prune": lambda model, data, fraction: structured_prune(model, fraction, data.calibration[:2]),
    "magnitude_prune": lambda model, data, sparsity: sparsify(magnitude_prune(model, sparsity)),
    "low_rank": lambda model, data, rank_ratio: factorize(model, rank_ratio),
    "finetune": finetune,
    "quantize": lambda model, data: quantize_model(model, data.calibration),
}


def optimize(model, pipeline, data):
    """(optimised model, log): the steps of `pipeline` applied in order, each to the previous one's result.

    `pipeline` is a list of steps such as {"step": "structured_prune", "fraction": 0.5}: "step" names an entry of
    STEPS and the other keys are its parameters. `model` itself is never changed (every step returns a new model).
    `log` has one entry per step, {"step": name, "size_bytes": the stored bytes of the model after it}.
    """
    log = []
    current = model
    for step in pipeline:
        params = {key: value for key, value in step.items() if key != "step"}
        name = step.get("step")
        # TODO 20.1: a name that is not in STEPS raises a ValueError that names it and lists the known steps; else
        # the step's result STEPS[name](current, data, **params) becomes the current model, and append {"step": name, "size_bytes": ...} to log, the
        # size from Profiler().model_bytes(current).
        ### BEGIN SOLUTION
        if name not in STEPS:
            raise ValueError(f"unknown pipeline step {name!r}: choose one of {', '.join(STEPS)}")
        current = STEPS[name](current, data, **params)
        log.append({"step": name, "size_bytes": Profiler().model_bytes(current)})
        ### END SOLUTION
    return current, log


# --- 20.2 measuring, side by side ------------------------------------------------------------------------------------

def measure(baseline, optimized, data, budgets, warmup=5, iterations=30, seed=0):
    """(baseline result, optimised result): one module-19 Benchmark over both models, on the test set, at the
    budgets' batch size, the two taking turns, so that whatever the machine does meanwhile falls on both."""
    # TODO 20.2: Benchmark(data.x_test, data.y_test, batch_sizes=(budgets.batch_size,), warmup=warmup,
    # iterations=iterations, seed=seed), run once on {"baseline": baseline, "optimized": optimized}; return its two
    # results in that order.
    ### BEGIN SOLUTION
    bench = Benchmark(data.x_test, data.y_test, batch_sizes=(budgets.batch_size,), warmup=warmup,
                      iterations=iterations, seed=seed)
    base, opt = bench.run({"baseline": baseline, "optimized": optimized})
    return base, opt
    ### END SOLUTION


def summary(result):
    """A BenchmarkResult as plain JSON numbers: what a submission says about one model."""
    # TODO 20.2: {"latency_ms": the median, "latency_ci_ms": [low, high], "p90_ms", "size_bytes", "accuracy",
    # "accuracy_ci": [low, high]}, every number a plain float (int for size_bytes): json.dumps takes no NumPy values.
    ### BEGIN SOLUTION
    return {"latency_ms": float(result.latency_ms), "latency_ci_ms": [float(v) for v in result.latency_ci_ms],
            "p90_ms": float(result.p90_ms), "size_bytes": int(result.size_bytes),
            "accuracy": float(result.accuracy), "accuracy_ci": [float(v) for v in result.accuracy_ci]}
    ### END SOLUTION


# --- 20.3 the budgets ------------------------------------------------------------------------------------------------

def check_budgets(baseline, optimized, budgets):
    """One check per budget, each {"name", "value", "limit", "met"}, from the summaries of the two models:

    - "size":     the optimised model's stored bytes, at most max_size_bytes;
    - "latency":  its median latency divided by the baseline's (below 1 is faster), at most max_latency_ratio;
    - "accuracy": how far its accuracy fell below the baseline's (negative when it rose), at most max_accuracy_drop.

    A value equal to its limit meets it.
    """
    # TODO 20.3: the three checks above, in that order; "met" a plain bool.
    ### BEGIN SOLUTION
    measured = [("size", optimized["size_bytes"], budgets.max_size_bytes),
                ("latency", optimized["latency_ms"] / baseline["latency_ms"], budgets.max_latency_ratio),
                ("accuracy", baseline["accuracy"] - optimized["accuracy"], budgets.max_accuracy_drop)]
    return [{"name": name, "value": value, "limit": limit, "met": bool(value <= limit)}
            for name, value, limit in measured]
    ### END SOLUTION


# --- 20.4 the submission ---------------------------------------------------------------------------------------------

def make_submission(baseline_result, optimized_result, pipeline, budgets, log=()):
    """The submission: a dict that submission.schema.json accepts and json.dumps can write.

    It says what was done (the pipeline, as data anyone can run again), under which budgets, what was measured
    (both models' summaries, the speed-up with its interval from both models' samples), the checks, and whether all
    of them were met. Nothing in it is believed by the grader: it re-runs the pipeline and measures again.
    """
    baseline, optimized = summary(baseline_result), summary(optimized_result)
    speedup, low, high = speedup_ci(baseline_result.samples_ms, optimized_result.samples_ms, seed=0)
    # TODO 20.4: checks = check_budgets(baseline, optimized, budgets); return {"format": FORMAT, "version": VERSION,
    # "task": budgets.task, "pipeline": list(pipeline), "log": list(log), "budgets": asdict(budgets),
    # "backend": get_backend(), "baseline": baseline, "optimized": optimized,
    # "speedup": {"median": speedup, "ci": [low, high]}, "checks": checks, "passed": True only when EVERY check is
    # met, "created_at": datetime.now(timezone.utc).isoformat()}.
    ### BEGIN SOLUTION
    checks = check_budgets(baseline, optimized, budgets)
    return {"format": FORMAT, "version": VERSION, "task": budgets.task, "pipeline": list(pipeline),
            "log": list(log), "budgets": asdict(budgets), "backend": get_backend(),
            "baseline": baseline, "optimized": optimized,
            "speedup": {"median": float(speedup), "ci": [float(low), float(high)]},
            "checks": checks, "passed": all(c["met"] for c in checks),
            "created_at": datetime.now(timezone.utc).isoformat()}
    ### END SOLUTION


def format_submission(submission):
    """The submission as a few lines of text: each budget with its measured value and verdict."""
    units = {"size": lambda v: f"{v / 1024:.2f} KB", "latency": lambda v: f"{v:.2f}x the baseline's time",
             "accuracy": lambda v: f"{v * 100:.1f} points lost"}
    lines = [f"{submission['task']}: " + " -> ".join(s["step"] for s in submission["pipeline"]) +
             f" ({submission['backend']} backend)"]
    for c in submission["checks"]:
        show = units[c["name"]]
        lines.append(f"  {c['name']:9s} {show(c['value']):>28s}  budget {show(c['limit']):>28s}  "
                     + ("met" if c["met"] else "MISSED"))
    s = submission["speedup"]
    lines.append(f"  speed-up {s['median']:.2f}x [{s['ci'][0]:.2f}, {s['ci'][1]:.2f}]; "
                 + ("every budget met" if submission["passed"] else "not every budget met"))
    return "\n".join(lines)
