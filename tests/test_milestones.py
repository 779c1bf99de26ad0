"""The historical milestones on CPython: the reference package reaches every target, a broken learner package does
not, Stop returns the partial run, and the driver's contract (discovery, events, CLI) holds."""
import ast
import json
import math
import sys
from pathlib import Path

import pytest

# Make the harness importable however pytest is invoked (no install step).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinytorch_wasm import curriculum, milestones as ms  # noqa: E402
from tinytorch_wasm.__main__ import main  # noqa: E402
from tinytorch_wasm.package import assemble  # noqa: E402

IDS = ["1958", "1969", "1986", "1998"]
LINEAR = "out = x @ self.weight\n"  # the line of the reference Linear.forward the broken variants replace
CONV_WEIGHT_GRAD = "grad_weight = (g @ self.cols).reshape(weight.shape)\n"  # in the reference Conv2dBackward


def _package(tmp_path_factory, name, learner=None, upto=None):
    path = tmp_path_factory.mktemp(name)
    assemble(path, learner, upto=upto)
    return path


def _layers_with(replacement):
    source = curriculum.module("03").reference_source()
    assert source.count(LINEAR) == 1, "the reference Linear.forward changed: update LINEAR in this test"
    return {"03": source.replace(LINEAR, replacement)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return _package(tmp_path_factory, "reference")


@pytest.fixture(scope="module")
def zero_linear(tmp_path_factory):
    """Linear outputs zeros but stays in the graph (the bias still learns): runs to the end, learns nothing."""
    return _package(tmp_path_factory, "zero", _layers_with("out = (x @ self.weight) * 0.0\n"))


@pytest.fixture(scope="module")
def detached_linear(tmp_path_factory):
    """Linear returns a fresh zeros Tensor: no graph at all, so backward() has nothing to walk."""
    return _package(tmp_path_factory, "detached", _layers_with(
        "return Tensor(np.zeros((x.shape[0], self.out_features)))\n"))


@pytest.fixture(scope="module")
def zero_conv_backward(tmp_path_factory):
    """A Conv2d whose backward returns zeros for its weight: the CNN runs, but its filters never learn."""
    source = curriculum.module("09").reference_source()
    assert source.count(CONV_WEIGHT_GRAD) == 1, "the reference Conv2dBackward changed: update CONV_WEIGHT_GRAD"
    return _package(tmp_path_factory, "zero-conv", {"09": source.replace(
        CONV_WEIGHT_GRAD, "grad_weight = np.zeros(weight.shape, dtype=np.float32)\n")})


# What readers of a result rely on (the page, the grader): keys are only ever added, never renamed.
RESULT_KEYS = {"milestone", "metric", "value", "target", "passed", "seconds", "history", "stopped", "error",
               "criteria", "config", "artifacts"}


def _check_result_shape(result, m):
    assert set(result) == RESULT_KEYS, f"run_milestone returned keys {sorted(result)}"
    assert result["metric"] == m.metric
    if result["config"] == "default":
        assert result["target"] == m.target
    assert [c["metric"] for c in result["criteria"]] == [c.metric for c in m.criteria]
    assert result["passed"] == (all(c["reached"] for c in result["criteria"]) and not result["stopped"]
                                and result["error"] is None)
    json.dumps(result, allow_nan=False)  # the tab sends it to the page as JSON: no NaN, no numpy scalars


# --- discovery --------------------------------------------------------------------------------------------------

def test_milestones_are_declared_in_order():
    found = ms.milestones()
    assert [m.id for m in found] == IDS, f"milestones found: {[m.id for m in found]}"
    module_ids = {m.id for m in curriculum.modules()}
    for m in found:
        assert m.requires in module_ids, f"{m.id} requires module {m.requires}, which does not exist"
        assert 0 < m.target <= 1 and m.metric and m.criterion and m.year == int(m.id)
        assert m.code_file.is_file() and m.story_file.is_file()
        assert "<!-- milestone -->" in m.story_file.read_text(), f"{m.story_file} has no run panel marker"
    assert ms.milestone("xor").id == "1969" and ms.milestone("1986_mlp").id == "1986"
    with pytest.raises(KeyError):
        ms.milestone("2525")


@pytest.mark.parametrize("milestone_id", IDS)
def test_milestone_imports_only_the_learners_package(milestone_id):
    tree = ast.parse(ms.milestone(milestone_id).code_file.read_text())
    names = [a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names]
    names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    allowed = ("tinytorch", "numpy", "tinytorch_wasm")
    bad = [n for n in names if n.split(".")[0] not in allowed or n.startswith("tinytorch_wasm.curriculum")]
    assert not bad, f"milestone {milestone_id} imports {bad}: only tinytorch.*, numpy and tinytorch_wasm are allowed"


# --- the reference package reaches every target -----------------------------------------------------------------

@pytest.mark.parametrize("milestone_id", IDS)
def test_reference_package_reaches_the_target(reference, milestone_id):
    m = ms.milestone(milestone_id)
    result = ms.run_milestone(milestone_id, reference)
    _check_result_shape(result, m)
    assert result["error"] is None, result["error"]
    assert result["passed"] and not result["stopped"], f"{milestone_id}: {m.metric} {result['value']} < {m.target}"
    assert result["value"] >= m.target
    last = [p["metrics"][m.metric] for p in result["history"] if m.metric in p["metrics"]][-1]
    assert last == pytest.approx(result["value"]), "the returned value is not the last one reported"
    assert str(reference) not in sys.path, "the learner's package stayed on sys.path after the run"


def test_xor_single_layer_fails_first(reference):
    history = ms.run_milestone("1969", reference)["history"]
    single = [p["metrics"]["one_layer_accuracy"] for p in history if "one_layer_accuracy" in p["metrics"]]
    assert single and single[-1] <= 0.75, f"one layer reached {single[-1:]} on XOR, which no straight line can"
    steps = [p["step"] for p in history]
    assert steps == sorted(steps) and history[-1]["step"] == history[-1]["total"]


# --- a broken learner package does not pass ---------------------------------------------------------------------

@pytest.mark.parametrize("milestone_id", ["1969", "1986"])
def test_zero_linear_runs_but_misses_the_target(zero_linear, milestone_id):
    result = ms.run_milestone(milestone_id, zero_linear)
    assert result["error"] is None, result["error"]
    assert not result["passed"], f"{milestone_id} passed with a Linear whose output is always 0: {result['value']}"
    assert result["value"] < result["target"]


@pytest.mark.parametrize("milestone_id", ["1958", "1969", "1986", "1998"])
def test_detached_linear_does_not_pass(detached_linear, milestone_id):
    result = ms.run_milestone(milestone_id, detached_linear)
    _check_result_shape(result, ms.milestone(milestone_id))
    assert not result["passed"]
    if milestone_id != "1958":  # the perceptron needs no gradients: it only measures 50 % accuracy
        assert "backward" in result["error"] and "milestone.py, line" in result["error"], result["error"]


def test_cnn_stops_visibly_when_the_convolution_gets_no_gradient(zero_conv_backward):
    """Random filters feeding a trained Linear already read TinyDigits at about 97-98 %, so the accuracy alone
    would not expose a convolution that never learns: the milestone checks that its weights get a gradient."""
    result = ms.run_milestone("1998", zero_conv_backward)
    _check_result_shape(result, ms.milestone("1998"))
    assert not result["passed"] and result["history"] == []
    assert "Conv2d" in result["error"] and "gradient" in result["error"], result["error"]


def test_cnn_beats_the_mlp_side_by_side(reference):
    history = ms.run_milestone("1998", reference)["history"]
    final = history[-1]["metrics"]
    assert history[-1]["step"] == history[-1]["total"] == len(history)
    assert final["test_accuracy"] > final["mlp_test_accuracy"], final
    assert final["mlp_test_accuracy"] < 0.98, f"the 1986 MLP reached {final['mlp_test_accuracy']}: no contrast left"


def test_missing_modules_are_named(tmp_path_factory):
    early = _package(tmp_path_factory, "early", upto="04")
    result = ms.run_milestone("1986", early)
    assert not result["passed"] and result["history"] == []
    assert "05" in result["error"] and "tinytorch/data/loader.py" in result["error"], result["error"]
    assert ms.run_milestone("1958", early)["passed"], "the perceptron needs only modules 01-04"


# --- Stop, events and non-finite numbers ----------------------------------------------------------------------------

class StopAfter(ms.Report):
    """The learner presses Stop after `n` progress points: Pyodide raises KeyboardInterrupt in the running code."""

    def __init__(self, milestone_id, n):
        super().__init__(milestone_id)
        self.n = n

    def progress(self, step, total, **metrics):
        super().progress(step, total, **metrics)
        if len(self.history) >= self.n:
            raise KeyboardInterrupt


def test_stop_returns_the_partial_run(reference):
    result = ms.run_milestone("1986", reference, report=StopAfter("1986", 2))
    _check_result_shape(result, ms.milestone("1986"))
    assert result["stopped"] and not result["passed"] and result["error"] is None
    assert [p["step"] for p in result["history"]] == [1, 2], result["history"]
    assert result["value"] == result["history"][-1]["metrics"]["test_accuracy"]
    assert str(reference) not in sys.path


def test_stop_before_the_metric_is_measured(reference):
    result = ms.run_milestone("1969", reference, report=StopAfter("1969", 3))  # still training the single layer
    assert result["stopped"] and not result["passed"] and len(result["history"]) == 3
    assert result["value"] is None, "the hidden network's accuracy was never measured, so there is no value"


def test_progress_is_emitted_live(monkeypatch):
    events = []
    monkeypatch.setattr(ms, "emit", lambda kind, payload: events.append((kind, payload)))
    report = ms.Report("1958")
    report.progress(1, 10, accuracy=0.5, mistakes=3)
    assert events == [("milestone-progress", {"milestone": "1958", "step": 1, "total": 10,
                                              "seconds": events[0][1]["seconds"],
                                              "metrics": {"accuracy": 0.5, "mistakes": 3.0}})]
    assert report.history == [{k: v for k, v in events[0][1].items() if k != "milestone"}]
    assert report.last("accuracy") == 0.5 and report.last("loss") is None


def test_non_finite_metric_stops_with_a_message():
    report = ms.Report("1986")
    with pytest.raises(FloatingPointError, match="loss became nan at step 4"):
        report.progress(4, 10, loss=math.nan)
    assert report.history == []


# --- the command line -------------------------------------------------------------------------------------------

def test_cli_exit_codes(reference, zero_linear, capsys):
    assert main(["milestone", "perceptron", str(reference)]) == 0
    assert "reached" in capsys.readouterr().out
    assert main(["milestone", "1969", str(zero_linear), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["milestone"] == "1969" and not result["passed"]
    assert main(["milestone", "2525", str(reference)]) == 2
