"""Points: what each test and milestone is worth, each learner's scores, and the feedback text they read.

Weights come from `grading.toml` (in the instructor's tests folder, or --weights FILE); every key is optional:

    test = 1                  # points of a test not covered below
    milestone = 1             # points of a milestone reached, unless set below
    private_visibility = "after_due_date"   # on Gradescope: hidden | after_due_date | after_published | visible

    [modules]                 # a module's total, shared equally by its tests (its own and the private ones)
    "06" = 20
    [exercises]               # an exercise's total, shared by its tests; taken out of its module's total
    "6.2" = 8
    [milestones]
    "1986" = 10
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


@dataclass
class Weights:
    test: float = 1.0
    milestone: float = 1.0
    modules: dict[str, float] = field(default_factory=dict)
    exercises: dict[str, float] = field(default_factory=dict)
    milestones: dict[str, float] = field(default_factory=dict)
    private_visibility: str = "after_due_date"

    @classmethod
    def load(cls, path: Path | None) -> "Weights":
        if path is None or not Path(path).exists():
            return cls()
        spec = tomllib.loads(Path(path).read_text())
        known = {"test", "milestone", "modules", "exercises", "milestones", "private_visibility"}
        if set(spec) - known:
            raise ValueError(f"{path}: unknown keys {', '.join(sorted(set(spec) - known))} (known: {', '.join(sorted(known))})")
        weights = cls(**{k: spec[k] for k in known if k in spec})
        if weights.private_visibility not in VISIBILITIES:
            raise ValueError(f"{path}: private_visibility must be one of {', '.join(VISIBILITIES)}")
        return weights

    def test_points(self, module_id: str, tests: list[dict]) -> dict[str, float]:
        """{test node: points} for all of a module's tests (each {node, exercise})."""
        points = {}
        by_exercise: dict[str, list[str]] = {}
        for t in tests:
            by_exercise.setdefault(t.get("exercise"), []).append(t["node"])
        fixed = 0.0
        for exercise, nodes in by_exercise.items():
            if exercise in self.exercises:
                fixed += self.exercises[exercise]
                points.update({n: self.exercises[exercise] / len(nodes) for n in nodes})
        rest = [t["node"] for t in tests if t["node"] not in points]
        if module_id in self.modules and rest:
            share = max(self.modules[module_id] - fixed, 0.0) / len(rest)
            points.update({n: share for n in rest})
        else:
            points.update({n: self.test for n in rest})
        return points

    def milestone_points(self, milestone_id: str) -> float:
        return self.milestones.get(milestone_id, self.milestone)


def _round(value: float) -> float:
    return round(value + 0.0, 2)


def score_learner(learner, course, expected: dict, weights: Weights, modules) -> dict:
    """A learner's scores per module (and per exercise) and milestone, with the reasons a unit failed as a whole."""
    units = {(u.kind, u.target): u for u in learner.units}
    summary = {"modules": {}, "milestones": {}, "score": 0.0, "max": 0.0}
    for m in modules:
        own = [{**t, "kind": "module"} for t in expected.get(("module", m.id), [])]
        private = [{**t, "kind": "private"} for t in expected.get(("private", m.id), [])]
        points = weights.test_points(m.id, own + private)
        outcomes: dict[str, str] = {}
        reasons, grader_problems, notes = [], [], []
        status = "graded"
        for kind in ("module", "private"):
            unit = units.get((kind, m.id))
            if unit is None:
                continue
            status = unit.status if kind == "module" else status
            if unit.grader_problem:
                grader_problems.append(unit.grader_problem)
            reasons.extend(unit.reasons)
            notes.extend(unit.notes)
            for t in unit.tests:
                outcomes[(kind, t["node"])] = "failed" if unit.failed_whole else t["outcome"]
        def tally(tests, kind):
            passed = [t for t in tests if outcomes.get((kind, t["node"])) == "passed"]
            return {"passed": len(passed), "total": len(tests),
                    "score": _round(sum(points[t["node"]] for t in passed)),
                    "max": _round(sum(points[t["node"]] for t in tests))}
        course_tests, private_tests = tally(own, "module"), tally(private, "private")
        exercises = {}
        for e in [*m.exercises, None]:
            eid = e.id if e else None
            mine = [t for t in own if t.get("exercise") == eid]
            if mine:
                exercises[eid or "other"] = {"title": e.title if e else "Other checks", **tally(mine, "module")}
        entry = {"title": m.title, "status": status, "score": _round(course_tests["score"] + private_tests["score"]),
                 "max": _round(course_tests["max"] + private_tests["max"]), "tests": course_tests,
                 "private": private_tests, "exercises": exercises, "reasons": reasons, "notes": notes,
                 "grader_problems": grader_problems, "claim": claim_note(learner.claimed, m.id, course_tests, status)}
        summary["modules"][m.id] = entry
    graded = {m.id for m in modules}
    for m in course.milestones:
        if not all(i in graded for i in course.module_ids() if i <= m.requires):
            continue  # not graded in this run (--modules)
        unit = units.get(("milestone", m.id))
        if unit is None:  # nothing ran: an export that could not be read
            from .grader import UnitResult
            unit = UnitResult(kind="milestone", target=m.id, status="not submitted")
        result = unit.milestone or {}
        value = result.get("value")
        reached = (not unit.failed_whole and unit.status == "graded" and value is not None and value >= m.target)
        worth = weights.milestone_points(m.id)
        entry = {"title": m.title, "year": m.year, "status": unit.status, "reached": reached, "value": value,
                 "metric": m.metric, "target": m.target, "error": result.get("error"), "reasons": unit.reasons,
                 "grader_problems": [unit.grader_problem] if unit.grader_problem else [],
                 "score": _round(worth if reached else 0.0), "max": _round(worth),
                 "claim": milestone_claim(learner.claimed, m.id, reached), "criteria": result.get("criteria") or [],
                 "notes": unit.notes}
        summary["milestones"][m.id] = entry
    summary["results"] = {u.target: result_entry(u, course) for u in learner.units if u.kind == "result"}
    for part in (*summary["modules"].values(), *summary["milestones"].values()):
        summary["score"] = _round(summary["score"] + part["score"])
        summary["max"] = _round(summary["max"] + part["max"])
    return summary


def result_entry(unit, course) -> dict:
    """A claimed JSON result as re-checked (not scored): valid against its schema or why not, the module's
    re-check report (re-measured figures, budgets met) and every claimed figure that differs beyond noise."""
    module_id, name = unit.target.split(":", 1)
    declared = {r.name: r for m in course.modules if m.id == module_id for r in m.results}.get(name)
    found = unit.result or {}
    problems = found.get("problems", []) if found.get("valid") is False else []
    return {"title": declared.title if declared else name, "module": module_id, "status": unit.status,
            "valid": not problems, "problems": problems, "error": found.get("error"),
            "passed": found.get("passed"), "checks": found.get("checks", []), "remeasured": found.get("remeasured"),
            "differences": found.get("differences", []), "reasons": unit.reasons,
            "grader_problems": [unit.grader_problem] if unit.grader_problem else []}


def result_lines(entry: dict) -> list[str]:
    head = f"{entry['title']} (module {entry['module']}), re-checked by running it again (not scored)"
    if entry["status"] != "graded":
        return [f"{head}: {entry['status']}."]
    if not entry["valid"]:
        return [f"{head}: the saved result does not follow its schema, so it was not run:",
                *(f"  {p}" for p in entry["problems"][:5])]
    if entry["reasons"] or entry["grader_problems"] or entry["error"]:
        why = entry["reasons"] + entry["grader_problems"] + ([entry["error"].strip().splitlines()[-1][:300]]
                                                             if entry["error"] else [])
        return [f"{head}: could not be re-checked: {'; '.join(why)}"]
    lines = [f"{head}: {'every budget met' if entry['passed'] else 'not every budget met'}"]
    for check in entry["checks"]:
        lines.append(f"  {'✓' if check['met'] else '✗'} {check['name']}: {check['value']:.4g} "
                     f"(at most {check['limit']:.4g})")
    lines.extend(f"  Note: claimed and re-measured differ: {d}." for d in entry["differences"])
    return lines


def claim_note(claimed: dict, module_id: str, rerun: dict, status: str) -> str | None:
    """Where the export's claim about a module differs from the re-run (as Otter-Grader reports discrepancies)."""
    claim = (claimed.get("modules") or {}).get(module_id) or {}
    last = claim.get("lastRun") or {}
    if not claim.get("passed") and not last:
        return None
    all_passed = rerun["total"] > 0 and rerun["passed"] == rerun["total"]
    said = (f"all tests passing" if claim.get("passed") else
            f"{last.get('passed')}/{last.get('total')} tests passing")
    if status != "graded":
        return f"the export claims {said}, but holds no code for this module"
    if bool(claim.get("passed")) != all_passed or (last and last.get("passed") != rerun["passed"]
                                                    and claim.get("passed") is not True):
        return f"the export claims {said}; the re-run passes {rerun['passed']} of {rerun['total']}"
    return None


def criteria_lines(milestone: dict) -> list[str]:
    """A line per criterion of a milestone with several, with its measured value: which one was missed."""
    criteria = milestone.get("criteria") or []
    if len(criteria) < 2:
        return []
    return [f"{'✓' if c['reached'] else '✗'} {criterion_text(c)}" for c in criteria]


def criterion_text(c: dict) -> str:
    """'KV cache: kv_cache_speedup 1.05 (at least 1.08)': a criterion of a milestone's result, as measured."""
    value = "not measured" if c["value"] is None else f"{c['value']:.3g}"
    bound = "at least" if c["goal"] == "at_least" else "at most"
    return f"{c['label'] or c['metric']}: {c['metric']} {value} ({bound} {c['target']:g})"


def milestone_claim(claimed: dict, milestone_id: str, reached: bool) -> str | None:
    claim = (claimed.get("milestones") or {}).get(milestone_id) or {}
    if claim.get("passed") and not reached:
        return "the export claims this milestone was reached; the re-run did not reach it"
    return None


def _failures(tests: list[dict], shown: int = 6) -> list[str]:
    """Failing tests, grouped by their message: a starter fails fifty tests with one NotImplementedError."""
    groups: dict[str, list[dict]] = {}
    for test in tests:
        if test["outcome"] != "passed":
            message = (test["message"] or test["outcome"]).strip().splitlines()
            groups.setdefault(message[-1][:300] if message else test["outcome"], []).append(test)
    lines = []
    for message, failing in list(groups.items())[:shown]:
        names = ", ".join(t["id"] + (f" [{t['exercise']}]" if t["exercise"] else "") for t in failing[:3])
        more = f" and {len(failing) - 3} more" if len(failing) > 3 else ""
        lines.append(f"  ✗ {names}{more}: {message}")
    if len(groups) > shown:
        lines.append(f"  … and {sum(len(g) for g in list(groups.values())[shown:])} more failing tests")
    return lines


def feedback(learner, summary: dict, visible_private: bool = True) -> str:
    """The text a learner reads: every module and milestone, what failed and why, and where claims differ."""
    lines = [f"TinyTorch grade for {learner.name}: {summary['score']:g} / {summary['max']:g}", ""]
    if learner.error:
        return f"TinyTorch grade for {learner.name}: 0\n\nYour file could not be graded: {learner.error}.\n"
    units = {(u.kind, u.target): u for u in learner.units}
    for module_id, m in summary["modules"].items():
        t = m["tests"]
        head = f"Module {module_id} {m['title']}: {m['score']:g} / {m['max']:g}"
        if m["status"] != "graded":
            lines.append(f"{head}: {m['status']}.")
            continue
        lines.append(f"{head} ({t['passed']} of {t['total']} tests passed"
                     + (f"; instructor's tests {m['private']['passed']} of {m['private']['total']}"
                        if m["private"]["total"] else "") + ")")
        for reason in m["reasons"]:
            lines.append(f"  Failed as a whole: {reason}")
        for problem in m["grader_problems"]:
            lines.append(f"  The grader could not run this (not your fault; tell your instructor): {problem}")
        unit = units.get(("module", module_id))
        if unit and not m["reasons"]:
            lines.extend(_failures(unit.tests))
        lines.extend(f"  Note: {note}." for note in m["notes"])
        private = units.get(("private", module_id))
        if private and visible_private and not m["reasons"]:
            for test in private.tests:
                if test["outcome"] != "passed":
                    lines.append(f"  ✗ instructor's test {test['id']}")
        if m["claim"]:
            lines.append(f"  Note: {m['claim']}.")
    for milestone_id, m in summary["milestones"].items():
        head = f"Milestone {m['year']} {m['title']}: {m['score']:g} / {m['max']:g}"
        if m["status"] != "graded":
            lines.append(f"{head}: {'; '.join(m['reasons']) or m['status']}.")
            continue
        value = "not measured" if m["value"] is None else f"{m['value']:.3f}"
        lines.append(f"{head}: {'reached' if m['reached'] else 'not reached'} ({m['metric']} {value}, "
                     f"target {m['target']:g})")
        lines.extend(f"  {line}" for line in criteria_lines(m))
        for reason in m["reasons"]:
            lines.append(f"  Failed as a whole: {reason}")
        if m["error"] and not m["reasons"]:
            lines.append("  " + m["error"].strip().splitlines()[-1][:300])
        lines.extend(f"  Note: {note}." for note in m["notes"])
        if m["claim"]:
            lines.append(f"  Note: {m['claim']}.")
    for entry in summary.get("results", {}).values():
        lines.extend(result_lines(entry))
    return "\n".join(lines) + "\n"
