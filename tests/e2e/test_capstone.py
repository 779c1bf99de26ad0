"""Module 20 in Chromium: the lesson's submission block, run with the reference in the tab, saves a submission the
page has checked against the module's schema; it is in the learner's progress and in the export file, which the
grader's reader accepts and whose submission the schema accepts. A malformed one is refused, the saved one kept."""
import json

from conftest import open_module, run_tests, set_editor
from tinytorch_wasm import course as courses
from tinytorch_wasm import curriculum, results
from tinytorch_wasm.grading import export, grader, reports

CAPSTONE = curriculum.module("20")
NAME = "capstone-submission"
SAVED = f"() => ((window.tinytorch.state.progress().modules['20'] || {{}}).results || {{}})['{NAME}'] || null"


def run_block(page, block):
    block.locator(".tt-run-button").click()
    page.wait_for_function("button => !button.disabled", arg=block.locator(".tt-run-button").element_handle(),
                           timeout=300_000)
    return block.locator(".tt-output").inner_text()


def test_a_submission_made_in_the_tab_is_saved_exported_and_rechecked(server, browser_profile, tmp_path):
    context = browser_profile()
    page = open_module(context, f"{server.url}modules/20-capstone/")
    assert page.locator(".tt-results [data-result='capstone-submission'][data-state='missing']").count() == 1
    set_editor(page, CAPSTONE.reference_source())
    ran = run_tests(page)
    assert ran["state"] == "passed" and ran["passed"] >= 12, ran
    block = page.locator(".tt-experiment").nth(1)
    output = run_block(page, block)
    assert "Measurement finished" in output and "TinyDigits CNN: structured_prune -> finetune" in output, output[-2000:]
    page.wait_for_selector(".tt-results [data-result='capstone-submission'][data-state='saved']")
    saved = page.evaluate(SAVED)
    assert saved and saved["value"]["format"] == "tinytorch-capstone-submission", saved
    assert results.problems(NAME, saved["value"]) == [], "the page kept a submission its schema refuses"
    print("tab submission:", json.dumps({k: saved["value"][k] for k in ("checks", "speedup", "backend")}))

    # A malformed one (not the learner's normal path: straight through the same results API) is refused, and the
    # saved one stays.
    page.evaluate("""code => window.tinytorch.workbench.request("run", { module: "20",
        learner: window.tinytorch.workbench.learnerFiles(), code })""",
                  "from tinytorch_wasm import results\nresults.save('capstone-submission', {'format': 'nope'})")
    page.wait_for_selector(".tt-results [data-result='capstone-submission'][data-state='refused']")
    assert "does not follow submission.schema.json" in page.inner_text(".tt-results")
    assert page.evaluate(SAVED)["at"] == saved["at"], "a refused submission must not replace the saved one"

    page.goto(server.url + "progress/")
    page.wait_for_function("window.tinytorch && window.tinytorch.progress")
    listed = page.inner_text(f"tr[data-module='20'] [data-result='{NAME}']")  # the Progress page lists it
    verdict = "every budget met" if saved["value"]["passed"] else "not every budget met"
    assert listed.startswith("Capstone submission saved") and listed.endswith(f"({verdict})"), listed
    with page.expect_download() as download:
        page.locator("button", has_text="Export all work").click()
    document = download.value.path().read_bytes()
    parsed = export.parse(document)
    exported = parsed.progress["modules"]["20"]["results"][NAME]["value"]
    assert exported == saved["value"] and results.problems(NAME, exported) == []
    assert not page.tt_errors, page.tt_errors

    # The instructor's grader re-runs the tab's submission on CPython: its sizes are reproduced to the byte (the
    # baseline trains with the same seeds; pruning is deterministic), whatever the two machines' speeds.
    (tmp_path / "learner.json").write_bytes(document)
    options = grader.Options(course=courses.load(), modules=["20"], jobs=1, test_seconds=120, progress=False)
    graded = grader.grade([tmp_path / "learner.json"], options, ["learner"])
    row = reports.summarise(graded, options.course, options.weights)[0]
    entry = row["results"][f"20:{NAME}"]
    print("grader's re-check:", json.dumps({k: entry[k] for k in ("passed", "checks", "differences")}))
    assert entry["valid"] and entry["error"] is None and not entry["reasons"], entry
    assert not [d for d in entry["differences"] if "size" in d], entry["differences"]
    assert entry["remeasured"]["optimized"]["size_bytes"] == exported["optimized"]["size_bytes"]
