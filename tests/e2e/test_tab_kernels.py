"""The compiled matmul kernel in the tab: linked against Python's memory whether Python started normally or from the
memory snapshot, still right after that memory grew, equal to NumPy's results, and really used by module 17's
set_backend("simd")."""
from __future__ import annotations

import json

from conftest import open_module, run_tests, saved_snapshots, set_editor

from tinytorch_wasm import curriculum

PAGE = "modules/17-acceleration/"

# Run in the tab; prints one JSON line. Pyodide's NumPy has no BLAS: its float32 matmul is a plain loop that adds each
# entry's K products in order, rounding each product and each sum to float32, and the kernel adds them in the same
# order with the same roundings (four entries at a time). So the results are not just close: they are equal.
KERNEL_CHECKS = r'''
import json
import numpy as np
from tinytorch_wasm import kernels

rng = np.random.default_rng(3)
shapes = [(1, 1, 1), (2, 3, 5), (4, 8, 8), (5, 9, 3), (7, 13, 17), (33, 65, 31), (130, 67, 70), (256, 256, 256),
          (1, 500, 1), (64, 1, 64), (3, 0, 4), (0, 5, 2)]
unequal = []
for m, k, n in shapes:
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    if not np.array_equal(kernels.matmul(a, b), a @ b):
        unequal.append([m, k, n])

# Grow Python's memory by 600 MB, then multiply arrays that lie at its far end.
heap = np.zeros(150_000_000, np.float32)
a = heap[-2 * 300 * 200:-300 * 200].reshape(300, 200)
b = heap[-300 * 200:].reshape(200, 300)
a[:], b[:] = rng.standard_normal((300, 200), dtype=np.float32), rng.standard_normal((200, 300), dtype=np.float32)
high = {"address_mb": a.__array_interface__["data"][0] / 2**20,
        "equal": bool(np.array_equal(kernels.matmul(a, b), a @ b))}

refused = []
for x, y in [(np.ones((2, 3)), np.ones((3, 2))), (np.ones((3, 2), np.float32).T, np.ones((3, 2), np.float32)),
             (np.ones((2, 3, 4), np.float32), np.ones((4, 2), np.float32))]:
    try:
        kernels.matmul(x, y)
    except kernels.UnsupportedInput as error:
        refused.append(str(error))
print(json.dumps({"available": kernels.available(), "why": kernels.why_unavailable(), "unequal": unequal,
                  "high": high, "refused": refused, "calls": kernels.call_count()}))
'''


def run_code(page, code: str) -> str:
    return page.evaluate("""async (code) => {
        let out = "";
        const reply = await window.tinytorch.runtime.request("run", {module: "17", learner: {}, code},
            {onOutput: (chunks) => chunks.forEach((c) => { out += c.text; })});
        return reply.ok && reply.result.ok ? out : out + (reply.error || reply.result.error); }""", code)


def check_kernel(page):
    output = run_code(page, KERNEL_CHECKS)
    result = json.loads(output.strip().splitlines()[-1])
    assert result["available"], result["why"]
    assert result["unequal"] == [], f"the kernel's products differ from NumPy's for shapes {result['unequal']}"
    assert result["high"]["equal"] and result["high"]["address_mb"] > 500, result["high"]
    assert len(result["refused"]) == 3 and "float64" in result["refused"][0], result["refused"]
    assert result["calls"] == 13  # the 12 shapes and the high arrays; refused calls are not counted


def test_the_kernel_gives_numpys_results_after_a_normal_start_and_after_a_snapshot(server, browser_profile):
    context = browser_profile()
    page = open_module(context, server.url + PAGE)
    assert page.evaluate("window.tinytorch.runtime.timings.pythonFrom") == "start"
    check_kernel(page)
    saved_snapshots(page)
    context.close()

    page = open_module(browser_profile(), server.url + PAGE)
    assert page.evaluate("window.tinytorch.runtime.timings.pythonFrom") == "snapshot"
    check_kernel(page)
    assert not page.tt_errors


BACKEND_USE = r'''
import json
import numpy as np
from tinytorch.core.tensor import Tensor
from tinytorch.optimization.acceleration import set_backend
from tinytorch_wasm import kernels

rng = np.random.default_rng(4)
x = Tensor(rng.standard_normal((64, 96), dtype=np.float32), requires_grad=True)
w = Tensor(rng.standard_normal((96, 32), dtype=np.float32), requires_grad=True)
counts, outputs, grads = {}, {}, {}
for backend in ("numpy", "simd"):
    set_backend(backend)
    x.grad = w.grad = None
    before = kernels.call_count()
    out = x @ w
    out.sum().backward()
    counts[backend] = kernels.call_count() - before
    outputs[backend], grads[backend] = out.data, (x.grad.data, w.grad.data)
set_backend("numpy")
print(json.dumps({"counts": counts, "same_output": bool(np.array_equal(outputs["numpy"], outputs["simd"])),
                  "same_grads": all(np.array_equal(g, h) for g, h in zip(grads["numpy"], grads["simd"]))}))
'''


def test_set_backend_simd_computes_with_the_kernel_forward_and_backward(server, browser_profile):
    page = open_module(browser_profile(), server.url + PAGE)
    result = json.loads(run_code(page, BACKEND_USE).strip().splitlines()[-1])
    assert result["counts"] == {"numpy": 0, "simd": 3}, result  # one product forward, two backward
    assert result["same_output"] and result["same_grads"], result

    # Module 17's own tests, where the kernel exists: one of them checks the simd backend really called it.
    set_editor(page, curriculum.module("17").reference_source())
    outcome = run_tests(page)
    assert outcome["state"] == "passed" and outcome["failed"] == 0, outcome["summary"]
