"""JSON results a module saves to progress (tinytorch_wasm.results), on CPython: the capstone's submission follows
its schema from make_submission through JSON and back, a malformed one is refused with a message that says where,
it fits the export file, and the grader re-checks it by running the pipeline again, flagging inflated claims."""
import copy
import json

import pytest

from tinytorch_wasm import curriculum, results
from tinytorch_wasm.grading import export, grader, gradescope, reports
from tinytorch_wasm import course as courses
from tinytorch_wasm.package import assemble
from tinytorch_wasm.running import package_on_path

from test_grading import export_of

NAME = "capstone-submission"
CAPSTONE = curriculum.module("20")
PIPELINE = [{"step": "structured_prune", "fraction": 0.5}, {"step": "finetune", "epochs": 3, "lr": 0.01}]


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """A submission made as the lesson makes it, with the reference package, on this machine."""
    package = tmp_path_factory.mktemp("package")
    assemble(package, {}, upto="20")
    with package_on_path(package):
        from tinytorch.capstone.submission import Budgets, Data, make_submission, measure, optimize
        from tinytorch_wasm.datasets import load_tinydigits
        from tinytorch_wasm.trained import channel_images, tinydigits_cnn
        budgets = Budgets.from_toml((CAPSTONE.folder / "budgets.toml").read_text())
        digits = load_tinydigits()
        data = Data(channel_images(digits.x_train), digits.y_train, channel_images(digits.x_test), digits.y_test)
        baseline = tinydigits_cnn()
        optimized, log = optimize(baseline, PIPELINE, data)
        return make_submission(*measure(baseline, optimized, data, budgets), PIPELINE, budgets, log)


def test_the_capstone_declares_its_result_and_the_files_exist():
    module, declared = results.declared(NAME)
    assert module.id == "20" and (module.folder / declared.schema).is_file() and (module.folder / declared.recheck).is_file()
    with pytest.raises(KeyError, match="no module declares a result named 'nope'"):
        results.declared("nope")


def test_a_submission_survives_json_and_its_schema(honest):
    again = json.loads(json.dumps(honest))
    assert results.problems(NAME, again) == []
    assert again["passed"] is True, f"the reference pipeline meets every budget here: {again['checks']}"


@pytest.mark.parametrize("break_it, where", [
    (lambda s: s.pop("checks"), "'checks' is a required property"),
    (lambda s: s.update(format="something-else"), "at format"),
    (lambda s: s["pipeline"].append({"step": "delete_the_tests"}), "at pipeline/2/step"),
    (lambda s: s["optimized"].update(accuracy=1.5), "at optimized/accuracy"),
    (lambda s: s["checks"][0].update(met="yes"), "at checks/0/met"),
    (lambda s: s.update(extra=1), "Additional properties are not allowed"),
], ids=["missing", "format", "unknown-step", "accuracy-over-one", "met-not-bool", "extra-key"])
def test_a_malformed_submission_is_refused_saying_where(honest, break_it, where):
    broken = copy.deepcopy(honest)
    break_it(broken)
    found = results.problems(NAME, broken)
    assert found and any(where in p for p in found), found
    with pytest.raises(ValueError, match="does not follow submission.schema.json"):
        results.save(NAME, broken)


def test_save_refuses_what_json_cannot_hold(honest):
    import numpy as np
    odd = {**honest, "passed": np.bool_(True)}
    with pytest.raises(ValueError, match="not plain JSON"):
        results.save(NAME, odd)


def test_an_export_carries_a_submission_and_stays_valid(honest):
    document = export_of({"20": CAPSTONE.reference_source()},
                         {"modules": {"20": {"results": {NAME: {"value": honest, "at": "2026-11-30T21:00:00Z"}}}},
                          "milestones": {}})
    parsed = export.parse(json.dumps(document).encode())
    assert parsed.progress["modules"]["20"]["results"][NAME]["value"] == honest
    document["progress"]["modules"]["20"]["results"][NAME] = {"value": "not an object"}
    with pytest.raises(export.ExportError, match="progress in the export is damaged"):
        export.parse(json.dumps(document).encode())


def test_the_grader_rechecks_by_running_and_flags_inflated_claims(honest, tmp_path):
    inflated = copy.deepcopy(honest)
    inflated["pipeline"] = [{"step": "quantize"}]  # really: 3 KB, but slower than the baseline in NumPy
    inflated["optimized"]["size_bytes"] = 1000
    inflated["optimized"]["latency_ms"] = inflated["baseline"]["latency_ms"] / 10
    malformed = {**honest, "checks": []}
    for name, claim in (("honest", honest), ("inflated", inflated), ("malformed", malformed)):
        progress = {"modules": {"20": {"results": {NAME: {"value": claim}}}}, "milestones": {}}
        (tmp_path / f"{name}.json").write_text(json.dumps(export_of({"20": CAPSTONE.reference_source()}, progress)))
    options = grader.Options(course=courses.load(), modules=["20"], jobs=1, test_seconds=120, progress=False)
    paths = grader.expand([tmp_path])
    result = grader.grade(paths, options, [p.stem for p in paths])
    rows = {r["learner"]: r for r in reports.summarise(result, options.course, options.weights)}
    key = f"20:{NAME}"
    good = rows["honest"]["results"][key]
    assert good["valid"] and good["passed"] is True and good["differences"] == [], good
    assert good["remeasured"]["optimized"]["size_bytes"] == honest["optimized"]["size_bytes"]
    bad = rows["inflated"]["results"][key]
    assert bad["valid"] and bad["passed"] is False, bad
    text = " ".join(bad["differences"])
    assert "optimized size: claimed 1,000 bytes" in text and "latency ratio: claimed 0.10x" in text, text
    assert "re-measured, they were not all met" in text, text
    assert "claimed and re-measured differ" in rows["inflated"]["feedback"]
    refused = rows["malformed"]["results"][key]
    assert not refused["valid"] and any("checks" in p for p in refused["problems"]), refused
    assert rows["honest"]["score"] == rows["inflated"]["score"], "a result is reported, not scored"
    # Gradescope's results.json carries each re-check too, for 0 points: passed when honest, failed when inflated.
    for name, status in (("honest", "passed"), ("inflated", "failed"), ("malformed", "failed")):
        sheet = reports.gradescope(rows[name], result, options.course, options.weights, 1.0)
        gradescope.check(sheet)
        [entry] = [t for t in sheet["tests"] if "(re-checked)" in t["name"]]
        assert entry["status"] == status and entry["max_score"] == 0, entry
        assert sheet["score"] == rows[name]["score"]
        assert ("claimed and re-measured differ" in entry["output"]) == (name == "inflated"), entry["output"]
