"""Module 14: Profiling, measuring where a model's time and memory go before changing anything.

A Profiler counts what a model is (parameters, bytes, FLOPs) and measures what it does (the memory peak of a call
with tracemalloc, latency as the median of many timed calls), for the whole model and layer by layer. Amdahl's law
then says what speeding up one part can give the whole. Every later optimisation (quantization, pruning, kernels,
caches) is judged by these numbers.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import time
import tracemalloc
from typing import NamedTuple

import numpy as np

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor


# --- finding the layers of a model (given) --------------------------------------------------------------------

def is_layer(obj):
    """Anything called like a layer: an object (not a class) with a forward method. Activations count too."""
    return not isinstance(obj, type) and callable(getattr(obj, "forward", None))


def named_layers(model, prefix=""):
    """Every layer inside `model`, the model itself first, as (name, layer) pairs, depth first.

    Names are attribute paths: "blocks.1.attn.q_proj" is model.blocks[1].attn.q_proj, and the model itself is "".
    A layer reachable twice (shared) is listed once. Modules 15 and 16 use this to find the layers they replace.
    """
    seen = set()

    def walk(name, layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        yield name, layer
        for key, value in vars(layer).items():
            children = value if isinstance(value, (list, tuple)) else [value]
            for i, child in enumerate(children):
                if is_layer(child):
                    child_name = key if not isinstance(value, (list, tuple)) else f"{key}.{i}"
                    yield from walk(f"{name}.{child_name}" if name else child_name, child)

    yield from walk(prefix, model)


def set_layer(model, name, new_layer):
    """Put `new_layer` where named_layers(model) found the layer called `name` ("blocks.1.mlp.fc1", "layers.0"),
    inside `model` itself. Modules 15 and 16 swap layers for quantized, factorised or pruned ones with it."""
    *path, last = name.split(".")
    parent = model
    for part in path:
        parent = parent[int(part)] if isinstance(parent, (list, tuple)) else getattr(parent, part)
    if isinstance(parent, list):
        parent[int(last)] = new_layer
    else:
        setattr(parent, last, new_layer)


def _shape(x):
    return tuple(np.shape(x.data if isinstance(x, Tensor) else x))


def _nbytes(x):
    if isinstance(x, Tensor):
        return int(x.data.nbytes)
    return int(x.nbytes) if isinstance(x, np.ndarray) else 0


def trace_calls(model, *inputs):
    """Run model(*inputs) once with every layer's forward timed; returns one record per layer call, in the order the
    calls finished (a layer after the layers it called):

        {"name", "layer", "input_shape", "output_shape", "output_bytes",
         "seconds": time from entering the layer's forward to leaving it, the layers it called included,
         "children_seconds": the part of that spent inside the layers it called}
    """
    records, stack, patched = [], [], []

    def timed(name, layer, forward):
        def call(*args, **kwargs):
            record = {"name": name, "layer": layer, "input_shape": _shape(args[0]) if args else (),
                      "children_seconds": 0.0}
            stack.append(record)
            start = time.perf_counter()
            try:
                out = forward(*args, **kwargs)
            finally:
                record["seconds"] = time.perf_counter() - start
                stack.pop()
            if stack:
                stack[-1]["children_seconds"] += record["seconds"]
            record["output_shape"], record["output_bytes"] = _shape(out), _nbytes(out)
            records.append(record)
            return out
        return call

    try:
        for name, layer in named_layers(model):
            # An attribute on the instance is found before the class's method, so layer(x) runs the timed forward.
            patched.append((layer, layer.__dict__.get("forward")))
            layer.forward = timed(name, layer, layer.forward)
        model(*inputs)
    finally:
        for layer, own in patched:
            if own is None:
                del layer.forward
            else:
                layer.forward = own
    return records


# --- 14.1 counting parameters and bytes --------------------------------------------------------------------------

def _unique(tensors):
    """Each Tensor once, however often it is listed (a layer used twice lists its weights twice)."""
    seen, unique = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            unique.append(t)
    return unique


class MemoryUsage(NamedTuple):
    peak_bytes: int      # the most memory the call held at once, above what was allocated before it
    retained_bytes: int  # what the call allocated and is still alive after it returned (its result, a graph...)


class Profiler:
    """Counts and measurements of a model.

        profiler = Profiler()
        profiler.count_parameters(model)                   # numbers learned
        profiler.count_flops(model, (1, 64))               # floating-point operations of one forward pass
        profiler.measure_memory(model, x).peak_bytes       # tracemalloc's peak while model(x) runs
        profiler.measure_latency(model, x, warmup=3, iterations=10)   # median milliseconds per call
        profiler.profile_layers(model, x)                  # the same, layer by layer
    """

    def count_parameters(self, model):
        """How many numbers the model learns: the sizes of its parameters, each Tensor counted once."""
        # TODO 14.1: the sum of .size over _unique(model.parameters()). A layer used twice in a model lists the
        # same weight twice; it is stored (and learned) once.
        ### BEGIN SOLUTION
        return int(sum(p.size for p in _unique(model.parameters())))
        ### END SOLUTION

    def model_bytes(self, model):
        """Bytes the model's weights take as stored.

        A layer that stores its weights in a form of its own (int8 in module 15, a sparse format in module 16) says
        how many bytes with a `storage_bytes()` method; every other weight is a parameter, counted by its
        memory_footprint(), each Tensor once.
        """
        # TODO 14.1: add storage_bytes() of every layer in named_layers(model) that has that method, to the
        # memory_footprint() of each unique parameter of the model.
        ### BEGIN SOLUTION
        stored = sum(layer.storage_bytes() for _, layer in named_layers(model) if hasattr(layer, "storage_bytes"))
        return int(stored + sum(p.memory_footprint() for p in _unique(model.parameters())))
        ### END SOLUTION

    # --- 14.2 counting FLOPs -------------------------------------------------------------------------------------
    def count_flops(self, model, input_shape):
        """Floating-point operations of one forward pass on an input of `input_shape` (zeros; token ids for a GPT).

        Convention: 2 FLOPs per multiply-add of the matrix products (a Linear, a Conv2d, attention's Q @ K^T and
        weights @ V), the work that grows with width times size. Elementwise work (activations, softmax, norms,
        pooling, bias and residual additions) is not counted: it is one operation per value, small beside a
        product, though not always in time (measure that with profile_layers).
        """
        with no_grad():  # one pass to learn each layer's input and output shapes; no graph
            calls = trace_calls(model, Tensor(np.zeros(input_shape, dtype=np.float32)))
        # TODO 14.2: the sum of layer_flops(call["layer"], call["input_shape"], call["output_shape"]) over the calls.
        ### BEGIN SOLUTION
        return int(sum(layer_flops(c["layer"], c["input_shape"], c["output_shape"]) for c in calls))
        ### END SOLUTION

    # --- 14.3 memory -------------------------------------------------------------------------------------------
    def measure_memory(self, fn_or_model, *inputs):
        """MemoryUsage of one call fn_or_model(*inputs), as tracemalloc sees it: Python objects and NumPy's array
        buffers (NumPy reports them to tracemalloc), allocated during the call. Memory held before the call (the
        weights, the inputs) is not part of it.
        """
        # TODO 14.3: start tracemalloc unless it is already tracing (the page's Profile button traces everything:
        # do not stop it under its feet). Note the current traced memory, tracemalloc.reset_peak(), make the call
        # and keep its result alive, read (current, peak) with tracemalloc.get_traced_memory(), and stop tracing
        # only if you started it. peak_bytes = peak - before, retained_bytes = current - before (never below 0).
        ### BEGIN SOLUTION
        started_here = not tracemalloc.is_tracing()
        if started_here:
            tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            result = fn_or_model(*inputs)
            current, peak = tracemalloc.get_traced_memory()
        finally:
            if started_here:
                tracemalloc.stop()
        del result
        return MemoryUsage(max(peak - before, 0), max(current - before, 0))
        ### END SOLUTION

    # --- 14.4 latency ------------------------------------------------------------------------------------------
    def measure_latency(self, model, x, warmup=3, iterations=10):
        """Median milliseconds of one call model(x), measured for inference: inside no_grad(), after `warmup` calls
        that are not timed (the first calls pay one-off costs: imports, allocations, caches)."""
        if iterations < 1:
            raise ValueError(f"iterations must be at least 1, got {iterations}")
        # TODO 14.4: inside `with no_grad():`, call model(x) `warmup` times without timing, then `iterations`
        # times, each timed with time.perf_counter(). Return the median of those timings in milliseconds
        # (np.median): one slow call (the machine busy with something else) must not move it, as it moves a mean.
        ### BEGIN SOLUTION
        times = []
        with no_grad():
            for _ in range(warmup):
                model(x)
            for _ in range(iterations):
                start = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - start)
        return float(np.median(times)) * 1e3
        ### END SOLUTION

    # --- 14.5 layer by layer -----------------------------------------------------------------------------------
    def profile_layers(self, model, x, iterations=5):
        """One row per layer that ran in model(x), in the order of named_layers(model):

            {"name", "kind" (its class), "calls" (per pass), "self_ms" (its own time, the layers it called excluded),
             "total_ms" (everything between entering and leaving it), "flops" (its own, as count_flops counts them),
             "output_bytes" (the activations it hands on, per pass)}

        Times are medians over `iterations` passes under no_grad(), after one untimed pass.
        """
        with no_grad():
            trace_calls(model, x)  # warm-up
            runs = [trace_calls(model, x) for _ in range(iterations)]
        rows = []
        for name, layer in named_layers(model):
            mine = [[c for c in run if c["name"] == name] for run in runs]
            if not mine[0]:
                continue  # this layer did not run (a branch the model did not take)
            # TODO 14.5: for each run, this layer's self time is the sum over its calls of (seconds - children_seconds),
            # and its total time the sum of seconds. self_ms and total_ms are the medians over the runs, in ms.
            ### BEGIN SOLUTION
            self_ms = float(np.median([sum(c["seconds"] - c["children_seconds"] for c in calls) for calls in mine]))
            total_ms = float(np.median([sum(c["seconds"] for c in calls) for calls in mine]))
            self_ms, total_ms = self_ms * 1e3, total_ms * 1e3
            ### END SOLUTION
            first = mine[0]
            rows.append({"name": name or "(model)", "kind": type(layer).__name__, "calls": len(first),
                         "self_ms": self_ms, "total_ms": total_ms,
                         "flops": sum(layer_flops(layer, c["input_shape"], c["output_shape"]) for c in first),
                         "output_bytes": sum(c["output_bytes"] for c in first)})
        return rows


def layer_flops(layer, input_shape, output_shape):
    """FLOPs of one call of `layer` itself (not of the layers it calls), 2 per multiply-add:

        Linear: every row of the input (all axes but the last) times the (in, out) weight:
                2 * rows * in_features * out_features
        Conv2d: every output value (N, out_channels, H_out, W_out) sums in_channels * k * k products
        MultiHeadAttention, on x (B, T, D): Q @ K^T and weights @ V, each B * H heads of (T x head_dim) @
                (head_dim x T), i.e. B * T * T * D multiply-adds each. Its four projections are Linear layers,
                counted when they run.
        anything else: 0
    """
    # TODO 14.2: the three formulas above, with isinstance; math on shapes with int(np.prod(...)).
    ### BEGIN SOLUTION
    if isinstance(layer, Linear):
        rows = int(np.prod(input_shape[:-1]))
        return 2 * rows * layer.in_features * layer.out_features
    if isinstance(layer, Conv2d):
        return 2 * int(np.prod(output_shape)) * layer.in_channels * layer.kernel_size * layer.kernel_size
    if isinstance(layer, MultiHeadAttention):
        batch, steps, dim = input_shape
        return 2 * 2 * batch * steps * steps * dim
    return 0
    ### END SOLUTION


def amdahl_speedup(fraction, factor):
    """Amdahl's law: the whole program's speed-up when a part taking `fraction` of its time gets `factor` times
    faster and the rest does not change. It can never exceed 1 / (1 - fraction), however large the factor."""
    if not 0 <= fraction <= 1 or factor <= 0:
        raise ValueError(f"fraction must be in [0, 1] and factor positive, got {fraction} and {factor}")
    # TODO 14.5: the new time is the untouched part plus the accelerated part divided by the factor; the speed-up is
    # old time (1) over new time.
    ### BEGIN SOLUTION
    return 1.0 / ((1.0 - fraction) + fraction / factor)
    ### END SOLUTION
