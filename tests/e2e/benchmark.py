"""The course as learners meet it, measured: `python build.py bench [--quick] [--runs N]`.

Headless Chromium (Debian's, through Playwright) against the built site on 127.0.0.1. Every figure is the median of
`runs` measurements with min and max beside it; figures compared with each other are measured in the same run, side
by side, since these machines are shared and noisy. Nothing here asserts a time: it only measures. The table is
printed and written as JSON and Markdown to bench-results/.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]
from conftest import (BOOT_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, DIST, Server, open_module,  # noqa: E402
                      saved_snapshots, set_editor)
from tinytorch_wasm import curriculum, milestones  # noqa: E402
from tinytorch_wasm.package import assemble  # noqa: E402

RESULTS = ROOT / "bench-results"
# How long the engines' bench waits after a first start before reloading: the worker saves the snapshot once it has
# been quiet for 1.5 s, then packs, hashes and writes 56 MB (seconds in WebKitGTK). Its rows say how many reloads
# did restore one.
SNAPSHOT_SAVED_S = 8

# The same learner-framework workload, in the tab and natively: a 256x256 matmul through the learner's Tensor (and
# raw NumPy beside it), and one epoch of an MLP on TinyDigits through the learner's framework (and raw NumPy).
WORKLOAD = r'''
import json, time
import numpy as np
from tinytorch.core.tensor import Tensor
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.activations import ReLU
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch_wasm.datasets import load_tinydigits

def median_ms(step, repeats):
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); step(); times.append((time.perf_counter() - start) * 1e3)
    return sorted(times)[len(times) // 2]

rng = np.random.default_rng(0)
a, b = rng.random((256, 256), dtype=np.float32), rng.random((256, 256), dtype=np.float32)
ta, tb = Tensor(a), Tensor(b)
result = {"matmul256_tensor_ms": median_ms(lambda: ta @ tb, 7), "matmul256_numpy_ms": median_ms(lambda: a @ b, 7)}

enable_autograd()
data = load_tinydigits(flatten=True)
x, y = data.x_train, data.y_train

def framework_epoch():
    np.random.seed(0)
    model = Sequential(Linear(64, 64), ReLU(), Linear(64, 10))
    optimizer, loss_fn = Adam(model.parameters(), lr=0.01), CrossEntropyLoss()
    for xb, yb in DataLoader(TensorDataset(Tensor(x), Tensor(y)), batch_size=32, shuffle=True, seed=0):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()

def numpy_epoch():
    r = np.random.default_rng(0)
    w1, b1 = (r.standard_normal((64, 64)) / 8).astype(np.float32), np.zeros(64, np.float32)
    w2, b2 = (r.standard_normal((64, 10)) / 8).astype(np.float32), np.zeros(10, np.float32)
    params = [w1, b1, w2, b2]
    m = [np.zeros_like(p) for p in params]; v = [np.zeros_like(p) for p in params]
    order = r.permutation(len(x))
    for t, start in enumerate(range(0, len(x), 32), 1):
        idx = order[start:start + 32]; xb, yb = x[idx], y[idx]
        h = np.maximum(xb @ w1 + b1, 0); logits = h @ w2 + b2
        p = np.exp(logits - logits.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
        g = p; g[np.arange(len(yb)), yb] -= 1; g /= len(yb)
        gh = (g @ w2.T) * (h > 0)
        grads = [xb.T @ gh, gh.sum(0), h.T @ g, g.sum(0)]
        for i, (param, grad) in enumerate(zip(params, grads)):
            m[i] = 0.9 * m[i] + 0.1 * grad; v[i] = 0.999 * v[i] + 0.001 * grad * grad
            param -= 0.01 * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)

result["mlp_epoch_framework_ms"] = median_ms(framework_epoch, 3)
result["mlp_epoch_numpy_ms"] = median_ms(numpy_epoch, 3)
print("BENCH " + json.dumps(result))
'''

# Matmul throughput in the tab, four ways (module 17's reference and the compiled kernel), side by side per size.
# The Python loops compute only the first rows of the product: their rate per multiply-add does not depend on how
# many rows they do, and all 1024 rows would take minutes.
MATMUL_SETUP = r'''
import json, time
import numpy as np
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.acceleration import loop_matmul, tiled_matmul
from tinytorch_wasm import kernels

def ways(n):
    """{way: (FLOPs of one call, the call)} for n x n float32 matrices."""
    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    rows = max(1, 4096 // n)
    loops = Tensor(a[:rows]), Tensor(b)
    kernels.matmul(a, b)  # warm-up: the first calls also compile the kernel's optimised code
    return {"loops": (2 * rows * n * n, lambda: loop_matmul(*loops)), "numpy": (2 * n**3, lambda: a @ b),
            "tiled": (2 * n**3, lambda: tiled_matmul(a, b, 64)), "kernel": (2 * n**3, lambda: kernels.matmul(a, b)),
            "equal": (0, lambda: bool(np.array_equal(kernels.matmul(a, b), a @ b)))}
'''
MATMUL_WAYS = MATMUL_SETUP + r'''
def median_s(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

result = {}
for n in SIZES:
    calls = ways(n)
    repeats = {"loops": 1, "kernel": 7, "numpy": 5 if n <= 256 else 3 if n <= 512 else 1}
    for way in ("loops", "numpy", "tiled", "kernel"):
        flops, fn = calls[way]
        result[f"{way}_{n}"] = flops / median_s(fn, repeats.get(way, repeats["numpy"])) / 1e9
    result[f"equal_{n}"] = calls["equal"][1]()
print("BENCH " + json.dumps(result))
'''


def matmul_for_a_while(n: int, way: str, seconds: float) -> str:
    """Code that calls one way at one size again and again for `seconds` and prints what it computed; with 0 seconds
    it does only the setup, whose CPU time is then subtracted."""
    return MATMUL_SETUP + f'''
flops, fn = ways({n})[{way!r}]
done, start = 0, time.perf_counter()
while time.perf_counter() - start < {seconds!r}:
    fn()
    done += flops
print("BENCH " + json.dumps({{"flops": done}}))
'''


PROFILED = ("import numpy as np\nfrom tinytorch.core.tensor import Tensor\n\ndef work():\n"
            "    a = Tensor(np.random.rand(200, 200))\n    for _ in range(20):\n        a @ a\n\nwork()\n")


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


SECTIONS = ["visits", "navigation", "pages", "tests", "stop", "profile", "milestones", "workload", "matmul", "engines"]
# One page of each type, for the page-quality rows (Lighthouse, axe); the accessibility test audits the same ones.
PAGE_TYPES = {"home": "", "module": "modules/01-tensor/", "milestone": "milestones/1958-perceptron/",
              "progress": "progress/"}
# Clicked in the site's navigation, one after another, from module 01: module -> module -> milestone.
NAVIGATION = (("02 ·", "02"), ("03 ·", "03"), ("1958", None))


class Bench:
    def __init__(self, playwright, runs, quick, milestone_ids=None):
        self.pw, self.runs, self.quick, self.milestone_ids = playwright, runs, quick, milestone_ids
        self.tmp = Path(tempfile.mkdtemp(prefix="tt-bench-"))
        self.rows: list[tuple[str, str, dict | float | str | None]] = []  # (section, what, value)

    def add(self, section, what, value, unit=""):
        self.rows.append((section, what, value, unit))
        number = lambda x: f"{x:.0f}" if abs(x) >= 1000 else f"{x:.3g}"  # 1234, not 1.23e+03
        shown = f"{number(value['median'])} (min {number(value['min'])}, max {number(value['max'])}, n={value['n']})" \
            if isinstance(value, dict) else value if isinstance(value, str) else number(value)
        print(f"  {section:<12} {what:<58} {shown} {unit}", flush=True)

    def context(self, profile=None):
        profile = profile or Path(tempfile.mkdtemp(dir=self.tmp))
        return self.pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS), profile

    # --- visits ---------------------------------------------------------------------------------------------
    def visits(self, server, label=""):
        """A fresh profile's first visit, then a second one (which restores the Python snapshot the first saved),
        then a third with that snapshot deleted beforehand: the snapshot's worth, measured side by side. Returns
        the medians of cold and warm, and what the server sent on the first visits."""
        url = server.url + "modules/01-tensor/"
        cold, warm, unsnapped, paint, parts, sent = [], [], [], [], [], []
        for _ in range(self.runs):
            context, profile = self.context()
            with SentBytes(server) as counter:
                page = open_module(context, url)
                cold.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
                until_ready = counter.total()
                paint.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
                             / 1e3)
                wait_until_precached(page)
                sent.append((until_ready, counter.total(), counter.encodings()))
            saved_snapshots(page)
            context.close()
            context, _ = self.context(profile)
            page = open_module(context, url)
            warm.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
            parts.append(page.evaluate("window.tinytorch.runtime.timings"))
            for folder, name in saved_snapshots(page):
                page.evaluate("async ([folder, name]) => (await (await navigator.storage.getDirectory())"
                              ".getDirectoryHandle(folder)).removeEntry(name)", [folder, name])
            context.close()
            context, _ = self.context(profile)
            page = open_module(context, url)
            unsnapped.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
            context.close()
        section = f"visit{label}"
        self.add(section, "cold visit (fresh profile) -> ready to run tests", summary(cold), "s")
        self.add(section, "warm visit -> ready to run tests", summary(warm), "s")
        self.add(section, "warm visit without the Python snapshot -> ready", summary(unsnapped), "s")
        self.add(section, "warm: with / without the snapshot", summary([a / b for a, b in zip(warm, unsnapped)]),
                 "x")
        started = sum(p["pythonFrom"] == "snapshot" for p in parts)
        holds = sorted({p.get("snapshotHolds", "pytest") for p in parts})
        self.add(section, f"warm visits that restored the snapshot (holding {' / '.join(holds)})",
                 f"{started} of {len(parts)}")
        # Builds before 2026-12-01 evening imported the harness after starting Python ("course", then "harness").
        for key, what in (("python", "Python, pytest, NumPy (and the harness, if in the snapshot) started"),
                          ("packages", "NumPy loaded"), ("course", "course files unpacked"),
                          ("harness", "harness imported or warmed up")):
            if all(key in p for p in parts):
                self.add(section, f"warm, of which: {what}", summary([p[key] / 1e3 for p in parts]), "s")
        self.add(section, "first contentful paint of a module page (cold)", summary(paint), "s")
        encodings = ", ".join(f"{n} {k}" for k, n in sorted(sent[0][2].items()))
        self.add(f"bytes{label}", "first visit to a module page until ready, as sent", sent[0][0] / 1e6, "MB")
        self.add(f"bytes{label}", f"first visit, with the offline precache, as sent ({encodings})",
                 sent[0][1] / 1e6, "MB")
        return {"cold": cold, "warm": warm}

    # --- page to page ------------------------------------------------------------------------------------------
    def navigation(self, server, label=""):
        """From clicking a link in the site's navigation to the next page being ready to run tests, for module 01 ->
        02 -> 03 -> the 1958 milestone, after the first page saved its Python snapshot (so a build that loads each
        page anew restores it: its best case). Returns the times, in s."""
        times, restarts = [], 0
        for _ in range(self.runs):
            context, _ = self.context()
            page = open_module(context, server.url + "modules/01-tensor/")
            saved_snapshots(page)
            page.evaluate("window.ttStillThisTab = true")
            for link, module_id in NAVIGATION:
                page.locator(".md-nav--primary a.md-nav__link", has_text=link).first.click()
                here = (f"window.tinytorch.workbench && window.tinytorch.workbench.module.id === '{module_id}'"
                        if module_id else "window.tinytorch.milestone")
                page.wait_for_function(f"window.tinytorch && {here} && window.tinytorch.runtime && "
                                       "window.tinytorch.runtime.state === 'ready'")
                # This build says how long since the click; a build that reloads the page: since its navigation.
                page.wait_for_function("window.tinytorch.pageReadyMs !== undefined || !window.ttStillThisTab")
                times.append(page.evaluate("window.tinytorch.pageReadyMs ?? window.tinytorch.runtime.readyAt") / 1e3)
                restarts += page.evaluate("!window.ttStillThisTab || window.tinytorch.runtime.workersStarted > 1")
                page.evaluate("window.ttStillThisTab = true; window.tinytorch.runtime.workersStarted = 1")
            context.close()
        self.add(f"navigation{label}", "page-to-page navigation (module -> module -> milestone) -> ready",
                 summary(times), "s")
        self.add(f"navigation{label}", "page changes that started Python again", f"{restarts} of {len(times)}")
        return {"navigation": times}

    # --- page quality: Lighthouse and axe -----------------------------------------------------------------------
    def page_quality(self, server, label=""):
        """Lighthouse performance and accessibility in its mobile preset (its default: a mid-range phone, 4x slower
        CPU) and its desktop one, a fresh profile each, and axe's serious and critical findings, for each page type
        as loaded."""
        import axe
        import lighthouse
        for kind, path in PAGE_TYPES.items():
            for preset, desktop in (("mobile", False), ("desktop", True)):
                perf, access, blocking, shift, speed = [], [], [], [], []
                for _ in range(self.runs):
                    for attempt in range(3):  # Lighthouse loses its trace now and then on a loaded machine (NO_NAVSTART)
                        try:
                            report = lighthouse.audit(server.url + path, ["performance", "accessibility"],
                                                      desktop=desktop)
                            break
                        except RuntimeError:
                            if attempt == 2:
                                raise
                    perf.append(lighthouse.score(report, "performance"))
                    access.append(lighthouse.score(report, "accessibility"))
                    blocking.append(report["audits"]["total-blocking-time"]["numericValue"] / 1e3)
                    shift.append(report["audits"]["cumulative-layout-shift"]["numericValue"])
                    speed.append(report["environment"]["benchmarkIndex"])
                what = f"{kind}, {preset}"
                self.add(f"pages{label}", f"{what}: Lighthouse performance", summary(perf), "/100")
                self.add(f"pages{label}", f"{what}: total blocking time", summary(blocking), "s")
                self.add(f"pages{label}", f"{what}: cumulative layout shift", summary(shift))
                # Lighthouse's own measure of the machine's speed as it ran (its benchmarkIndex, higher is faster):
                # its phone is this machine 4x slower, so the scores move with it on a shared host.
                self.add(f"pages{label}", f"{what}: Lighthouse's host speed (benchmarkIndex)", summary(speed))
                if desktop:
                    self.add(f"pages{label}", f"{kind}: Lighthouse accessibility", summary(access), "/100")
        context, _ = self.context()
        axe.install(context)
        for kind, path in PAGE_TYPES.items():
            if kind in ("module", "milestone"):
                page = open_module(context, server.url + path)
            else:
                page = context.pages[0] if context.pages else context.new_page()
                page.goto(server.url + path)
                if kind != "home":
                    page.wait_for_function("window.tinytorch")
            found = axe.violations(page)
            self.add(f"pages{label}", f"{kind}: axe serious and critical findings (elements)", axe.count_nodes(found))
        context.close()

    # --- tests and stop ---------------------------------------------------------------------------------------
    def test_latency(self, server, label="", modules=None):
        context, _ = self.context()
        every = curriculum.modules()
        results = {}
        for module in modules or (every if not self.quick else every[:1] + every[-1:]):
            page = open_module(context, f"{server.url}modules/{module.id}-{module.slug}/")
            set_editor(page, module.reference_source())
            times, firsts = [], []
            for _ in range(self.runs + 1):
                first, whole = timed_run_tests(page)
                times.append(whole)
                firsts.append(first)
            passed = page.get_attribute(".tt-workbench", "data-tests") == "passed"
            self.add(f"run tests{label}", f"{module.id} {module.title}: first run", times[0], "s")
            self.add(f"run tests{label}", f"{module.id} {module.title}: warm, first result on screen",
                     summary(firsts[1:]), "s")
            self.add(f"run tests{label}",
                     f"{module.id} {module.title}: warm, all results ({'pass' if passed else 'FAIL'})",
                     summary(times[1:]), "s")
            results[module.id] = times[1:]
        context.close()
        return results

    def against_baseline(self, server, baseline):
        """Before and after in one run: the same visits and test runs on a build of other code (the baseline),
        interleaved with this build's, and their ratios."""
        modules = [curriculum.module("01"), curriculum.modules()[-1]]
        mine, theirs = {}, {}
        builds = ((theirs, baseline, " (baseline)"), (mine, server, ""))
        for run in range(self.runs):
            # The order swapped every round: a host that slows down within a round would favour the build first.
            for results, site, label in builds if run % 2 == 0 else builds[::-1]:
                runs, self.runs = self.runs, 1  # one of each per round
                measured = {**self.visits(site, label), **self.navigation(site, label),
                            **self.test_latency(site, label, modules)}
                for key, values in measured.items():
                    results.setdefault(key, []).extend(values)
                self.runs = runs
        for key in mine:
            what = {"cold": "cold visit -> ready", "warm": "warm visit -> ready",
                    "navigation": "page-to-page navigation -> ready"}.get(key, f"Run tests {key}, warm")
            self.add("this / baseline", what, summary([a / b for a, b in zip(sorted(mine[key]),
                                                                                  sorted(theirs[key]))]), "x")
        self.steady_warm_visits(server, baseline)

    def steady_warm_visits(self, server, baseline, primed=3, pairs_per_run=3):
        """Warm visits in the steady state, where most of a learner's are: a profile per build, each visited
        `primed` times first (the first saves the snapshot; later ones fill the browser's caches), then one visit
        of each build after the other, the order swapped every pair, and the ratio per pair. Each visit ends with
        the visit's first Run tests (module 01's reference, typed in the first visit)."""
        url = "modules/01-tensor/"
        profiles = {}
        times = {key: {"ready": [], "first result": [], "all results": []} for key in ("this", "baseline")}
        for key, site in (("this", server), ("baseline", baseline)):
            for visit in range(primed):
                context, profiles[key] = self.context(profiles.get(key))
                page = open_module(context, site.url + url)
                if visit == 0:
                    set_editor(page, curriculum.module("01").reference_source())
                    saved_snapshots(page)
                context.close()
        order = [("baseline", baseline), ("this", server)]
        for pair in range(self.runs * pairs_per_run):
            for key, site in order if pair % 2 == 0 else order[::-1]:
                context, _ = self.context(profiles[key])
                page = open_module(context, site.url + url)
                times[key]["ready"].append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
                first, whole = timed_run_tests(page)
                times[key]["first result"].append(first)
                times[key]["all results"].append(whole)
                context.close()
        for measure, what in (("ready", f"warm visit -> ready, steady state (after {primed} visits)"),
                              ("first result", "the visit's first Run tests 01 -> first result on screen"),
                              ("all results", "the visit's first Run tests 01 -> all results")):
            mine, theirs = times["this"][measure], times["baseline"][measure]
            self.add("visit (baseline)", what, summary(theirs), "s")
            self.add("visit", what, summary(mine), "s")
            self.add("this / baseline", f"{what}, per pair", summary([a / b for a, b in zip(mine, theirs)]), "x")

    def stop_latency(self, server, isolated):
        """From Stop to the learner's run ending, and to Python being ready for the next run."""
        context, _ = self.context()
        page = open_module(context, server.url + "modules/01-tensor/")
        ended, usable, how = [], [], set()
        for _ in range(self.runs):
            page.evaluate("window.tinytorch.workbench.scratch.text = 'while True:\\n    pass\\n'")
            page.evaluate("() => { window.tinytorch.workbench.runScratch(); }")  # do not wait: it never ends
            page.wait_for_function("window.tinytorch.runtime.state === 'busy'")
            page.wait_for_timeout(300)
            stopped = page.evaluate("""async () => {
                const runtime = window.tinytorch.runtime, start = performance.now();
                const how = await runtime.stop();
                await runtime.start();
                return {...how, usableMs: performance.now() - start}; }""")
            ended.append(stopped["ms"] / 1e3)
            usable.append(stopped["usableMs"] / 1e3)
            how.add(stopped["how"])
        label = f"{'with' if isolated else 'without'} isolation ({'/'.join(sorted(how))})"
        self.add("stop", f"Stop `while True: pass` {label}: run ended", summary(ended), "s")
        self.add("stop", f"Stop `while True: pass` {label}: Python ready again", summary(usable), "s")
        context.close()

    # --- Profile against an unprofiled run ---------------------------------------------------------------------
    def profile_overhead(self, server):
        """The same snippet (20 matmuls of 200x200 through the learner's Tensor) run plainly and under Profile,
        alternately: Profile must cost about what the code costs, not the import machinery."""
        context, _ = self.context()
        page = open_module(context, server.url + "modules/01-tensor/")
        plain, profiled = [], []
        for _ in range(self.runs + 1):
            for action, into in (("run", plain), ("profile", profiled)):
                into.append(page.evaluate("""async ([action, code, source]) => {
                    const reply = await window.tinytorch.runtime.request(action, {module: "01",
                        learner: {"01": source}, code});
                    return reply.result.duration; }""", [action, PROFILED, curriculum.module("01").reference_source()]))
        plain, profiled = plain[1:], profiled[1:]  # the first of each imports the package
        self.add("profile", "20 matmuls 200x200: unprofiled run", summary(plain), "s")
        self.add("profile", "20 matmuls 200x200: under Profile (its reported total)", summary(profiled), "s")
        self.add("profile", "20 matmuls 200x200: profiled / unprofiled", summary([a / b for a, b in zip(profiled, plain)]),
                 "x")
        context.close()

    # --- milestones -------------------------------------------------------------------------------------------
    def milestones(self, server):
        """Each milestone's page configuration in the tab, and the same run on native CPython right after it (same
        package, same seeds): wall time, the CPU time the tab's processes used (less sensitive to a loaded machine
        than wall time), every criterion's value, each part's time (metrics named *_seconds), the heap."""
        package = self.tmp / "package"
        assemble(package)
        for milestone in milestones.milestones():
            if self.milestone_ids and milestone.id not in self.milestone_ids:
                continue
            context, profile = self.context()
            page = open_module(context, f"{server.url}milestones/{milestone.id}-{milestone.slug}/")
            tab, native = [], []
            for _ in range(1 if self.quick else self.runs):
                sampler = RendererMemory(profile)
                sampler.start()
                start = time.perf_counter()
                page.evaluate("window.tinytorch.milestone.start()")
                wall = time.perf_counter() - start
                rss, cpu = sampler.stop()
                saved = page.evaluate(f"window.tinytorch.state.progress().milestones['{milestone.id}']")
                result = page.evaluate("window.tinytorch.milestone.lastResult")
                tab.append({"wall": wall, "cpu": cpu, "rss": rss, "heap": saved["peakWasmBytes"] / 2**20,
                            **_measured(result)})
                native.append(_native_milestone(milestone.id, package, self.tmp / "artifacts"))
            context.close()
            name = f"{milestone.year} {milestone.title}"
            self.add("milestone", f"{name}: wall time in the tab", summary([r["wall"] for r in tab]), "s")
            self.add("milestone", f"{name}: CPU time of the tab's processes", summary([r["cpu"] for r in tab]), "s")
            self.add("milestone", f"{name}: wall time on native CPython", summary([r["wall"] for r in native]), "s")
            self.add("milestone", f"{name}: CPU time on native CPython", summary([r["cpu"] for r in native]), "s")
            self.add("milestone", f"{name}: tab / native wall time",
                     summary([t["wall"] / n["wall"] for t, n in zip(tab, native)]), "x")
            for key in sorted(k for k in tab[0] if k.startswith(("value:", "part:"))):
                unit = "s" if key.startswith("part:") else ""
                self.add("milestone", f"{name}: {key[key.index(':') + 1:]} in the tab",
                         summary([r.get(key) for r in tab]), unit)
                self.add("milestone", f"{name}: {key[key.index(':') + 1:]} on native CPython",
                         summary([r.get(key) for r in native]), unit)
            self.add("milestone", f"{name}: passed in the tab / natively",
                     f"{sum(r['passed'] for r in tab)} of {len(tab)} / {sum(r['passed'] for r in native)} of "
                     f"{len(native)}")
            self.add("milestone", f"{name}: peak WebAssembly heap (it never shrinks: its size at the end)",
                     summary([r["heap"] for r in tab]), "MB")
            self.add("milestone", f"{name}: peak renderer RSS", summary([r["rss"] for r in tab]), "MB")

    # --- the same workload in the tab and natively ----------------------------------------------------------------
    def tab_vs_native(self, server):
        context, _ = self.context()
        page = open_module(context, server.url + "modules/08-training/")
        tab, native = [], []
        package = self.tmp / "package"
        assemble(package)
        env = {**os.environ, "PYTHONPATH": f"{package}:{ROOT}", "OPENBLAS_NUM_THREADS": "1"}
        for _ in range(self.runs):
            text = page.evaluate("""async (code) => {
                let out = "";
                await window.tinytorch.runtime.request("run", {module: "08", learner: {}, code},
                    {onOutput: (chunks) => chunks.forEach((c) => { out += c.text; })});
                return out; }""", WORKLOAD)
            tab.append(_bench_line(text))
            native.append(_bench_line(subprocess.run([sys.executable, "-c", WORKLOAD], env=env, text=True,
                                                     capture_output=True, check=True).stdout))
        for key in tab[0]:
            t, n = summary([r[key] for r in tab]), summary([r[key] for r in native])
            self.add("tab/native", f"{key}: in the tab", t, "ms")
            self.add("tab/native", f"{key}: native CPython", n, "ms")
            self.add("tab/native", f"{key}: tab / native", summary([a[key] / b[key] for a, b in zip(tab, native)]),
                     "x")
        for kind in ("matmul256", "mlp_epoch"):
            self.add("overhead", f"{kind}: learner framework / raw NumPy, in the tab",
                     summary([r[f"{kind}_tensor_ms" if kind == "matmul256" else f"{kind}_framework_ms"] /
                              r[f"{kind}_numpy_ms"] for r in tab]), "x")
        context.close()


    # --- matmul four ways in the tab ------------------------------------------------------------------------------
    def matmul_ways(self, server, sizes=(256, 512, 1024)):
        """GFLOP/s of Python loops, NumPy, NumPy in 64x64 tiles and the compiled WebAssembly SIMD kernel, all
        measured in one request per run, and the kernel's ratio to NumPy and to tiled NumPy."""
        context, _ = self.context()
        page = open_module(context, server.url + "modules/17-acceleration/")
        code = MATMUL_WAYS.replace("SIZES", repr(tuple(sizes)))
        runs = [_bench_line(_run_in_tab(page, "17", code)) for _ in range(self.runs)]
        names = {"loops": "Python loops (first rows only)", "numpy": "NumPy", "tiled": "NumPy, 64x64 tiles",
                 "kernel": "compiled kernel (WebAssembly SIMD)"}
        for n in sizes:
            for way, name in names.items():
                self.add("matmul", f"{n}x{n} float32: {name}", summary([r[f"{way}_{n}"] for r in runs]), "GFLOP/s")
            for base in ("numpy", "tiled"):
                self.add("matmul", f"{n}x{n}: kernel / {names[base]}",
                         summary([r[f"kernel_{n}"] / r[f"{base}_{n}"] for r in runs]), "x")
            self.add("matmul", f"{n}x{n}: kernel equals NumPy bit for bit",
                     f"{sum(r[f'equal_{n}'] for r in runs)} of {len(runs)}")
        context.close()

    def matmul_per_cpu_second(self, server, sizes=(256, 512, 1024), seconds=3.0):
        """The same four ways per second of CPU time the tab's Web Worker got (read from /proc), not per second of
        wall-clock time: what the tab computes when the machine is not shared. On a busy machine the wall-clock
        rows above fall with the load; these do not (context switches still cost them a little)."""
        context, profile = self.context()
        page = open_module(context, server.url + "modules/17-acceleration/")
        names = {"loops": "Python loops (first rows only)", "numpy": "NumPy", "tiled": "NumPy, 64x64 tiles",
                 "kernel": "compiled kernel (WebAssembly SIMD)"}
        for n in sizes:
            for way, name in names.items():
                rates = []
                for _ in range(self.runs):
                    cpu = []
                    for duration in (0, seconds):  # the setup alone, then the setup and the calls
                        code = matmul_for_a_while(n, way, duration)
                        before = worker_cpu_seconds(profile)
                        flops = _bench_line(_run_in_tab(page, "17", code))["flops"]
                        cpu.append(worker_cpu_seconds(profile) - before)
                    rates.append(flops / max(cpu[1] - cpu[0], 1e-3) / 1e9)
                self.add("matmul/cpu", f"{n}x{n} float32: {name}", summary(rates), "GFLOP per CPU-s")
        context.close()


def timed_run_tests(page) -> tuple[float, float]:
    """Run tests: seconds from the click to the first streamed result in the page, and to the whole result."""
    first, whole = page.evaluate("""async () => {
        const workbench = window.tinytorch.workbench, start = performance.now();
        let first = null;
        const running = workbench.runTests();
        if (workbench.testProgress) { // (a baseline from before results were streamed has none)
          new MutationObserver((_, seen) => { first = performance.now() - start; seen.disconnect(); })
            .observe(workbench.testProgress, { subtree: true, childList: true, characterData: true });
        }
        await running;
        return [first, performance.now() - start]; }""")
    return (first if first is not None else whole) / 1e3, whole / 1e3


def worker_cpu_seconds(profile: Path) -> float:
    """CPU time used so far by the Web Worker threads (Python) of this profile's renderer processes."""
    ticks = 0
    for renderer in RendererMemory(profile)._renderers():
        for thread in (renderer / "task").glob("*"):
            try:
                if (thread / "comm").read_text().startswith("DedicatedWorker"):
                    fields = (thread / "stat").read_text().rsplit(")", 1)[1].split()
                    ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
            except (OSError, IndexError, ValueError):
                pass  # the thread ended meanwhile
    return ticks / os.sysconf("SC_CLK_TCK")


def _run_in_tab(page, module, code):
    """What `code` printed, run in the tab with the reference package up to `module`."""
    return page.evaluate("""async ([module, code]) => {
        let out = "";
        const reply = await window.tinytorch.runtime.request("run", {module, learner: {}, code},
            {onOutput: (chunks) => chunks.forEach((c) => { out += c.text; })});
        return reply.ok && reply.result.ok ? out : out + (reply.error || reply.result.error); }""", [module, code])


class SentBytes:
    """What a Server sends (bodies, by their Content-Length, and which encoding) while this is entered."""

    def __init__(self, server):
        handler = server.httpd.RequestHandlerClass  # functools.partial(handler class, directory=...)
        self.handler, self.sent = getattr(handler, "func", handler), []

    def __enter__(self):
        sent, original = self.sent, self.handler.send_header

        def send_header(handler, name, value):
            if name.lower() == "content-encoding":  # serve.py sends it before the length
                handler.bench_encoding = value
            elif name.lower() == "content-length":
                sent.append((int(value), getattr(handler, "bench_encoding", "identity"), handler.path))
                handler.bench_encoding = "identity"
            return original(handler, name, value)
        self.original, self.handler.send_header = original, send_header
        return self

    def __exit__(self, *exc):
        self.handler.send_header = self.original

    def total(self):
        return sum(size for size, *_ in self.sent)

    def encodings(self):
        """How many responses went out in each encoding."""
        count = {}
        for _, encoding, _ in self.sent:
            count[encoding] = count.get(encoding, 0) + 1
        return count


def wait_until_precached(page):
    """Until the service worker has cached every file of the build (what makes the next visit work offline)."""
    page.wait_for_function("""async () => {
        const reg = await navigator.serviceWorker.getRegistration();
        return !!(reg && reg.active && reg.active.state === 'activated'); }""", polling=200)


def other_engines(bench, server):
    """Firefox ESR and WebKitGTK: ready on a first visit and after a reload (the snapshot), and Run tests (the
    reference, warm), each in a fresh profile. The first reload waits for the first start's snapshot to be saved
    (runtime/src/worker.js saves it once the worker has been quiet for 1.5 s)."""
    from engines import ENGINES, Trap, missing, wait_for
    ready = "window.tinytorch && window.tinytorch.runtime.state === 'ready'"
    run = ("const s = performance.now(); return window.tinytorch.workbench.runTests()"
           ".then(() => performance.now() - s);")
    for name, Engine in ENGINES.items():
        if missing(name):
            bench.add(f"engine {name}", "not measured", missing(name))
            continue
        trap = Trap()
        engine = Engine(trap)
        try:
            cold, warm, restored, tests = [], [], [], []
            engine.open(server.url + "modules/01-tensor/")
            wait_for(engine, ready)
            cold.append(engine.js("return window.tinytorch.runtime.readyAt") / 1e3)
            engine.js("window.tinytorch.workbench.editor.text = arguments[0]; window.tinytorch.workbench.save();",
                      curriculum.module("01").reference_source())
            time.sleep(SNAPSHOT_SAVED_S)
            for _ in range(bench.runs):
                engine.reload()
                wait_for(engine, ready)
                warm.append(engine.js("return window.tinytorch.runtime.readyAt") / 1e3)
                restored.append(engine.js("return window.tinytorch.runtime.timings.pythonFrom") == "snapshot")
                for _ in range(2):
                    engine.js("window.ttRun = null; (() => { " + run + " })().then((ms) => { window.ttRun = ms; });")
                    tests.append(wait_for(engine, "window.ttRun") / 1e3)
            bench.add(f"engine {name}", "cold visit -> ready to run tests", summary(cold), "s")
            bench.add(f"engine {name}", "reload -> ready (the snapshot)", summary(warm), "s")
            bench.add(f"engine {name}", "reloads that restored the snapshot", f"{sum(restored)} of {len(restored)}")
            bench.add(f"engine {name}", "Run tests 01 Tensor (reference, warm)", summary(tests), "s")
        finally:
            engine.close()
            trap.stop()


def _measured(result: dict) -> dict:
    """A milestone result's figures: each criterion's value, each part's time (metrics named *_seconds), passed."""
    figures = {f"value:{c['metric']} (target {'<=' if c['goal'] == 'at_most' else '>='} {c['target']:g})": c["value"]
               for c in result["criteria"]}
    for point in result["history"]:
        figures.update({f"part:{k}": v for k, v in point["metrics"].items() if k.endswith("_seconds")})
    return {**figures, "passed": bool(result["passed"])}


def _native_milestone(milestone_id: str, package: Path, artifacts: Path) -> dict:
    """The same milestone on this machine's CPython, one BLAS thread (as NumPy in the tab has one core)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tinytorch_wasm", "milestone", milestone_id, str(package), "--json",
                           "--artifacts", str(artifacts)], env=env, text=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = os.times()
    result = json.loads(done.stdout)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"wall": wall, "cpu": cpu, **_measured(result)}


def _bench_line(text):
    line = next((l for l in text.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"the workload printed no result:\n{text[-2000:]}")
    return json.loads(line[6:])


class RendererMemory:
    """Peak resident memory of the Chromium renderer processes of one profile (the tab and its worker live there)."""

    def __init__(self, profile: Path):
        self.profile, self.peak, self.running = str(profile), 0, False
        self.cpu_start = self._cpu()

    def _renderers(self):
        browsers = [p for p in Path("/proc").iterdir() if p.name.isdigit() and self._cmd(p).find(
            f"--user-data-dir={self.profile}") >= 0 and "--type=" not in self._cmd(p)]
        found, queue = [], list(browsers)
        while queue:
            proc = queue.pop()
            for task in (proc / "task").glob("*/children"):
                for child in task.read_text().split():
                    child_proc = Path("/proc") / child
                    queue.append(child_proc)
                    if "--type=renderer" in self._cmd(child_proc):
                        found.append(child_proc)
        return found

    @staticmethod
    def _cmd(proc: Path) -> str:
        try:
            return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return ""

    def _sample(self):
        while self.running:
            total = 0
            for proc in self._renderers():
                try:
                    status = (proc / "status").read_text()
                    total = max(total, int(status.split("VmRSS:")[1].split()[0]) * 1024)
                except (OSError, IndexError):
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)

    def start(self):
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _cpu(self) -> dict:
        """CPU seconds (user + system) each renderer process has used so far, by process id."""
        ticks = os.sysconf("SC_CLK_TCK")
        used = {}
        for proc in self._renderers():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                used[proc.name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
        return used

    def stop(self) -> tuple[float, float]:
        """(peak RSS in MB, CPU seconds the renderers used since start) ."""
        self.running = False
        self.thread.join()
        now = self._cpu()
        cpu = sum(now[pid] - self.cpu_start.get(pid, 0.0) for pid in now)
        return self.peak / 2**20, cpu


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor())
    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    return {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30), "browser": chromium,
            "python": platform.python_version()}


def write_report(bench: Bench, info: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = info["date"].replace(":", "")[:15]
    rows = [{"section": s, "what": w, "value": v, "unit": u} for s, w, v, u in bench.rows]
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    lines = [f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores, {info['memory_gb']} GB), "
             f"{info['browser']}, headless; runs per figure: {bench.runs}.", "",
             "| section | what | median | min | max | unit |", "|---|---|---|---|---|---|"]
    for s, w, v, u in bench.rows:
        if isinstance(v, dict):
            lines.append(f"| {s} | {w} | {v['median']:.3g} | {v['min']:.3g} | {v['max']:.3g} | {u} |")
        else:
            lines.append(f"| {s} | {w} | {v if isinstance(v, str) else f'{v:.3g}'} | | | {u} |")
    path = RESULTS / f"bench-{stamp}.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv=None, offline_zip: Path | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python build.py bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run of each, fewer modules: for development")
    parser.add_argument("--runs", type=int, default=None, help="measurements per figure (default 3, quick 1)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a built site of other code (its dist/) to compare with, side by side in this run")
    parser.add_argument("--only", choices=SECTIONS, action="append",
                        help="measure only this section (repeatable; default: all)")
    parser.add_argument("--milestone", action="append", help="with --only milestones: only this milestone's id")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    sections = args.only or SECTIONS
    from playwright.sync_api import sync_playwright
    info = machine()
    print(f"benchmark: {info}", flush=True)
    isolated, plain = Server(isolation=True), Server(isolation=False)
    try:
        with sync_playwright() as pw:
            bench = Bench(pw, runs, args.quick, args.milestone)
            if args.baseline:
                baseline = Server(isolation=True, directory=args.baseline)
                try:
                    bench.against_baseline(isolated, baseline)
                    if "pages" in sections:
                        bench.page_quality(baseline, " (baseline)")
                finally:
                    baseline.stop()
            measure = {
                "visits": lambda: bench.visits(isolated),
                "navigation": lambda: bench.navigation(isolated),
                "pages": lambda: bench.page_quality(isolated),
                "tests": lambda: bench.test_latency(isolated),
                "stop": lambda: (bench.stop_latency(isolated, isolated=True),
                                 bench.stop_latency(plain, isolated=False)),
                "profile": lambda: bench.profile_overhead(isolated),
                "milestones": lambda: bench.milestones(isolated),
                "workload": lambda: bench.tab_vs_native(isolated),
                "matmul": lambda: (bench.matmul_ways(isolated), bench.matmul_per_cpu_second(isolated)),
                "engines": lambda: other_engines(bench, isolated),
            }
            for section in SECTIONS:  # in this order; with a baseline, its comparison above replaces the visits
                if section in sections and not (args.baseline and section in ("visits", "navigation")):
                    measure[section]()
    finally:
        isolated.stop()
        plain.stop()
    size = sum(p.stat().st_size for p in DIST.rglob("*") if p.is_file() and p.suffix not in (".br", ".gz"))
    bench.add("bytes", "dist/ (the whole site, without its compressed copies)", size / 1e6, "MB")
    if offline_zip and offline_zip.exists():
        bench.add("bytes", "offline zip", offline_zip.stat().st_size / 1e6, "MB")
    print(f"\nwrote {write_report(bench, info)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
