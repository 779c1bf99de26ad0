"""Historical milestones: `curriculum/milestones/YYYY_name/` re-creates a breakthrough with the learner's package.

A milestone folder holds `milestone.toml` (what it is and what counts as success), `story.md` (its page, with the
line `<!-- milestone -->` where the run panel goes) and `milestone.py`, which defines `run(report)`: it trains
with `tinytorch.*` (the learner's own code), calls `report.progress(step, total, **metrics)` as it goes and returns
the final measured value of the milestone's metric. Success is that value reaching the target, nothing else.

    result = run_milestone("1958", package_dir)   # the same in the tab and behind `python -m tinytorch_wasm milestone`
"""
from __future__ import annotations

import math
import time
import tomllib
import traceback
from dataclasses import dataclass
from pathlib import Path

from . import curriculum
from .curriculum import CURRICULUM
from .host import emit
from .running import compile_snippet, package_on_path
from .tracebacks import format_exception


@dataclass(frozen=True)
class Milestone:
    id: str            # "1958"
    slug: str          # "perceptron"
    title: str
    year: int
    folder: Path
    requires: str      # the last module it needs: the package must hold modules 01..requires
    criterion: str     # success, in words
    metric: str        # the history key run() measures, e.g. "accuracy"
    target: float      # success: final value of `metric` >= target
    summary: str = ""

    @property
    def code_file(self) -> Path:
        return self.folder / "milestone.py"

    @property
    def story_file(self) -> Path:
        return self.folder / "story.md"


def _load(folder: Path) -> Milestone:
    spec = tomllib.loads((folder / "milestone.toml").read_text())
    return Milestone(id=str(spec["id"]), slug=spec["slug"], title=spec["title"], year=int(spec["year"]),
                     folder=folder, requires=str(spec["requires"]), criterion=spec["criterion"],
                     metric=spec["metric"], target=float(spec["target"]), summary=spec.get("summary", ""))


def milestones(root: Path = CURRICULUM) -> list[Milestone]:
    """Every declared milestone, in historical order."""
    folder = root / "milestones"
    if not folder.is_dir():
        return []
    return [_load(d) for d in sorted(folder.iterdir()) if (d / "milestone.toml").exists()]


def milestone(milestone_id: str, root: Path = CURRICULUM) -> Milestone:
    for m in milestones(root):
        if milestone_id in (m.id, m.slug, m.folder.name):
            return m
    raise KeyError(f"no milestone {milestone_id!r} in {root / 'milestones'}")


def _number(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class Report:
    """What `run(report)` reports to: each progress point is kept in `history` and sent to the page at once."""

    def __init__(self, milestone_id: str):
        self.milestone_id = milestone_id
        self.history: list[dict] = []
        self.started = time.perf_counter()

    def progress(self, step: int, total: int, **metrics) -> None:
        """Record that `step` of `total` is done, with the numbers measured there (loss=..., accuracy=...)."""
        values = {name: _number(value) for name, value in metrics.items()}
        broken = [name for name, value in values.items() if value is None]
        if broken:  # a nan loss makes every later step meaningless: stop here and say so
            raise FloatingPointError(
                f"{', '.join(broken)} became {metrics[broken[0]]} at step {step}: some computation overflowed or "
                "divided by zero (an exp without max-subtraction, a log of 0, a learning rate far too large?)")
        point = {"step": int(step), "total": int(total),
                 "seconds": round(time.perf_counter() - self.started, 4), "metrics": values}
        self.history.append(point)
        emit("milestone-progress", {"milestone": self.milestone_id, **point})

    def last(self, metric: str) -> float | None:
        """The most recent measured value of `metric`, or None if it was never measured."""
        for point in reversed(self.history):
            if point["metrics"].get(metric) is not None:
                return point["metrics"][metric]
        return None


def _missing_modules(m: Milestone, package_dir: Path) -> list[str]:
    return [f"{module.id} ({module.package_path})" for module in curriculum.modules()
            if module.id <= m.requires and not (Path(package_dir) / module.package_path).exists()]


def _called_from(exc: BaseException, code_file: Path) -> str:
    """Where milestone.py called into the code that failed, so a learner sees what was being asked of it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(code_file)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"(called from {code_file.parent.name}/milestone.py, line {frame.lineno}: {(frame.line or '').strip()})\n"


def run_milestone(milestone_id: str, package_dir: Path, report: Report | None = None) -> dict:
    """Run a milestone against the package in `package_dir` (put first on sys.path).

    Never raises for anything the learner's code does (only a KeyError for an unknown milestone id).

    Returns {"milestone", "metric", "value", "target", "passed", "seconds", "history", "stopped", "error"}:
    `value` is the final measured metric (on Stop: the last one measured, or None), `passed` is value >= target
    (never on Stop or error), `history` the progress points, `error` a learner-readable message or None.
    """
    m = milestone(milestone_id)
    report = report if report is not None else Report(m.id)
    started = time.perf_counter()
    value, stopped, error = None, False, None
    missing = _missing_modules(m, package_dir)
    if missing:
        error = f"{m.title} needs modules 01-{m.requires}; your package has no module " + ", ".join(missing) + "."
    else:
        with package_on_path(Path(package_dir)):
            try:
                namespace = {"__name__": f"milestone_{m.id}", "__file__": str(m.code_file)}
                exec(compile_snippet(m.code_file.read_text(), str(m.code_file)), namespace)
                measured = namespace["run"](report)
                value = _number(measured)
                if value is None:
                    error = f"the run ended with {m.metric} = {measured}, which is not a number."
            except KeyboardInterrupt:
                stopped, value = True, report.last(m.metric)
            except BaseException as exc:  # noqa: BLE001 - the learner's error is a result, not a crash
                error = format_exception(exc, package_dir) + _called_from(exc, m.code_file)
                value = report.last(m.metric)
    passed = value is not None and not stopped and error is None and value >= m.target
    return {"milestone": m.id, "metric": m.metric, "value": value, "target": m.target, "passed": passed,
            "seconds": round(time.perf_counter() - started, 4), "history": report.history,
            "stopped": stopped, "error": error}
