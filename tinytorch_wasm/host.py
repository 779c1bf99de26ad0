"""The one door from Python to the page: in the tab the worker provides `tt_host`; on CPython we print."""
from __future__ import annotations

import json

try:
    import tt_host  # registered by runtime/src/worker.js
except ImportError:
    tt_host = None


def emit(kind: str, payload: dict) -> None:
    """Send a structured event (a chart, a progress update) to the page, or summarise it on a terminal."""
    if tt_host is not None:
        tt_host.emit(kind, json.dumps(payload))
    else:
        print(f"[{kind}] {payload.get('title', '')}: {json.dumps(payload)[:300]}")
