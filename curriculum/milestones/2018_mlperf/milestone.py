"""2018: the optimisation olympics, MLPerf's rules on a browser tab's scale, with every optimisation you built.

Part 1, TinyDigits: the course's MLP, trained here with your package, is the baseline. Then each optimisation is
applied in turn: structured pruning (module 16, then a short fine-tune with your Trainer), int8 quantisation (15),
the compiled matmul backend (17), and their combinations. Each row is measured at that moment by your Benchmark
(19), side by side with the baseline, taking turns: median latency of a batch of the 200 test digits with its
bootstrap interval, the bytes your Profiler (14) says the model stores, and accuracy on all 200 test digits.

Part 2, the tiny GPT: module 13's generate against your KV cache (18), generating up to the end of the GPT's window,
greedily, so both must write the very same tokens.

Success is measured, never assumed: the TinyDigits speed-up counts by the LOWER end of its 95 % interval; the KV
cache's, about 1.1x natively on a GPT this small, by its median, its interval printed beside it (story.md says why).
An optimisation that does nothing (a cache that is never read, a backend that changes nothing) shows about 1x.
Every number comes from `report.config` (milestone.toml's [config]).
"""
import time

import numpy as np

from tinytorch.benchmarking.benchmark import Benchmark, Timer, pareto_front, speedup_ci
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Layer
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import Trainer
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch.generation.kv_cache import disable_kv_cache, enable_kv_cache
from tinytorch.optimization.acceleration import get_backend, set_backend
from tinytorch.optimization.compression import structured_prune
from tinytorch.optimization.quantization import quantize_model
from tinytorch.profiling.profiler import Profiler
from tinytorch_wasm import kernels, plot
from tinytorch_wasm.datasets import load_tinydigits, load_tinytalks
from tinytorch_wasm.trained import tinydigits_mlp, tinytalks_gpt


def timer(warmup, iterations):
    """Your Timer (19) on the wall clock, natively and in the tab alike. Not CPU time: it adds up the CPU time of
    every thread native NumPy multiplies on, the tab's does not advance within a call, and in the grader's confined
    processes on the course's machines it counts in 4 ms ticks, coarser than a whole 4-8 ms generation of the GPT."""
    return Timer(warmup, iterations, clock=time.perf_counter)


class OnBackend(Layer):
    """`model` computed on matmul backend `backend` (module 17) for the length of each call, on NumPy otherwise, so
    that it can be timed side by side with a baseline that stays on NumPy. Its size is the model's."""

    def __init__(self, model, backend):
        self.model, self.backend = model, backend

    def forward(self, x):
        before = get_backend()
        set_backend(self.backend)
        try:
            return self.model(x)
        finally:
            set_backend(before)

    def parameters(self):
        return self.model.parameters()

    def train(self, mode=True):
        self.model.train(mode)
        return self


def profile_baseline(what, model, x):
    """Where a forward pass of the baseline spends its time and its arithmetic, layer by layer (your Profiler, 14):
    the numbers that say which optimisation can help."""
    profiler = Profiler()
    rows = [r for r in profiler.profile_layers(model, x) if r["name"] != "(model)"]
    print(f"Profile of the {what} ({profiler.count_parameters(model):,} parameters, {profiler.model_bytes(model):,} "
          f"bytes), one forward pass on input {tuple(np.shape(x.data if isinstance(x, Tensor) else x))}:")
    for r in rows:
        print(f"  {r['name']:<28} {r['kind']:<20} {r['self_ms']:8.3f} ms  {r['flops']:>12,} FLOPs")
    plot.bars([f"{r['name']} ({r['kind']})" for r in rows], {"ms (its own time, median of 5)": [r["self_ms"] for r in rows]},
              title=f"Profile of the {what}", xlabel="ms per forward pass")


# --- part 1: TinyDigits --------------------------------------------------------------------------------------------

def fine_tune(model, digits, c):
    """A few epochs of your Trainer on the pruned model: the remaining units take over the removed ones' work."""
    x = digits.x_train.reshape(len(digits.x_train), -1)
    loader = DataLoader(TensorDataset(x, digits.y_train), batch_size=32, shuffle=True, seed=c["seed"])
    trainer = Trainer(model, Adam(model.parameters(), lr=c["fine_tune_lr"]), CrossEntropyLoss())
    for _ in range(c["fine_tune_epochs"]):
        trainer.train_epoch(loader)
    return model


def digits_variants(baseline, digits, c):
    """(name, how, make) for each row after the baseline, in the order applied; make() builds the model then, from
    the ones before it. Each optimisation is your module's function, called as its lesson calls it."""
    x_train = digits.x_train.reshape(len(digits.x_train), -1)
    built = {}

    def pruned():
        np.random.seed(c["seed"])
        built["pruned"] = fine_tune(structured_prune(baseline, c["prune_fraction"], x_train[:4]), digits, c)
        return built["pruned"]

    calibration = x_train[:c["calibration_examples"]]
    return [
        ("compiled matmul", "set_backend('simd') (17)", lambda: OnBackend(baseline, "simd")),
        ("int8", "quantize_model (15)", lambda: quantize_model(baseline, calibration)),
        ("pruned", f"structured_prune {c['prune_fraction']:.0%} of hidden units (16), "
                   f"fine-tuned {c['fine_tune_epochs']} epochs", pruned),
        ("pruned + int8", "quantize_model of the pruned model", lambda: quantize_model(built["pruned"], calibration)),
        ("pruned + compiled matmul", "the pruned model on set_backend('simd')",
         lambda: OnBackend(built["pruned"], "simd")),
    ]


def measure_row(name, model, baseline, x, y, c):
    """One row: `model` and the baseline measured together by your Benchmark, taking turns, now."""
    bench = Benchmark(x, y, batch_sizes=(c["digits_batch"],), seed=c["seed"], timer=timer(c["warmup"], c["iterations"]))
    base, result = bench.run({"baseline": baseline, name: model})
    speedup, low, high = speedup_ci(base.samples_ms, result.samples_ms, seed=c["seed"])
    return {"name": name, "latency_ms": result.latency_ms, "latency_ci_ms": tuple(result.latency_ci_ms),
            "baseline_ms": base.latency_ms, "speedup": speedup, "speedup_ci": (low, high),
            "size_bytes": result.size_bytes, "accuracy": result.accuracy, "accuracy_ci": tuple(result.accuracy_ci),
            "result": result}


def digits_criteria(rows, tolerance):
    """The measured values the criteria read: the fastest row's speed-up (its interval's low end) and the smallest
    row's size reduction, each over the rows that keep accuracy within `tolerance` of the baseline (MLPerf's closed
    division: a fast wrong model wins nothing), and the accuracy drop of those two."""
    base = rows[0]
    valid = [r for r in rows[1:] if base["accuracy"] - r["accuracy"] <= tolerance + 1e-9]
    if not valid:
        drop = max(base["accuracy"] - r["accuracy"] for r in rows[1:]) if len(rows) > 1 else 0.0
        return {"latency_speedup": 0.0, "size_reduction": 1.0, "accuracy_drop": drop}, None, None
    fastest = max(valid, key=lambda r: r["speedup_ci"][0])
    smallest = min(valid, key=lambda r: r["size_bytes"])
    return {"latency_speedup": fastest["speedup_ci"][0], "size_reduction": base["size_bytes"] / smallest["size_bytes"],
            "accuracy_drop": max(base["accuracy"] - fastest["accuracy"], base["accuracy"] - smallest["accuracy"],
                                 0.0)}, fastest, smallest


def print_row(r):
    low, high = r["latency_ci_ms"]
    s_low, s_high = r["speedup_ci"]
    print(f"  {r['name']:<25} {r['latency_ms']:8.3f} ms [{low:.3f}, {high:.3f}]  {r['baseline_ms']:8.3f} ms  "
          f"x{r['speedup']:5.2f} [{s_low:.2f}, {s_high:.2f}]  {r['size_bytes'] / 1024:6.1f} KB  {r['accuracy']:6.1%}")


def draw_digits(rows, batch):
    names = [r["name"] for r in rows]
    plot.bars(names, {"speed-up, low end of its 95 % interval": [r["speedup_ci"][0] for r in rows],
                      "speed-up (medians)": [r["speedup"] for r in rows]},
              title="TinyDigits: speed-up over the baseline", xlabel=f"times faster (batch of {batch})")
    plot.bars(names, {"KB stored": [r["size_bytes"] / 1024 for r in rows]},
              title="TinyDigits: what each model stores", xlabel="KB (your Profiler.model_bytes)")
    front = pareto_front([r["result"] for r in rows])
    on_front = {id(result) for result in front}
    groups, x_int, y_int = {}, {}, {}
    for label, keep in (("on the Pareto front", True), ("dominated", False)):
        chosen = [r for r in rows if (id(r["result"]) in on_front) == keep]
        if chosen:
            groups[label] = ([r["latency_ms"] for r in chosen], [r["accuracy"] for r in chosen])
            x_int[label] = ([r["latency_ci_ms"][0] for r in chosen], [r["latency_ci_ms"][1] for r in chosen])
            y_int[label] = ([r["accuracy_ci"][0] for r in chosen], [r["accuracy_ci"][1] for r in chosen])
    lines = {"front": ([r.latency_ms for r in front], [r.accuracy for r in front])} if len(front) > 1 else None
    plot.scatter(groups, title="TinyDigits: accuracy against latency (Pareto front)",
                 xlabel=f"ms per batch of {batch} (median, 95 % interval)", ylabel="accuracy on 200 test digits",
                 lines=lines, x_intervals=x_int, y_intervals=y_int)


def tinydigits(report, c, total):
    digits = load_tinydigits()
    x, y = digits.x_test.reshape(len(digits.x_test), -1), digits.y_test
    baseline = tinydigits_mlp(epochs=c["mlp_epochs"], hidden=c["mlp_hidden"], seed=c["seed"], lr=c["mlp_lr"])
    print(f"TinyDigits MLP 64-{c['mlp_hidden']}-10, batch {c['digits_batch']}, {c['iterations']} timed calls per "
          f"model, taking turns with the baseline. Compiled kernel: "
          f"{'yes' if kernels.available() else 'no: ' + kernels.why_unavailable()}")
    profile_baseline(f"TinyDigits MLP, batch {c['digits_batch']}", baseline, Tensor(x[:c["digits_batch"]]))
    rows = [measure_row("baseline (float32)", baseline, baseline, x, y, c)]  # against itself: the noise floor
    print(f"  {'row':<25} {'latency [95 % interval]':>29}  {'baseline':>11}  {'speed-up [95 %]':>20}  {'size':>9}  "
          "accuracy\n  (each row timed now, taking turns with the baseline: its median beside it)")
    print_row(rows[0])
    for step, (name, how, make) in enumerate(digits_variants(baseline, digits, c), start=1):
        rows.append(measure_row(name, make(), baseline, x, y, c))
        print_row(rows[-1])
        values, _, _ = digits_criteria(rows, c["accuracy_tolerance"])
        report.progress(step, total, **values, row_speedup=rows[-1]["speedup"], row_speedup_low=rows[-1]["speedup_ci"][0],
                        row_kb=rows[-1]["size_bytes"] / 1024, row_accuracy=rows[-1]["accuracy"])
        draw_digits(rows, c["digits_batch"])
    values, fastest, smallest = digits_criteria(rows, c["accuracy_tolerance"])
    if fastest is None:
        print(f"No optimised model kept accuracy within {c['accuracy_tolerance']:.0%} of the baseline.")
    else:
        print(f"Fastest within {c['accuracy_tolerance']:.0%} of the baseline's accuracy: {fastest['name']}, "
              f"x{fastest['speedup']:.2f} (at least x{fastest['speedup_ci'][0]:.2f}); smallest: {smallest['name']}, "
              f"{values['size_reduction']:.1f}x fewer bytes")
    return values, len(rows) - 1


# --- part 2: the tiny GPT -------------------------------------------------------------------------------------------

def generation(gpt, prompt, new_tokens):
    """A callable for your Benchmark: greedy generation of `new_tokens` after the prompt, by gpt.generate."""
    def generate(ids):
        return gpt.generate(list(ids[0]), new_tokens, temperature=0)
    return generate


def next_token_accuracy(gpt, tokenizer, c):
    """Your Benchmark's accuracy of the GPT: next-token predictions on windows of TinyTalks' validation text."""
    ids = np.array(tokenizer.encode(load_tinytalks().validation[:c["gpt_eval_chars"]]), dtype=np.int64)
    window = gpt.max_seq_len
    count = (len(ids) - 1) // window
    x = ids[:count * window].reshape(count, window)
    y = ids[1:count * window + 1].reshape(count, window)
    return Benchmark(x, y, seed=c["seed"]).accuracy(gpt)


def tiny_gpt(report, c, first_step, total):
    talker = tinytalks_gpt(steps=c["gpt_standin_steps"])
    print(f"\nGPT: {talker.source}")
    prompt = talker.tokenizer.encode(c["gpt_prompt"])
    window = talker.model.max_seq_len
    length = min(c["gpt_length"], window)
    prompt = prompt[-max(1, min(len(prompt), length - 1)):]
    new_tokens = length - len(prompt)
    plain = disable_kv_cache(talker.model)
    cached = enable_kv_cache(tinytalks_gpt(steps=c["gpt_standin_steps"]).model)  # the same weights, a model of its own
    np.random.seed(c["seed"])
    plain_tokens = generation(plain, prompt, new_tokens)(np.array([prompt]))
    cached_tokens = generation(cached, prompt, new_tokens)(np.array([prompt]))
    writes, hits = cached.kv_cache.writes, cached.kv_cache.hits  # of this one generation
    if cached_tokens != plain_tokens:
        first = next(i for i, (a, b) in enumerate(zip(plain_tokens, cached_tokens)) if a != b)
        raise ValueError(f"your cached generate wrote other tokens than module 13's generate (greedy, the same "
                         f"prompt): they part at token {first}. A cache may only save work, never change the result; "
                         "module 18's tests say where")
    accuracy, _ = next_token_accuracy(plain, talker.tokenizer, c)
    profile_baseline(f"tiny GPT, one step of module 13's generate at {length - 1} tokens", plain,
                     np.array([plain_tokens[:length - 1]]))
    bench = Benchmark(np.array([prompt]), batch_sizes=(1,), seed=c["seed"],
                      timer=timer(c["gpt_warmup"], c["gpt_iterations"]))
    base, result = bench.run({"module 13's generate": generation(plain, prompt, new_tokens),
                              "with your KV cache": generation(cached, prompt, new_tokens)})
    speedup, low, high = speedup_ci(base.samples_ms, result.samples_ms, seed=c["seed"])
    # The criterion compares each side's fastest generation: other work on the machine only ever adds time, and on a
    # model this small the cache's true gain (~1.15x natively) is smaller than what a busy machine does to medians.
    fastest = min(base.samples_ms) / min(result.samples_ms)
    print(f"  {len(prompt)} prompt tokens + {new_tokens} generated = {length} tokens (the window is {window}); "
          f"the same tokens with and without the cache; next-token accuracy on validation text {accuracy:.1%}")
    for r in (base, result):
        print(f"  {r.name:<26} {r.latency_ms:8.2f} ms [{r.latency_ci_ms[0]:.2f}, {r.latency_ci_ms[1]:.2f}]")
    print(f"  KV cache speed-up x{speedup:.2f} [{low:.2f}, {high:.2f}] by the medians, x{fastest:.2f} fastest against "
          f"fastest. In one generation your cache computed {writes} "
          f"keys and values (per layer and position) and handed back {hits} it already held; module 13's generate "
          f"computed {len(plain.blocks) * sum(range(len(prompt), length))}")
    plot.scatter({name: ([r.latency_ms], [accuracy]) for name, r in ((base.name, base), (result.name, result))},
                 title=f"Tiny GPT: generating {length} tokens", xlabel="ms per generation (median, 95 % interval)",
                 ylabel="next-token accuracy (validation)",
                 x_intervals={r.name: ([r.latency_ci_ms[0]], [r.latency_ci_ms[1]]) for r in (base, result)})
    report.progress(first_step, total, kv_cache_speedup=fastest, row_speedup=speedup, row_speedup_low=low)
    return fastest


def run(report):
    c = report.config
    enable_autograd()  # the fine-tune after pruning trains with your autograd
    set_backend("numpy")
    total = 6
    try:
        values, steps = tinydigits(report, c, total)
        values["kv_cache_speedup"] = tiny_gpt(report, c, steps + 1, total)
    finally:
        set_backend("numpy")
    return values
