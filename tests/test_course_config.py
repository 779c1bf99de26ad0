"""course.toml: the defaults are today's course exactly; a withheld solution appears nowhere in what is built."""
import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

import build
from tinytorch_wasm import course as courses
from tinytorch_wasm import curriculum

AUTOGRAD = curriculum.module("06")


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(text)
    return path


def test_the_defaults_are_the_whole_course_with_every_solution():
    for loaded in (courses.load(), courses.load(Path("/nonexistent/course.toml"))):
        assert [m.id for m in loaded.modules] == [m.id for m in curriculum.modules()]
        assert loaded.withheld == frozenset() and loaded.title == "TinyTorch in the browser"
    manifest = build.course_manifest(courses.load())
    assert all(m["reference"] for m in manifest["modules"])


@pytest.mark.parametrize("text, message", [
    ('modules = ["01", "42"]', "modules names modules that do not exist: 42"),
    ('solutions = "some"', 'must be "all", "none" or a list'),
    ('colour = "red"', "unknown keys colour"),
    ('modules = ["01", "02", "03", "04", "06"]\nsolutions = ["01", "02", "03", "04"]', "left out of the course"),
])
def test_a_course_file_it_cannot_build_is_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(courses.CourseError, match=re.escape(message)):
        courses.load(write(tmp_path, text))


def _texts(name: str, data: bytes):
    """(where, text) for a built file: pages without their markup, JSON's strings, zips member by member."""
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                yield from _texts(f"{name}!{member}", archive.read(member))
        return
    text = data.decode("utf-8", "ignore")
    if name.endswith(".html"):
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
    elif name.endswith(".json"):
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False).encode().decode("unicode_escape", "ignore")
        except ValueError:
            pass
    yield name, " ".join(text.split())


def _solution_pieces(module) -> list[str]:
    """The texts a learner must write: every solution block, and every mistake's target that is not given code."""
    marked = module.reference_file.read_text()
    blocks = re.findall(r"### BEGIN SOLUTION[^\n]*\n(.*?)[ \t]*### END SOLUTION", marked, re.S)
    pieces = [" ".join(b.split()) for b in blocks] + [" ".join(m.replace.split()) for m in module.mistakes]
    starter = " ".join(module.starter_source().split())  # code the learner is given is no solution
    return [p for p in pieces if len(p) >= 30 and p not in starter]


@pytest.fixture(scope="module")
def withheld_build(tmp_path_factory):
    """The site built for a class graded on module 06: its solution withheld, milestones 1958 and 1969 only."""
    folder = tmp_path_factory.mktemp("withheld")
    course_file = write(folder, 'title = "Autograd, graded"\nsolutions = ["01", "02", "03", "04", "05", "07", "08"]\n'
                                'milestones = ["1958", "1969"]\n')
    dist = folder / "dist"
    build.build(dist=dist, course_file=course_file)
    return dist, build.bundle(dist, folder / "offline.zip")


def test_a_withheld_solution_appears_nowhere_in_the_site_or_the_offline_zip(withheld_build):
    dist, offline = withheld_build
    pieces = _solution_pieces(AUTOGRAD)
    assert len(pieces) >= 10, "module 06 should have solution blocks and mistakes to look for"
    files = [(p.relative_to(dist).as_posix(), p.read_bytes()) for p in dist.rglob("*") if p.is_file()
             and p.suffix in (".html", ".json", ".js", ".zip", ".xml", ".txt", ".css", ".map")]
    files.append(("offline.zip", offline.read_bytes()))
    leaks = [(where, piece[:60]) for name, data in files for where, text in _texts(name, data)
             for piece in pieces if piece in text]
    assert not leaks, f"module 06's solution leaks: {leaks[:5]}"
    # The control: the same scan finds module 07's solution, which ships.
    assert any(p in text for p in _solution_pieces(curriculum.module("07"))
               for _, text in _texts("course.zip", (dist / "course" / "course.zip").read_bytes()))


def test_a_withheld_module_ships_its_starter_and_says_so(withheld_build):
    dist, _ = withheld_build
    manifest = json.loads((dist / "course" / "course.json").read_text())
    assert manifest["title"] == "Autograd, graded"
    assert {m["id"]: m["reference"] for m in manifest["modules"]}["06"] is False
    assert [m["id"] for m in manifest["milestones"]] == ["1958", "1969"]
    with zipfile.ZipFile(dist / "course" / "course.zip") as archive:
        names = set(archive.namelist())
        folder = "curriculum/modules/06_autograd/"
        assert folder + "starter.py" in names and folder + "autograd.py" not in names
        assert folder + "mistakes.toml" not in names and folder + "test_autograd.py" in names
        assert archive.read(folder + "starter.py").decode() == AUTOGRAD.starter_source()
    assert not (dist / "milestones" / "1986-mlp").exists()
    assert "Autograd, graded" in (dist / "index.html").read_text()
    assert "withheld" in (dist / "instructors" / "index.html").read_text()


def test_every_exercise_and_measurement_has_a_stable_anchor():
    if not (build.DIST / "index.html").exists():
        pytest.fail("dist/ is not built: run the tests with `python build.py test`")
    for module in curriculum.modules():
        page = (build.DIST / "modules" / f"{module.id}-{module.slug}" / "index.html").read_text()
        for exercise in module.exercises:
            assert f'id="exercise-{exercise.id.replace(".", "-")}"' in page, f"{module.id}: {exercise.id}"
        runnable = module.lesson_file.read_text().count(".tt-run}")
        assert len(re.findall(r'id="measurement-[a-z0-9-]+"', page)) == runnable, module.id
        embed = (build.DIST / "embed" / f"{module.id}-{module.slug}" / "index.html").read_text()
        assert f'class="tt-workbench" data-module="{module.id}"' in embed
    indexed = json.loads((build.DIST / "search" / "search_index.json").read_text())["docs"]
    assert not [d["location"] for d in indexed if d["location"].startswith("embed/")], "embed pages are searchable"
