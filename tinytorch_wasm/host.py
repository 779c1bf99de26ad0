"""The one door from Python to the page: in the tab the worker provides `tt_host`; on CPython we print."""
from __future__ import annotations

import json
import math


def page():
    """The page's side of the door, `tt_host`, or None on CPython. Looked up at each use, never kept from import:
    the worker registers it after this harness was imported into the saved Python (runtime/src/snapshot.js)."""
    try:
        import tt_host  # registered by runtime/src/worker.js
    except ImportError:
        return None
    return tt_host


def _finite(value):
    """NaN and infinity become None: JSON has no such numbers, and the page must not choke on a diverged loss."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def emit(kind: str, payload: dict) -> None:
    """Send a structured event (a chart, a progress update) to the page, or summarise it on a terminal."""
    tt_host = page()
    if tt_host is not None:
        tt_host.emit(kind, json.dumps(_finite(payload)))
    else:
        print(f"[{kind}] {payload.get('title', '')}: {json.dumps(payload)[:300]}")
