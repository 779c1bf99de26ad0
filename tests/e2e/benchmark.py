"""The course as learners meet it, measured: `python build.py bench [--quick] [--runs N]`.

Headless Chromium (Debian's, through Playwright) against the built site on 127.0.0.1. Every figure is the median of
`runs` measurements with min and max beside it; figures compared with each other are measured in the same run, side
by side, since these machines are shared and noisy. Nothing here asserts a time: it only measures. The table is
printed and written as JSON and Markdown to bench-results/.
"""
from __future__ import annotations

import argparse
import gzip
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


PROFILED = ("import numpy as np\nfrom tinytorch.core.tensor import Tensor\n\ndef work():\n"
            "    a = Tensor(np.random.rand(200, 200))\n    for _ in range(20):\n        a @ a\n\nwork()\n")


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


class Bench:
    def __init__(self, playwright, runs, quick):
        self.pw, self.runs, self.quick = playwright, runs, quick
        self.tmp = Path(tempfile.mkdtemp(prefix="tt-bench-"))
        self.rows: list[tuple[str, str, dict | float | str | None]] = []  # (section, what, value)

    def add(self, section, what, value, unit=""):
        self.rows.append((section, what, value, unit))
        shown = f"{value['median']:.3g} (min {value['min']:.3g}, max {value['max']:.3g}, n={value['n']})" \
            if isinstance(value, dict) else value if isinstance(value, str) else f"{value:.3g}"
        print(f"  {section:<12} {what:<58} {shown} {unit}", flush=True)

    def context(self, profile=None):
        profile = profile or Path(tempfile.mkdtemp(dir=self.tmp))
        return self.pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS), profile

    # --- visits ---------------------------------------------------------------------------------------------
    def visits(self, server):
        """A fresh profile's first visit, then a second one (which restores the Python snapshot the first saved),
        then a third with that snapshot deleted beforehand: the snapshot's worth, measured side by side."""
        url = server.url + "modules/01-tensor/"
        cold, warm, unsnapped, paint, parts, page_bytes = [], [], [], [], [], None
        for _ in range(self.runs):
            context, profile = self.context()
            responses = []
            context.on("response", lambda r: responses.append(r.url))
            page = open_module(context, url)
            cold.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
            paint.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime") / 1e3)
            page_bytes = page_bytes or self.first_visit_bytes(page, responses)
            saved_snapshots(page)
            context.close()
            context, _ = self.context(profile)
            page = open_module(context, url)
            warm.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
            parts.append(page.evaluate("window.tinytorch.runtime.timings"))
            for cache, key in saved_snapshots(page):
                page.evaluate("async ([cache, key]) => (await caches.open(cache)).delete(key)", [cache, key])
            context.close()
            context, _ = self.context(profile)
            page = open_module(context, url)
            unsnapped.append(page.evaluate("window.tinytorch.runtime.readyAt") / 1e3)
            context.close()
        self.add("visit", "cold visit (fresh profile) -> ready to run tests", summary(cold), "s")
        self.add("visit", "warm visit -> ready to run tests", summary(warm), "s")
        self.add("visit", "warm visit without the Python snapshot -> ready", summary(unsnapped), "s")
        self.add("visit", "warm: with / without the snapshot", summary([a / b for a, b in zip(warm, unsnapped)]), "x")
        started = sum(p["pythonFrom"] == "snapshot" for p in parts)
        self.add("visit", "warm visits that restored the snapshot", f"{started} of {len(parts)}")
        for key, what in (("python", "Python + pytest started (worker start ->)"), ("packages", "NumPy loaded"),
                          ("harness", "NumPy, harness imported, integrity fingerprint")):
            self.add("visit", f"warm, of which: {what}", summary([p[key] / 1e3 for p in parts]), "s")
        self.add("visit", "first contentful paint of a module page (cold)", summary(paint), "s")
        return page_bytes

    def first_visit_bytes(self, page, responses):
        """What the page and its worker fetched on a first visit (the service worker's precache comes after)."""
        page.wait_for_timeout(500)
        paths = {urlsplit(u).path.lstrip("/") for u in responses}
        files = [DIST / (p + "index.html" if p.endswith("/") or p == "" else p) for p in paths]
        files = [f for f in files if f.is_file()]
        raw = sum(f.stat().st_size for f in files)
        compressed = sum(len(gzip.compress(f.read_bytes(), 6)) for f in files)
        return raw, compressed, len(files)

    # --- tests and stop ---------------------------------------------------------------------------------------
    def test_latency(self, server):
        context, _ = self.context()
        modules = curriculum.modules()
        for module in modules if not self.quick else modules[:1] + modules[-1:]:
            page = open_module(context, f"{server.url}modules/{module.id}-{module.slug}/")
            set_editor(page, module.reference_source())
            times = []
            for _ in range(self.runs + 1):
                times.append(page.evaluate("""async () => {
                    const start = performance.now();
                    await window.tinytorch.workbench.runTests();
                    return performance.now() - start; }""") / 1e3)
            passed = page.get_attribute(".tt-workbench", "data-tests") == "passed"
            self.add("run tests", f"{module.id} {module.title}: first run", times[0], "s")
            self.add("run tests", f"{module.id} {module.title}: warm ({'pass' if passed else 'FAIL'})",
                     summary(times[1:]), "s")
        context.close()

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
        for milestone in milestones.milestones():
            context, profile = self.context()
            page = open_module(context, f"{server.url}milestones/{milestone.id}-{milestone.slug}/")
            walls, values, heaps, rss = [], [], [], []
            for _ in range(1 if self.quick else self.runs):
                sampler = RendererMemory(profile)
                sampler.start()
                start = time.perf_counter()
                page.evaluate("window.tinytorch.milestone.start()")
                walls.append(time.perf_counter() - start)
                rss.append(sampler.stop())
                saved = page.evaluate(f"window.tinytorch.state.progress().milestones['{milestone.id}']")
                values.append(saved["value"])
                heaps.append(saved["peakWasmBytes"] / 2**20)
            name = f"{milestone.year} {milestone.title}"
            self.add("milestone", f"{name}: wall time", summary(walls), "s")
            self.add("milestone", f"{name}: {milestone.metric} (target {milestone.target})", summary(values))
            self.add("milestone", f"{name}: WebAssembly heap at the end", summary(heaps), "MB")
            self.add("milestone", f"{name}: peak renderer RSS", summary(rss), "MB")
            context.close()

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


def _bench_line(text):
    line = next((l for l in text.splitlines() if l.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"the workload printed no result:\n{text[-2000:]}")
    return json.loads(line[6:])


class RendererMemory:
    """Peak resident memory of the Chromium renderer processes of one profile (the tab and its worker live there)."""

    def __init__(self, profile: Path):
        self.profile, self.peak, self.running = str(profile), 0, False

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

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak / 2**20


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
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    from playwright.sync_api import sync_playwright
    info = machine()
    print(f"benchmark: {info}", flush=True)
    isolated, plain = Server(isolation=True), Server(isolation=False)
    try:
        with sync_playwright() as pw:
            bench = Bench(pw, runs, args.quick)
            raw, compressed, count = bench.visits(isolated)
            bench.test_latency(isolated)
            bench.stop_latency(isolated, isolated=True)
            bench.stop_latency(plain, isolated=False)
            bench.profile_overhead(isolated)
            bench.milestones(isolated)
            bench.tab_vs_native(isolated)
    finally:
        isolated.stop()
        plain.stop()
    size = sum(p.stat().st_size for p in DIST.rglob("*") if p.is_file())
    bench.add("bytes", "dist/ (the whole site)", size / 1e6, "MB")
    bench.add("bytes", f"first visit to a module page, raw ({count} files)", raw / 1e6, "MB")
    bench.add("bytes", "first visit to a module page, gzip-compressed", compressed / 1e6, "MB")
    if offline_zip and offline_zip.exists():
        bench.add("bytes", "offline zip", offline_zip.stat().st_size / 1e6, "MB")
    print(f"\nwrote {write_report(bench, info)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
