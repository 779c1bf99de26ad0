"""Gradescope's autograder end to end, without Gradescope: a learner enters the reference solutions in the tab and
exports from the Progress page; run_autograder grades that file in an /autograder-shaped folder; results.json is
checked against the format Gradescope documents."""
import json
import os
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, open_module, run_tests, set_editor
from tinytorch_wasm import course as courses
from tinytorch_wasm import curriculum
from tinytorch_wasm.grading import gradescope

PRIVATE = '''from tinytorch.core.tensor import Tensor


def test_sum_of_three():
    assert float(Tensor([1.0, 2.0, 3.0]).sum().data) == 6.0
'''


@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("autograder")
    (folder / "tests" / "01").mkdir(parents=True)
    (folder / "tests" / "01" / "test_private.py").write_text(PRIVATE)
    (folder / "tests" / "grading.toml").write_text('private_visibility = "after_due_date"\nmilestone = 5\n')
    return gradescope.write_autograder(folder / "autograder.zip", courses.load(), None,
                                       private_tests=folder / "tests")


def test_an_export_from_the_browser_is_graded_by_run_autograder(server, browser_profile, autograder, tmp_path):
    modules = curriculum.modules()
    page = open_module(browser_profile(), f"{server.url}modules/01-tensor/")
    set_editor(page, modules[0].reference_source())
    assert run_tests(page)["state"] == "passed"
    for module in modules[1:]:  # what typing each file in its editor saves
        page.evaluate("([id, code]) => window.tinytorch.state.saveCode(id, code, 'typed')",
                      [module.id, module.reference_source()])
    page.goto(server.url + "progress/")
    page.wait_for_selector("tr[data-module='01'][data-state='passed']")
    with page.expect_download() as download:
        page.locator("button", has_text="Export all work").click()

    root = tmp_path / "autograder"  # laid out as Gradescope lays out /autograder
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    download.value.save_as(root / "submission" / download.value.suggested_filename)
    (root / "submission_metadata.json").write_text(json.dumps({"users": [{"name": "Ada Lovelace"}]}))
    with zipfile.ZipFile(autograder) as archive:
        archive.extractall(root / "source")
        assert {"setup.sh", "run_autograder", "inventory.json", "course.toml"} <= set(archive.namelist())
        for name in ("setup.sh", "run_autograder"):  # Gradescope needs them executable
            assert (archive.getinfo(name).external_attr >> 16) & 0o111
    (root / "run_autograder").write_bytes((root / "source" / "run_autograder").read_bytes())
    os.chmod(root / "run_autograder", 0o755)
    done = subprocess.run([str(root / "run_autograder")], cwd=root, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Ada Lovelace" in done.stdout

    results = json.loads((root / "results" / "results.json").read_text())
    gradescope.check(results)  # the documented format
    failed = [t for t in results["tests"] if t["status"] != "passed"][:3]  # each with its output: what was missed
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0, failed
    assert not failed, failed
    private = [t for t in results["tests"] if "instructor's tests" in t["name"]]
    assert len(private) == 1 and private[0]["visibility"] == "after_due_date"
    milestones = [t for t in results["tests"] if t["name"].startswith("Milestone")]
    assert milestones and all(t["max_score"] == 5 for t in milestones)
    assert oct(os.stat(root / "source" / "tests").st_mode)[-3:] == "700", "the private tests stayed readable"


def test_setup_sh_installs_the_pinned_packages(autograder):
    with zipfile.ZipFile(autograder) as archive:
        setup = archive.read("setup.sh").decode()
        pins = archive.read("requirements-grader.txt").decode().split()
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0
    assert "-r requirements-grader.txt" in setup
    assert all("==" in pin for pin in pins) and any(p.startswith("numpy==") for p in pins)
    assert set(pins) <= set((ROOT / "requirements.txt").read_text().split())
