"""Grade a class: re-run every learner's code on CPython, unit by unit, each in a confined process of its own.

    report = grade([Path("alice.json"), Path("bob.json")], Options(course=course.load()))

How a learner's work is graded (docs/grading.md says the same for instructors):
- Module N runs its tests (and the instructor's private tests for N, in a process of their own) on the learner's
  file for N, with the reference for every earlier module whose solution the course ships, and the learner's own
  file for an earlier module it withholds. One broken early module therefore costs its own points only, and no
  learner process ever holds a solution the course keeps back.
- A milestone runs on the learner's own files for every module of the course it needs (and the reference for
  modules outside the course), as the tab runs it. It counts only when the re-run reaches the criterion; when the
  learner has not written one of those modules it is not run, and the report says which are missing.
- Nothing the export claims is believed; where a claim differs from the re-run, the report says so per module.
- A JSON result a module saves to progress (the capstone's submission, see tinytorch_wasm.results) is checked
  against its schema here, then re-checked by the module's own recheck on the learner's files (as a milestone
  runs): the report shows the re-measured figures and every claimed one that differs beyond noise. Not scored.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import curriculum, milestones, results
from ..course import Course, archive_files
from ..curriculum import CURRICULUM
from ..package import assemble
from . import export as exports
from .scoring import Weights, criterion_text

HARNESS = Path(__file__).resolve().parents[1]
REPOSITORY = CURRICULUM.parent
SLOT_UID_BASE = 61000  # one user id per parallel slot when the grader runs as root
MIN_SECONDS, TIME_FACTOR = 60.0, 10.0


class GradingError(RuntimeError):
    """The grader cannot grade (a broken set-up, a reference that fails); nothing was graded."""


@dataclass
class Options:
    course: Course
    modules: list[str] | None = None        # grade only these modules (and the milestones they complete)
    private_tests: Path | None = None       # the instructor's folder: NN/test_*.py per module, grading.toml
    weights: Weights = field(default_factory=Weights)
    jobs: int = os.cpu_count() or 1
    # Wall time of one unit: by default TIME_FACTOR times what the reference took here, and at least MIN_SECONDS
    # (an endless loop costs a slot that long); a number fixes it for every module's tests or every milestone.
    test_seconds: float | None = None
    milestone_seconds: float | None = None
    memory_mb: int = 2048                   # address space of one unit's process
    progress: bool = True                   # a progress bar on stderr
    network_namespace: bool = True


@dataclass
class UnitResult:
    kind: str                                # module | private | milestone
    target: str                              # module id or milestone id
    status: str                              # graded | not submitted | not counted
    tests: list[dict] = field(default_factory=list)  # {node, id, exercise, outcome, message}
    reasons: list[str] = field(default_factory=list)  # why the whole unit fails (hostile or broken code)
    notes: list[str] = field(default_factory=list)    # what explains failures without failing the unit as a whole
    milestone: dict | None = None
    result: dict | None = None               # kind "result": the module's re-check report, or why it was not run
    seconds: float = 0.0
    output: str = ""
    grader_problem: str | None = None       # the grader's own failure, not the learner's

    @property
    def failed_whole(self) -> bool:
        return bool(self.reasons) or self.grader_problem is not None


@dataclass
class LearnerResult:
    name: str
    path: Path
    error: str | None = None                 # the export could not be read: nothing was run
    units: list[UnitResult] = field(default_factory=list)
    claimed: dict = field(default_factory=dict)
    seconds: float = 0.0


def read_private_tests(folder: Path | None, course: Course) -> dict[str, dict[str, str]]:
    """{module id: {file name: source}} from the instructor's folder: one subfolder per module, named by its id
    (06), its folder (06_autograd) or its slug (autograd), holding test_*.py files."""
    if folder is None:
        return {}
    tests: dict[str, dict[str, str]] = {}
    names = {key: m.id for m in course.modules for key in (m.id, m.slug, m.folder.name)}
    for sub in sorted(Path(folder).iterdir()):
        if sub.is_dir() and sub.name in names:
            files = {f.name: f.read_text() for f in sorted(sub.glob("test_*.py"))}
            if files:
                tests[names[sub.name]] = files
        elif sub.is_dir() and not sub.name.startswith((".", "_")):
            raise GradingError(f"{sub} names no module of this course (use its id, folder name or slug)")
    return tests


def _readable(course: Course, private_tests: Path | None) -> dict:
    """What a unit's process may read: the Python installation, the harness, the course files the site ships; and
    the one folder it may not even list, the instructor's tests."""
    python = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                                            *sysconfig.get_paths().values()) if p and os.path.isdir(p)}
    files = archive_files(course, REPOSITORY)
    return {"readable_dirs": sorted(python | {str(HARNESS)}),
            "readable_files": sorted(str(REPOSITORY / name) for name, source in files.items()
                                     if isinstance(source, Path)),
            "hidden_dirs": [str(Path(private_tests).resolve())] if private_tests else []}


class Slot:
    """One zygote: a clean Python that forks a confined child per unit. One job at a time."""

    def __init__(self, index: int, setup: dict):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(REPOSITORY)}
        env.pop("PYTEST_ADDOPTS", None)
        self.process = subprocess.Popen([sys.executable, "-m", "tinytorch_wasm.grading.zygote"], cwd=REPOSITORY,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.send({**setup, "uid": SLOT_UID_BASE + index})
        self.info = self.receive()
        if not self.info or not self.info.get("ready"):
            raise GradingError("a grading process did not start (see the error above)")

    def send(self, message: dict) -> None:
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def receive(self) -> dict | None:
        line = self.process.stdout.readline()
        return json.loads(line) if line else None

    def run(self, job: dict) -> dict:
        self.send(job)
        reply = self.receive()
        if reply is None:
            raise GradingError("a grading process ended unexpectedly")
        return reply

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


class Grader:
    """The machinery for one grading run: the slots, a scratch folder, the instructor's tests."""

    def __init__(self, options: Options):
        self.options = options
        self.course = options.course
        self.private = read_private_tests(options.private_tests, self.course)
        self.work = Path(tempfile.mkdtemp(prefix="tinytorch-grading-"))
        os.chmod(self.work, 0o711)  # slot users reach their own scratch folder, list nothing else
        (self.work / "results").mkdir(mode=0o700)
        setup = {**_readable(self.course, options.private_tests), "network": options.network_namespace}
        with ThreadPoolExecutor(max_workers=options.jobs) as pool:
            slots = list(pool.map(lambda i: Slot(i, setup), range(options.jobs)))
        self.slots: queue.Queue[Slot] = queue.Queue()
        for slot in slots:
            self.slots.put(slot)
        self.isolation = slots[0].info
        self.counter = 0
        self.lock = threading.Lock()
        self.expected: dict[tuple[str, str], list[dict]] = {}  # the reference's tests per unit: {node, id, exercise}
        self.reference_seconds: dict[tuple[str, str], float] = {}  # how long the reference took per unit, here

    def close(self) -> None:
        while not self.slots.empty():
            self.slots.get().close()
        shutil.rmtree(self.work, ignore_errors=True)

    # --- what a learner is graded on ---------------------------------------------------------------------------
    def modules(self) -> list[curriculum.Module]:
        chosen = self.options.modules
        return [m for m in self.course.modules if chosen is None or m.id in chosen]

    def milestones(self) -> list[milestones.Milestone]:
        graded = {m.id for m in self.modules()}
        course_ids = self.course.module_ids()
        return [m for m in self.course.milestones
                if all(i in graded for i in course_ids if i <= m.requires) or self.options.modules is None]

    def units(self, code: dict[str, str]) -> list[tuple[str, str, dict | None, str | None]]:
        """(kind, target, learner files for its package, why it is not run) per unit; files None: not run."""
        units = []
        for m in self.modules():
            earlier = {k: v for k, v in code.items() if k < m.id and k in self.course.withheld}
            files = {**earlier, m.id: code[m.id]} if m.id in code else None
            units.append(("module", m.id, files, None if files else "not submitted"))
            if m.id in self.private:
                units.append(("private", m.id, files, None if files else "not submitted"))
        for m in self.milestones():
            missing = [i for i in self.course.module_ids() if i <= m.requires and i not in code]
            files = {k: v for k, v in code.items() if k <= m.requires}
            units.append(("milestone", m.id, None if missing else files,
                          "not counted: it runs on your own modules, and these are missing: " + ", ".join(missing)
                          if missing else None))
        return units

    def result_units(self, code: dict[str, str], claimed: dict) -> list[tuple[str, str, dict | None, str | None,
                                                                                dict]]:
        """(kind, "module id:name", files, why not run, claimed value) per result the export claims for a graded
        module. It runs on the learner's own files up to that module (the reference standing in for any they
        have not written), as the page that produced it did."""
        units = []
        for m in self.modules():
            saved = ((claimed.get("modules") or {}).get(m.id) or {}).get("results") or {}
            for declared in m.results:
                value = (saved.get(declared.name) or {}).get("value")
                if value is None:
                    continue
                files = {k: v for k, v in code.items() if k <= m.id}
                units.append(("result", f"{m.id}:{declared.name}", files if m.id in code else None,
                              None if m.id in code else "not submitted", value))
        return units

    # --- running ----------------------------------------------------------------------------------------------------
    def job(self, learner: str, kind: str, target: str, files: dict[str, str], seconds: float | None = None,
            claimed: dict | None = None) -> dict:
        with self.lock:
            self.counter += 1
            number = self.counter
        scratch = self.work / f"unit-{number}"
        scratch.mkdir(mode=0o700)
        upto = (milestones.milestone(target).requires if kind == "milestone" else
                target.split(":", 1)[0] if kind == "result" else target)
        assemble(scratch / "package", files, upto=upto, withheld=self.course.withheld)
        fixed = self.options.milestone_seconds if kind == "milestone" else self.options.test_seconds
        seconds = seconds or fixed or max(MIN_SECONDS, TIME_FACTOR * self.reference_seconds.get((kind, target), 0))
        job = {"id": number, "kind": kind, "target": target, "scratch": str(scratch),
               "unit": {"learner": learner, "kind": kind, "target": target},
               "output": str(self.work / "results" / f"{number}.out"),
               "result": str(self.work / "results" / f"{number}.result"),
               "limits": {"seconds": seconds, "memory_bytes": self.options.memory_mb << 20}}
        if kind == "private":
            job["private_tests"] = self.private[target]
        if kind == "result":
            job["claimed"] = claimed
        return job

    def run(self, learner: str, kind: str, target: str, files: dict[str, str], seconds: float | None = None,
            claimed: dict | None = None) -> dict:
        job = self.job(learner, kind, target, files, seconds, claimed)
        slot = self.slots.get()
        try:
            return slot.run(job)
        finally:
            self.slots.put(slot)
            shutil.rmtree(job["scratch"], ignore_errors=True)
            for suffix in ("out", "result"):
                Path(self.work / "results" / f"{job['id']}.{suffix}").unlink(missing_ok=True)


def interpret(kind: str, target: str, reply: dict, expected: list[str] | None) -> UnitResult:
    """What became of a unit, judged from outside: its wall time, how it ended, and its sealed records."""
    unit = UnitResult(kind=kind, target=target, status="graded", seconds=reply.get("seconds", 0.0),
                      output=reply.get("output", ""))
    if reply.get("grader_error"):
        unit.grader_problem = reply["grader_error"]
        return unit
    result = reply.get("result")
    code = reply.get("exit_code")
    if reply.get("timed_out"):
        unit.reasons.append(f"it ran longer than its time limit ({reply['seconds']:.0f} s) and was stopped: an "
                            "endless loop, or far too much work?")
    elif reply.get("problem"):
        unit.reasons.append(f"tampering: {reply['problem']}")
    elif result is None:
        if code == 70:
            unit.grader_problem = "the grader could not confine the unit: " + reply.get("output", "")[-500:]
        elif code is not None and code < 0:
            unit.reasons.append(f"the process crashed (signal {-code}): a recursion too deep for the C stack, or "
                                "memory exhausted?")
        else:
            unit.reasons.append(f"the learner's code ended the process (exit code {code}) before the grader "
                                "finished: sys.exit, os._exit or exit() in the module or a test?")
    if result is None:
        return unit
    records = result.get("records", [])
    by_kind: dict[str, list] = {}
    for kind_name, payload in records:
        by_kind.setdefault(kind_name, []).append(payload)
    if result.get("violations"):
        unit.reasons.append("not allowed while grading: " + "; ".join(result["violations"]))
    if result.get("tampered"):
        unit.reasons.append("tampering: the learner's code replaced parts of the test machinery (" +
                            ", ".join(result["tampered"][:5]) + ")")
    for changed in by_kind.get("test_globals_changed", []):
        if changed:
            unit.reasons.append("tampering: the learner's code changed what the tests compare with (" +
                                ", ".join(changed[:5]) + ")")
    if by_kind.get("interrupted"):
        unit.reasons.append("the learner's code ended the test session early (" +
                            ", ".join(map(str, by_kind["interrupted"])) + ")")
    for error in by_kind.get("grader_error", []):
        unit.grader_problem = f"the grader failed inside the unit: {error}"
    if kind == "milestone":
        unit.milestone = (by_kind.get("milestone") or [None])[0]
        if unit.milestone is None and not unit.reasons:
            unit.reasons.append("the milestone reported no result")
        return unit
    if kind == "result":
        unit.result = (by_kind.get("result") or [None])[0]
        if unit.result is None and not unit.reasons:
            unit.reasons.append("the re-check reported nothing")
        return unit
    collected = (by_kind.get("collected") or [[]])
    if len(collected) > 1:
        unit.reasons.append("tampering: the test run was reported twice")
    tests: dict[str, dict] = {}
    for test in by_kind.get("test", []):
        if test["node"] in tests:
            unit.reasons.append(f"tampering: more than one result for {test['id']}")
        tests[test["node"]] = test
    finished = (by_kind.get("finished") or [{}])[0]
    errors = finished.get("collection_errors", [])
    for node in expected if expected is not None else collected[0]:
        test = tests.get(node)
        if test is None:
            name = node.split("::", 1)[-1]
            message = ("did not run: " + errors[0].strip().splitlines()[-1]) if errors else "did not run"
            test = {"node": node, "id": name, "exercise": None, "outcome": "not run", "message": message}
        unit.tests.append({k: test.get(k) for k in ("node", "id", "exercise", "outcome", "message")})
    unknown = [n for n in tests if expected is not None and n not in expected]
    if unknown:
        unit.reasons.append("tampering: results for tests that do not exist (" + ", ".join(unknown[:3]) + ")")
    messages = " ".join([*errors, *(t["message"] or "" for t in unit.tests)])
    if "MemoryError" in messages:
        unit.notes.append("it ran out of memory (each unit may use the memory limit the grader was given)")
    if finished.get("log"):
        unit.output = "pytest's log (with what the code printed):\n" + finished["log"] + (
            "\n" + unit.output if unit.output else "")
    if errors and not any(t["outcome"] == "passed" for t in unit.tests):
        unit.output = errors[0] + "\n" + unit.output
    return unit


@dataclass
class ClassResult:
    learners: list[LearnerResult]
    expected: dict                   # (kind, target) -> the tests every learner is graded out of
    modules: list                    # the modules graded
    isolation: dict                  # what confined the units on this machine (see zygote.main)
    seconds: float = 0.0


def grade(paths: list[Path], options: Options, names: list[str] | None = None,
          expected: dict | None = None) -> ClassResult:
    """Grade every export in `paths` (files; `expand` turns folders into files). One LearnerResult per path.
    `expected`: {(kind, target): {"tests", "seconds"}} for each unit, measured with the reference solutions before
    (the autograder ships it); else measured now."""
    started = time.monotonic()
    grader = Grader(options)
    try:
        if expected is None:
            _calibrate(grader)
        else:
            grader.expected = {key: unit["tests"] for key, unit in expected.items()}
            grader.reference_seconds = {key: unit["seconds"] for key, unit in expected.items()}
        learners = _grade(grader, paths, names or [Path(p).stem for p in paths])
        return ClassResult(learners=learners, expected=grader.expected, modules=grader.modules(),
                           isolation=grader.isolation, seconds=round(time.monotonic() - started, 2))
    finally:
        grader.close()


def _calibrate(grader: Grader) -> None:
    """Run the reference solutions through the same machinery first: the tests they collect are what every learner
    is graded out of, and a reference that fails means the grader itself is broken here. A reference that misses
    while the others run beside it (a wall-clock criterion or time limit on a loaded machine) gets one more run,
    alone; only a second miss stops the grading."""
    reference = {m.id: m.reference_source() for m in curriculum.modules()}
    work = [(kind, target, files) for kind, target, files, _ in grader.units(reference)]
    with ThreadPoolExecutor(max_workers=grader.options.jobs) as pool:
        missed = [unit for unit, problem in zip(work, pool.map(lambda u: _calibrate_unit(grader, *u), work))
                  if problem]
    problems = [problem for problem in (_calibrate_unit(grader, *unit) for unit in missed) if problem]
    if problems:
        raise GradingError("the reference solutions do not pass under the grader, so it cannot grade: " +
                           " | ".join(problems))


def _calibrate_unit(grader: Grader, kind: str, target: str, files: dict) -> str | None:
    """Run one reference unit and record what it collected and how long it took; what went wrong, or None."""
    reply = grader.run("reference", kind, target, files)
    unit = interpret(kind, target, reply, None)
    grader.reference_seconds[(kind, target)] = reply.get("seconds", 0.0)
    if kind != "milestone":
        grader.expected[(kind, target)] = [{k: t[k] for k in ("node", "id", "exercise")} for t in unit.tests]
    failing = [t["id"] for t in unit.tests if t["outcome"] != "passed"]
    reached = kind != "milestone" or (unit.milestone or {}).get("value") is not None and \
        unit.milestone["value"] >= milestones.milestone(target).target
    if unit.failed_whole or failing or not reached or (kind != "milestone" and not unit.tests):
        return f"{kind} {target}: {unit.grader_problem or '; '.join(unit.reasons) or failing or unit.milestone}"
    return None


def _grade(grader: Grader, paths, names) -> list[LearnerResult]:
    from tqdm import tqdm
    learners = [LearnerResult(name=name, path=Path(path)) for name, path in zip(names, paths)]
    work = []
    for learner in learners:
        try:
            submitted = exports.read(learner.path)
        except (exports.ExportError, OSError) as error:
            learner.error = str(error)
            continue
        learner.claimed = submitted.progress
        for kind, target, files, why in grader.units(submitted.code):
            work.append((learner, kind, target, files, why, None))
        for kind, target, files, why, claimed in grader.result_units(submitted.code, submitted.progress):
            found = results.problems(target.split(":", 1)[1], claimed)
            if found:  # a claim its schema refuses is reported as such, and nothing runs
                learner.units.append(UnitResult(kind=kind, target=target, status="graded",
                                                result={"valid": False, "problems": found}))
            else:
                work.append((learner, kind, target, files, why, claimed))
    # Milestones first: they are the longest units, so the slots finish together.
    work.sort(key=lambda w: w[1] not in ("milestone", "result"))
    bar = tqdm(total=len(work), desc=f"grading {len(learners)} learners", unit="unit", file=sys.stderr,
               disable=not grader.options.progress, dynamic_ncols=True)
    lock = threading.Lock()

    def measure(item) -> UnitResult:
        learner, kind, target, files, why, claimed = item
        if files is None:
            return UnitResult(kind=kind, target=target, status=why.split(":")[0], reasons=[why] if ":" in why else [])
        started = time.monotonic()
        expected = [t["node"] for t in grader.expected.get((kind, target), [])]
        unit = interpret(kind, target, grader.run(learner.name, kind, target, files, claimed=claimed), expected)
        unit.seconds = round(time.monotonic() - started, 3)
        return unit

    def one(item) -> UnitResult:
        unit = measure(item)
        with lock:
            bar.update()
        return unit

    with ThreadPoolExecutor(max_workers=grader.options.jobs) as pool:
        units = list(pool.map(one, work))
    bar.close()
    for item, unit in zip(work, units):
        missed = missed_in_time_only(unit) if grader.options.jobs > 1 else []
        if missed:  # measured while other units shared the cores, which only ever slows it: once more, alone
            first, unit = unit, measure(item)
            unit.notes.append("beside other units it missed " + "; ".join(map(criterion_text, missed)) +
                              ", so it was measured again with no other unit running, and that measurement counts")
            unit.seconds = round(unit.seconds + first.seconds, 3)
        item[0].units.append(unit)
        item[0].seconds += unit.seconds
    order = {("module", m.id): i for i, m in enumerate(grader.course.modules)}
    for learner in learners:
        learner.units.sort(key=lambda u: (u.kind == "milestone", order.get(("module", u.target), 0), u.target,
                                          u.kind))
    return learners


def missed_in_time_only(unit: UnitResult) -> list[dict]:
    """The criteria a milestone missed, when every one of them is measured in wall-clock time and nothing else went
    wrong (no error, no Stop, no reason to fail it as a whole); otherwise []."""
    result = unit.milestone or {}
    if unit.kind != "milestone" or unit.failed_whole or result.get("error") or result.get("stopped"):
        return []
    missed = [c for c in result.get("criteria") or [] if not c.get("reached")]
    return missed if missed and all(c.get("timed") for c in missed) else []


def expand(inputs: list[Path]) -> list[Path]:
    """Export files from files and folders (every *.json in a folder, sorted)."""
    paths = []
    for item in map(Path, inputs):
        paths.extend(sorted(item.glob("*.json")) if item.is_dir() else [item])
    return paths
