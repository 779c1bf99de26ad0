"""What a grading run writes: the class summary as CSV (a row a learner, a column a module or milestone) and as
JSON (everything, per test), each learner's feedback text, and Gradescope's results.json for one submission."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from .scoring import Weights, criteria_lines, feedback, result_lines, score_learner


def summarise(result, course, weights: Weights) -> list[dict]:
    """One entry per learner: their scores, the per-test detail and their feedback text."""
    rows = []
    for learner in result.learners:
        summary = score_learner(learner, course, result.expected, weights, result.modules)
        if learner.error:
            summary = {**summary, "score": 0.0}
        units = [{"kind": u.kind, "target": u.target, "status": u.status, "tests": u.tests, "reasons": u.reasons, "notes": u.notes,
                  "milestone": u.milestone, "result": u.result, "seconds": u.seconds, "grader_problem": u.grader_problem,
                  "output": u.output[-4000:]} for u in learner.units]
        rows.append({"learner": learner.name, "file": str(learner.path), "error": learner.error,
                     "seconds": round(learner.seconds, 2), **summary, "units": units,
                     "feedback": feedback(learner, summary)})
    return rows


def class_json(rows: list[dict], result, course) -> str:
    return json.dumps({
        "course": course.title, "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": result.seconds, "isolation": result.isolation,
        "modules": [{"id": m.id, "title": m.title} for m in result.modules],
        "milestones": [{"id": m.id, "title": m.title} for m in course.milestones],
        "learners": rows}, indent=1)


def problems(row: dict) -> list[str]:
    found = [f"export: {row['error']}"] if row["error"] else []
    for kind in ("modules", "milestones"):
        for key, part in row[kind].items():
            found += [f"{key}: {r}" for r in part["reasons"] if part["status"] == "graded"]
            found += [f"{key}: {n}" for n in part.get("notes", [])]
            found += [f"{key}: grader problem: {p}" for p in part["grader_problems"]]
            if part.get("claim"):
                found.append(f"{key}: {part['claim']}")
    for key, entry in row.get("results", {}).items():
        found += [f"{key}: not valid: {p}" for p in entry["problems"]]
        found += [f"{key}: claimed and re-measured differ: {d}" for d in entry["differences"]]
        found += [f"{key}: {r}" for r in entry["reasons"] + entry["grader_problems"]]
        if entry["error"]:
            found.append(f"{key}: {entry['error'].strip().splitlines()[-1][:300]}")
    return found


def class_csv(rows: list[dict], result, course) -> str:
    """A row a learner, a column a module and a milestone (points), then the total: a spreadsheet or an LMS's
    grade import reads it as it is."""
    out = io.StringIO()
    writer = csv.writer(out)
    modules = [(m.id, f"{m.id} {m.slug}") for m in result.modules]
    landmarks = [(m.id, f"{m.year} {m.slug}") for m in course.milestones]
    writer.writerow(["learner", "file", "total", "max", *[h for _, h in modules], *[h for _, h in landmarks],
                     "problems"])
    for row in rows:
        writer.writerow([row["learner"], row["file"], row["score"], row["max"],
                         *[row["modules"].get(i, {}).get("score", "") for i, _ in modules],
                         *[row["milestones"].get(i, {}).get("score", "") for i, _ in landmarks],
                         "; ".join(problems(row))[:2000]])
    return out.getvalue()


def gradescope(row: dict, result, course, weights: Weights, seconds: float) -> dict:
    """results.json as Gradescope's autograder specification describes it: a top-level score, execution time and
    output, and one test entry per exercise of each module (the module's own tests, visible), one per module for
    the instructor's private tests (`private_visibility`), one per milestone, and one per saved result (the
    capstone's submission) as re-checked, for 0 points."""
    tests = []
    units = {(u["kind"], u["target"]): u for u in row["units"]}
    for module_id, m in row["modules"].items():
        unit = units.get(("module", module_id)) or {"tests": []}
        whole = "; ".join(m["reasons"] + m["grader_problems"])
        for exercise_id, e in m["exercises"].items():
            failing = [t for t in unit["tests"] if (t["exercise"] or "other") == exercise_id
                       and t["outcome"] != "passed"]
            text = whole or (m["status"] if m["status"] != "graded" else "")
            text = text or "\n".join(f"✗ {t['id']}: {(t['message'] or t['outcome']).strip()[:1500]}" for t in failing)
            text = text or f"All {e['total']} tests passed."
            if m.get("claim"):
                text += f"\nNote: {m['claim']}."
            tests.append({"name": f"Module {module_id} {m['title']} · {exercise_id} {e['title']}",
                          "number": exercise_id if exercise_id != "other" else f"{int(module_id)}.x",
                          "score": e["score"] if not whole else 0.0, "max_score": e["max"],
                          "status": "passed" if e["passed"] == e["total"] and not whole else "failed",
                          "output": text, "visibility": "visible"})
        if m["private"]["total"]:
            p = m["private"]
            tests.append({"name": f"Module {module_id} {m['title']} · instructor's tests",
                          "score": p["score"] if not whole else 0.0, "max_score": p["max"],
                          "status": "passed" if p["passed"] == p["total"] and not whole else "failed",
                          "output": whole or f"{p['passed']} of {p['total']} passed.",
                          "visibility": weights.private_visibility})
    for milestone_id, m in row["milestones"].items():
        value = "not measured" if m["value"] is None else f"{m['value']:.3f}"
        text = "; ".join(m["reasons"] + m["grader_problems"]) or (
            f"{'Reached' if m['reached'] else 'Not reached'}: {m['metric']} {value}, target {m['target']:g}." +
            "".join(f"\n{line}" for line in criteria_lines(m)) +
            (f"\n{m['error'].strip()[-1500:]}" if m["error"] and not m["reached"] else ""))
        tests.append({"name": f"Milestone {m['year']} {m['title']}", "score": m["score"], "max_score": m["max"],
                      "status": "passed" if m["reached"] else "failed", "output": text, "visibility": "visible"})
    for entry in row.get("results", {}).values():  # reported, never scored: 0 of 0 points, failed where it differs
        honest = entry["valid"] and entry["passed"] and not entry["differences"] and entry["status"] == "graded"
        tests.append({"name": f"Module {entry['module']} · {entry['title']} (re-checked)", "score": 0.0,
                      "max_score": 0.0, "status": "passed" if honest else "failed",
                      "output": "\n".join(result_lines(entry)), "visibility": "visible"})
    return {"score": row["score"], "execution_time": int(round(seconds)), "output": row["feedback"],
            "stdout_visibility": "hidden", "tests": tests}
