"""Historical milestones: `curriculum/milestones/YYYY_name/` re-creates a breakthrough with the learner's package.

A milestone folder holds `milestone.toml` (what it is and what counts as success), `story.md` (its page, with the
line `<!-- milestone -->` where the run panel goes) and `milestone.py`, which defines `run(report)`: it trains
with `tinytorch.*` (the learner's own code), calls `report.progress(step, total, **metrics)` as it goes and returns
the final measured value of the milestone's metric (or, with several criteria, {metric: value} for each). Success
is every measured value reaching its target, nothing else.

Optional parts (docs/authoring.md): `[[criteria]]`, several targets that must all be reached; `[config]`, the
numbers run() reads from `report.config`, with named smaller variants for tests (`[config.quick]`); `interact(text)`
in milestone.py with an `[interact]` table, a text box the page shows after a run; `artifacts`, the names of the
saved arrays (tinytorch_wasm.artifacts) the page carries to its requests.

    result = run_milestone("1958", package_dir)   # the same in the tab and behind `python -m tinytorch_wasm milestone`
"""
from __future__ import annotations

import math
import time
import tomllib
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import curriculum
from .curriculum import CURRICULUM
from . import artifacts
from .host import emit
from .running import compile_snippet, package_on_path
from .tracebacks import format_exception


ALL_CRITERIA = "criteria_reached"  # the headline metric of a milestone with several criteria
DEFAULT_CONFIG = "default"


@dataclass(frozen=True)
class Criterion:
    metric: str        # the key run() measures, e.g. "accuracy"
    target: float
    goal: str          # "at_least" (accuracy) or "at_most" (a loss)
    text: str          # success, in words
    label: str = ""    # a short name for the page, e.g. "Tiny GPT"
    unit: str = ""     # "percent" shows 0.99 as 99 %; any other text is shown after the number
    timed: bool = False  # measured in wall-clock time: other work on the machine can make it miss

    def reached(self, value) -> bool:
        if value is None:
            return False
        return value >= self.target if self.goal == "at_least" else value <= self.target

    def with_target(self, target: float) -> "Criterion":
        return replace(self, target=float(target))


@dataclass(frozen=True)
class Milestone:
    id: str            # "1958"
    slug: str          # "perceptron"
    title: str
    year: int
    folder: Path
    requires: str      # the last module it needs: the package must hold modules 01..requires
    criterion: str     # success, in words
    metric: str        # the headline value: the one criterion's metric, or criteria_reached with several
    target: float      # success: the headline value >= target
    summary: str = ""
    criteria: tuple = ()              # every Criterion; success is all of them reached
    configs: dict = field(default_factory=dict)  # {name: {key: value}}: "default" and its named variants
    interact: dict | None = None      # the [interact] table: the page's text box after a run
    artifacts: tuple = ()             # names of saved arrays this page's requests carry

    @property
    def code_file(self) -> Path:
        return self.folder / "milestone.py"

    @property
    def story_file(self) -> Path:
        return self.folder / "story.md"

    def config(self, name: str | None = None) -> tuple[dict, tuple]:
        """The values run() reads for configuration `name` (the default, or a variant over it) and the criteria
        with the targets that variant sets."""
        name = name or DEFAULT_CONFIG
        if name not in self.configs:
            known = ", ".join(self.configs) or "none"
            raise KeyError(f"{self.title} has no configuration {name!r} (it has: {known})")
        values = {**self.configs[DEFAULT_CONFIG], **self.configs[name]}
        targets = values.pop("targets", {})
        unknown = set(targets) - {c.metric for c in self.criteria}
        if unknown:
            raise ValueError(f"{self.folder.name}: configuration {name!r} sets targets for {sorted(unknown)}, "
                             "which are not criteria")
        return values, tuple(c.with_target(targets[c.metric]) if c.metric in targets else c for c in self.criteria)


def _criteria(spec: dict, folder: Path) -> tuple:
    if "criteria" not in spec:  # one criterion, written flat: metric, target, criterion (at least the target)
        return (Criterion(spec["metric"], float(spec["target"]), "at_least", spec["criterion"],
                          unit=spec.get("unit", "percent")),)
    found = []
    for entry in spec["criteria"]:
        goals = [g for g in ("at_least", "at_most") if g in entry]
        if len(goals) != 1:
            raise ValueError(f"{folder.name}: criterion {entry.get('metric')!r} needs exactly one of at_least, at_most")
        found.append(Criterion(entry["metric"], float(entry[goals[0]]), goals[0], entry["text"],
                               entry.get("label", ""), entry.get("unit", ""), bool(entry.get("timed", False))))
    return tuple(found)


def _configs(spec: dict) -> dict:
    """[config] is the default; each table inside it is a named variant of it."""
    table = spec.get("config", {})
    default = {k: v for k, v in table.items() if not isinstance(v, dict) or k == "targets"}
    variants = {k: v for k, v in table.items() if isinstance(v, dict) and k != "targets"}
    return {DEFAULT_CONFIG: default, **variants}


def _load(folder: Path) -> Milestone:
    spec = tomllib.loads((folder / "milestone.toml").read_text())
    criteria = _criteria(spec, folder)
    single = len(criteria) == 1 and criteria[0].goal == "at_least"
    return Milestone(id=str(spec["id"]), slug=spec["slug"], title=spec["title"], year=int(spec["year"]),
                     folder=folder, requires=str(spec["requires"]),
                     criterion=spec.get("criterion") or " ".join(c.text for c in criteria),
                     metric=criteria[0].metric if single else ALL_CRITERIA,
                     target=criteria[0].target if single else 1.0, summary=spec.get("summary", ""),
                     criteria=criteria, configs=_configs(spec), interact=spec.get("interact"),
                     artifacts=tuple(spec.get("artifacts", ())))


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
        self.config: dict = {}  # the configuration's values, set by run_milestone before run() starts
        self.config_name = DEFAULT_CONFIG
        self.targets: dict = {}  # {metric: target} of every criterion in this configuration, for run() to stop at

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
    every = traceback.extract_tb(exc.__traceback__)
    frames = [f for f in every if f.filename == str(code_file)]
    if not frames or every[-1].filename == str(code_file):  # none, or milestone.py raised it: its message says all
        return ""
    frame = frames[-1]
    return f"(called from {code_file.parent.name}/milestone.py, line {frame.lineno}: {(frame.line or '').strip()})\n"


def _load_code(m: Milestone) -> dict:
    namespace = {"__name__": f"milestone_{m.id}", "__file__": str(m.code_file)}
    exec(compile_snippet(m.code_file.read_text(), str(m.code_file)), namespace)
    return namespace


def _measured(m: Milestone, returned, report: Report) -> dict:
    """{metric: final value} for every criterion: what run() returned ({metric: value}, or one number for a
    single criterion), else the last value it reported."""
    if not isinstance(returned, dict):
        if len(m.criteria) != 1:
            raise TypeError(f"{m.folder.name}/milestone.py: run() returned {returned!r}; with several criteria it "
                            "must return {metric: value} for each")
        returned = {m.criteria[0].metric: returned}
    return {c.metric: returned.get(c.metric, report.last(c.metric)) for c in m.criteria}


def run_milestone(milestone_id: str, package_dir: Path, report: Report | None = None,
                  config: str | None = None) -> dict:
    """Run a milestone against the package in `package_dir` (put first on sys.path), in configuration `config`
    (None: the default; a variant's name, e.g. "quick", for tests).

    Never raises for anything the learner's code does (only a KeyError for an unknown milestone or configuration).

    Returns {"milestone", "metric", "value", "target", "passed", "seconds", "history", "stopped", "error",
    "criteria", "config", "artifacts"}: `criteria` lists each criterion with its measured `value` and whether it
    was `reached`; `value` is the headline metric's (the one criterion's value, or with several the fraction of
    them reached), `passed` is every criterion reached (never on Stop or error), `history` the progress points,
    `error` a learner-readable message or None, `artifacts` what the run saved (without the arrays).
    """
    m = milestone(milestone_id)
    values, criteria = m.config(config)
    m = replace(m, criteria=criteria, target=criteria[0].target if m.metric != ALL_CRITERIA else m.target)
    report = report if report is not None else Report(m.id)
    report.config, report.config_name = values, config or DEFAULT_CONFIG
    report.targets = {c.metric: c.target for c in m.criteria}
    started = time.perf_counter()
    measured, stopped, error = {c.metric: None for c in m.criteria}, False, None
    missing = _missing_modules(m, package_dir)
    saved = []
    if missing:
        error = f"{m.title} needs modules 01-{m.requires}; your package has no module " + ", ".join(missing) + "."
    else:
        with package_on_path(Path(package_dir)), artifacts.recording() as saved:
            try:
                returned = _load_code(m)["run"](report)
                measured = _measured(m, returned, report)
                bad = {k: v for k, v in measured.items() if v is None or _number(v) is None}
                if bad:
                    name, v = next(iter(bad.items()))
                    error = f"the run ended with {name} = {v}, which is not a number."
            except KeyboardInterrupt:
                stopped = True
                measured = {c.metric: report.last(c.metric) for c in m.criteria}
            except BaseException as exc:  # noqa: BLE001 - the learner's error is a result, not a crash
                error = format_exception(exc, package_dir) + _called_from(exc, m.code_file)
                measured = {c.metric: report.last(c.metric) for c in m.criteria}
    measured = {k: (None if v is None else _number(v)) for k, v in measured.items()}
    results = [{"metric": c.metric, "label": c.label, "goal": c.goal, "target": c.target, "unit": c.unit,
                "timed": c.timed, "value": measured[c.metric], "reached": c.reached(measured[c.metric])}
               for c in m.criteria]
    if m.metric == ALL_CRITERIA:
        value = None if all(r["value"] is None for r in results) else sum(r["reached"] for r in results) / len(results)
    else:
        value = measured[m.metric]
    passed = not stopped and error is None and all(r["reached"] for r in results)
    return {"milestone": m.id, "metric": m.metric, "value": value, "target": m.target, "passed": passed,
            "seconds": round(time.perf_counter() - started, 4), "history": report.history,
            "stopped": stopped, "error": error, "criteria": results, "config": report.config_name,
            "artifacts": saved}


def interact_milestone(milestone_id: str, package_dir: Path, text: str) -> dict:
    """Call `interact(text)` of a milestone's milestone.py with the package in `package_dir`: what the page's text
    box does after a run. Returns {"text": what it returned, "error": a learner-readable message or None,
    "stopped", "seconds"}; never raises for the learner's code."""
    m = milestone(milestone_id)
    started = time.perf_counter()
    reply, error, stopped = None, None, False
    with package_on_path(Path(package_dir)):
        try:
            namespace = _load_code(m)
            if "interact" not in namespace:
                raise LookupError(f"{m.folder.name}/milestone.py has no interact(text)")
            reply = str(namespace["interact"](str(text)))
        except KeyboardInterrupt:
            stopped = True
        except BaseException as exc:  # noqa: BLE001
            error = format_exception(exc, package_dir) + _called_from(exc, m.code_file)
    return {"text": reply, "error": error, "stopped": stopped, "seconds": round(time.perf_counter() - started, 4)}
