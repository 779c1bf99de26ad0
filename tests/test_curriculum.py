"""Every module is sound: its reference passes, its starter fails, and every kept mistake is caught."""
import re

import pytest

from tinytorch_wasm import curriculum
from tinytorch_wasm.verify import verify

MODULES = curriculum.modules()


def test_modules_are_numbered_in_order():
    assert [m.id for m in MODULES] == [f"{i:02d}" for i in range(1, len(MODULES) + 1)]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: f"{m.id}-{m.slug}")
def test_module_is_sound(module):
    assert verify(module) == []


@pytest.mark.parametrize("module", MODULES, ids=lambda m: f"{m.id}-{m.slug}")
def test_module_is_complete(module):
    lesson = module.lesson_file.read_text()
    assert "<!-- workbench -->" in lesson
    assert "{.python .tt-run}" in lesson, "the lesson needs a measurement the learner runs in the tab"
    assert "plot." in lesson, "the lesson's measurement should be drawn as a chart"
    tests = re.findall(r"^def test_", module.test_file.read_text(), re.M)
    assert len(tests) >= (15 if module.id == "01" else 12)
    assert len(module.mistakes) >= (5 if module.id == "01" else 4)
    exercise_ids = {e.id for e in module.exercises}
    marked = set(re.findall(r'@pytest\.mark\.exercise\("([^"]+)"\)', module.test_file.read_text()))
    assert marked <= exercise_ids, f"tests name exercises the module does not declare: {marked - exercise_ids}"
    assert exercise_ids <= marked, f"exercises without tests: {exercise_ids - marked}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: f"{m.id}-{m.slug}")
def test_starter_holds_no_solution(module):
    marked = module.reference_file.read_text()
    starter = module.starter_source()
    assert "BEGIN SOLUTION" not in starter and "NotImplementedError" in starter
    for block in re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", marked, re.S):
        assert block not in starter
    compile(starter, module.package_path, "exec")  # the starter must import
