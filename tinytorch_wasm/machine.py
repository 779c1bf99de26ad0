"""What the machine running this Python is: a browser tab or not, cross-origin isolated or not, and how large its
WebAssembly memory has grown. The same calls work on CPython, where the answers that only a tab has are None.

    from tinytorch_wasm.machine import cross_origin_isolated, wasm_memory_bytes
    cross_origin_isolated()   # True / False in a tab (browsers coarsen timers without it), None on CPython
    wasm_memory_bytes()       # the tab's WebAssembly memory: it grows when Python needs more, and never shrinks
"""
from __future__ import annotations

import sys


def in_browser() -> bool:
    """True when this Python is Pyodide (CPython compiled to WebAssembly), in a tab or a worker."""
    return sys.platform == "emscripten"


def cross_origin_isolated() -> bool | None:
    """The worker's `crossOriginIsolated`: True when the page was served with COOP/COEP (by the host or the course's
    service worker). Browsers give precise timers and SharedArrayBuffer only then."""
    if not in_browser():
        return None
    # The worker reads it for us: through Pyodide's `js` module, the worker's own getters fail with "Illegal
    # invocation" (its global scope is wrapped for the memory snapshot).
    import tt_host
    return bool(tt_host.crossOriginIsolated)


def wasm_memory_bytes() -> int | None:
    """Bytes of the WebAssembly memory Python and NumPy live in. It grows when an allocation needs more and never
    gives memory back to the browser, so it shows the high-water mark of everything since Python started."""
    if not in_browser():
        return None
    import pyodide_js  # the Pyodide API object, the same one the worker holds
    return int(pyodide_js._module.HEAP8.length)
