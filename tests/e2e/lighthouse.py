"""Lighthouse (npm `lighthouse`, pinned in package-lock.json) in Debian's Chromium, for the tests and the benchmark.

    from lighthouse import audit
    report = audit(url, ["accessibility"])      # Lighthouse's JSON report (lhr)
    report["categories"]["accessibility"]["score"], failed_audits(report, "accessibility")

Chromium gets the flags the browser tests use (tests/e2e/conftest.py), so it never reaches another host. Each call
starts its own headless Chromium with a fresh profile; runs are sequential (the machines have 2 cores).
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT

LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"


def audit(url: str, categories: list[str], desktop: bool = True, timeout_s: int = 240) -> dict:
    """Lighthouse's report for `url`, limited to `categories` (accessibility, performance, best-practices, seo)."""
    if not LIGHTHOUSE.exists():
        raise RuntimeError(f"{LIGHTHOUSE} is missing: run `python3 build.py` (npm ci installs it)")
    with tempfile.TemporaryDirectory(prefix="tt-lighthouse-") as tmp:
        out = Path(tmp) / "report.json"
        flags = ["--headless=new", *CHROMIUM_ARGS, f"--user-data-dir={Path(tmp) / 'profile'}"]
        command = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={out}",
                   f"--only-categories={','.join(categories)}", "--no-enable-error-reporting",
                   "--chrome-flags=" + " ".join(flags), "--max-wait-for-load=60000"]
        if desktop:
            command.append("--preset=desktop")
        env = {**os.environ, "CHROME_PATH": CHROMIUM}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"lighthouse failed ({done.returncode}) on {url}:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def score(report: dict, category: str) -> int:
    """The category's score out of 100."""
    return round(100 * report["categories"][category]["score"])


def failed_audits(report: dict, category: str) -> dict[str, list[str]]:
    """{audit id: [selectors of the failing elements]} for the audits of `category` that did not pass."""
    failed = {}
    for ref in report["categories"][category]["auditRefs"]:
        result = report["audits"][ref["id"]]
        if ref["weight"] and result["score"] is not None and result["score"] < 1:
            items = (result.get("details") or {}).get("items", [])
            failed[ref["id"]] = [(i.get("node") or {}).get("selector", "") for i in items][:10]
    return failed
