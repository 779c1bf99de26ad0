"""The grader's re-check of a capstone submission (declared in module.toml, run by tinytorch_wasm.results.recheck).

Nothing the submission claims is believed. The baseline is trained again with the learner's package
(tinytorch_wasm.trained, the same seeds as in the tab), the submission's pipeline is run again with the learner's
own `optimize`, and both models are measured here: accuracy and latency by this file's own loop (not the learner's
module 19, which could be wrong), size by the package's Profiler (module 14, whose tests check it). The budgets are
the course's (budgets.toml), not the ones the submission quotes. Each claimed figure is then compared with the
re-measured one, allowing for the noise each kind of figure has:

- sizes are deterministic: any difference is reported;
- accuracy: the tab trains with Pyodide's NumPy, the grader with its own, and their last bits of rounding differ;
  a difference above ACCURACY_NOISE (2 of 200 digits) is reported;
- latency: machines differ (a tab's WebAssembly against native code), so only the ratio is compared, and only
  when the claimed ratio lies outside the re-measured interval widened by LATENCY_NOISE either way.
"""
import time
from pathlib import Path

import numpy as np

ACCURACY_NOISE = 0.01
LATENCY_NOISE = 1.5
WARMUP, ITERATIONS, RESAMPLES = 5, 30, 1000


def _timed(models, x):
    """{name: [ms, ...]}: every model warmed up, then timed call by call, taking turns (in evaluation mode)."""
    from tinytorch.core.autograd import no_grad
    samples = {name: [] for name in models}
    with no_grad():
        for model in models.values():
            for _ in range(WARMUP):
                model(x)
        for _ in range(ITERATIONS):
            for name, model in models.items():
                start = time.perf_counter()
                model(x)
                samples[name].append((time.perf_counter() - start) * 1e3)
    return samples


def _ratio_interval(base, opt, seed=0):
    """Median(opt) / median(base) and a 95 % bootstrap interval, each measurement resampled on its own."""
    rng = np.random.default_rng(seed)
    base, opt = np.asarray(base), np.asarray(opt)
    ratios = (np.median(opt[rng.integers(0, len(opt), (RESAMPLES, len(opt)))], axis=1)
              / np.median(base[rng.integers(0, len(base), (RESAMPLES, len(base)))], axis=1))
    return float(np.median(opt) / np.median(base)), float(np.percentile(ratios, 2.5)), float(np.percentile(ratios, 97.5))


def recheck(claimed, module):
    from tinytorch.capstone.submission import Budgets, Data, optimize
    from tinytorch.core.tensor import Tensor
    from tinytorch.profiling.profiler import Profiler
    from tinytorch_wasm.datasets import load_tinydigits
    from tinytorch_wasm.trained import channel_images, tinydigits_cnn

    budgets = Budgets.from_toml((Path(module.folder) / "budgets.toml").read_text())
    digits = load_tinydigits()
    data = Data(channel_images(digits.x_train), digits.y_train, channel_images(digits.x_test), digits.y_test)
    baseline = tinydigits_cnn()
    optimized, _ = optimize(baseline, claimed["pipeline"], data)
    for model in (baseline, optimized):
        if callable(getattr(model, "eval", None)):
            model.eval()

    x = Tensor(data.x_test[:budgets.batch_size])
    samples = _timed({"baseline": baseline, "optimized": optimized}, x)
    ratio, low, high = _ratio_interval(samples["baseline"], samples["optimized"])
    remeasured = {}
    for name, model in (("baseline", baseline), ("optimized", optimized)):
        from tinytorch.core.autograd import no_grad
        with no_grad():
            scores = model(Tensor(data.x_test)).data
        remeasured[name] = {"size_bytes": int(Profiler().model_bytes(model)),
                            "accuracy": float(np.mean(scores.argmax(axis=-1) == data.y_test)),
                            "latency_ms": float(np.median(samples[name]))}
    base, opt = remeasured["baseline"], remeasured["optimized"]
    checks = [{"name": "size", "value": opt["size_bytes"], "limit": budgets.max_size_bytes},
              {"name": "latency", "value": ratio, "limit": budgets.max_latency_ratio, "interval": [low, high]},
              {"name": "accuracy", "value": base["accuracy"] - opt["accuracy"], "limit": budgets.max_accuracy_drop}]
    for check in checks:
        check["met"] = bool(check["value"] <= check["limit"] + 1e-12)

    differences = []
    if claimed["budgets"] != {"task": budgets.task, "max_size_bytes": budgets.max_size_bytes,
                              "max_latency_ratio": budgets.max_latency_ratio,
                              "max_accuracy_drop": budgets.max_accuracy_drop, "batch_size": budgets.batch_size}:
        differences.append(f"the submission quotes budgets {claimed['budgets']}, the course's are those of "
                           "budgets.toml (checked against those)")
    for name in ("baseline", "optimized"):
        said, found = claimed[name], remeasured[name]
        if said["size_bytes"] != found["size_bytes"]:
            differences.append(f"{name} size: claimed {said['size_bytes']:,} bytes, re-measured {found['size_bytes']:,}")
        if abs(said["accuracy"] - found["accuracy"]) > ACCURACY_NOISE + 1e-12:
            differences.append(f"{name} accuracy: claimed {said['accuracy']:.1%}, re-measured {found['accuracy']:.1%}")
    claimed_ratio = claimed["optimized"]["latency_ms"] / claimed["baseline"]["latency_ms"]
    if not low / LATENCY_NOISE <= claimed_ratio <= high * LATENCY_NOISE:
        differences.append(f"latency ratio: claimed {claimed_ratio:.2f}x the baseline's time, re-measured {ratio:.2f}x "
                           f"[{low:.2f}, {high:.2f}] (beyond a factor {LATENCY_NOISE} of the interval)")
    said_passed = claimed["passed"]
    passed = all(c["met"] for c in checks)
    if said_passed != passed:
        differences.append(f"the submission says its budgets were {'all met' if said_passed else 'not all met'}; "
                           f"re-measured, they were {'all met' if passed else 'not all met'}")
    return {"passed": passed, "checks": checks, "remeasured": remeasured, "differences": differences,
            "pipeline": claimed["pipeline"]}
