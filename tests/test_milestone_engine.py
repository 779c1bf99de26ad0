"""The milestone engine's general parts, on a small milestone made for the test: several criteria (at least / at
most), configurations with a quick variant, interact(text) after a run, and artifacts (named arrays a run saves
and a later request carries back), on CPython and through the tab's request handler."""
import base64
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tinytorch_wasm.__main__ as cli  # noqa: E402
from tinytorch_wasm import artifacts, milestones as ms, tab  # noqa: E402
from tinytorch_wasm.__main__ import main  # noqa: E402
from tinytorch_wasm.package import assemble  # noqa: E402

TOML = '''
id = "2999"
slug = "toy"
title = "Toy"
year = 2999
requires = "03"
artifacts = ["toy-weights"]

[[criteria]]
metric = "accuracy"
at_least = 0.9
label = "Accuracy"
unit = "percent"
text = "At least 90 % right."

[[criteria]]
metric = "loss"
at_most = 0.5
label = "Loss"
unit = "nats"
text = "A loss of at most 0.5."

[config]
loss = 0.4
accuracy = 0.95

[config.quick]
loss = 0.8
targets = { loss = 1.0 }

[interact]
label = "Ask the toy"
'''

CODE = '''
import numpy as np
from tinytorch.core.layers import Linear
from tinytorch_wasm import artifacts


def run(report):
    c = report.config
    report.progress(1, 2, accuracy=c["accuracy"] - 0.5, loss=c["loss"] + 1)
    if c.get("stop"):
        raise KeyboardInterrupt
    np.random.seed(0)
    layer = Linear(3, 2)
    artifacts.save("toy-weights", artifacts.state_dict(layer), meta={"config": report.config_name})
    report.progress(2, 2, accuracy=c["accuracy"], loss=c["loss"])
    return {"accuracy": c["accuracy"], "loss": c["loss"]}


def interact(text):
    saved = artifacts.load("toy-weights")
    if saved is None:
        return "run me first"
    layer = Linear(3, 2)
    artifacts.load_state_dict(layer, saved.arrays)
    return f"{text} -> {float(layer.weight.data.sum()):.4f}"
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    folder = tmp_path / "milestones" / "2999_toy"
    folder.mkdir(parents=True)
    (folder / "milestone.toml").write_text(TOML)
    (folder / "milestone.py").write_text(CODE)
    (folder / "story.md").write_text("# Toy\n\n<!-- milestone -->\n")
    found = ms.milestones(tmp_path)[0]
    real = ms.milestone
    lookup = lambda i, root=None: found if i in ("2999", "toy") else real(i)  # noqa: E731
    for module, name in ((ms, "milestone"), (cli, "milestone"), (tab, "find_milestone")):
        monkeypatch.setattr(module, name, lookup)
    return found


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    path = tmp_path_factory.mktemp("package")
    assemble(path, upto="03")
    return path


@pytest.fixture
def store(tmp_path):
    with artifacts.using(tmp_path / "artifacts") as folder:
        yield folder


# --- declaring criteria and configurations ---------------------------------------------------------------------

def test_several_criteria_make_criteria_reached_the_headline(toy):
    assert toy.metric == ms.ALL_CRITERIA and toy.target == 1.0
    assert [(c.metric, c.goal, c.target) for c in toy.criteria] == [("accuracy", "at_least", 0.9),
                                                                      ("loss", "at_most", 0.5)]
    assert toy.criterion == "At least 90 % right. A loss of at most 0.5."
    assert toy.artifacts == ("toy-weights",) and toy.interact == {"label": "Ask the toy"}


def test_the_existing_flat_form_is_one_criterion_with_its_metric():
    m = ms.milestone("1986")
    assert m.metric == "test_accuracy" and m.target == 0.9
    assert [(c.metric, c.goal, c.target, c.unit) for c in m.criteria] == [("test_accuracy", "at_least", 0.9, "percent")]
    assert m.config() == ({}, m.criteria) and m.artifacts == () and m.interact is None


def test_a_variant_overrides_values_and_targets(toy):
    values, criteria = toy.config("quick")
    assert values == {"loss": 0.8, "accuracy": 0.95}
    assert [c.target for c in criteria] == [0.9, 1.0]
    assert toy.config()[0] == {"loss": 0.4, "accuracy": 0.95}
    with pytest.raises(KeyError, match="no configuration 'huge'.*default, quick"):
        toy.config("huge")


def test_a_criterion_needs_one_goal(tmp_path):
    folder = tmp_path / "milestones" / "2999_bad"
    folder.mkdir(parents=True)
    (folder / "milestone.toml").write_text(TOML.replace("at_most = 0.5", "at_most = 0.5\nat_least = 0.1"))
    with pytest.raises(ValueError, match="exactly one of at_least, at_most"):
        ms.milestones(tmp_path)


# --- running -----------------------------------------------------------------------------------------------------

def test_success_is_every_criterion_reached(toy, package, store):
    result = ms.run_milestone("2999", package)
    assert result["error"] is None and result["passed"] and result["config"] == "default"
    assert [(c["metric"], c["value"], c["reached"]) for c in result["criteria"]] == [("accuracy", 0.95, True),
                                                                                      ("loss", 0.4, True)]
    assert result["value"] == 1.0 and result["value"] >= result["target"]
    assert [a["name"] for a in result["artifacts"]] == ["toy-weights"]
    assert result["artifacts"][0]["arrays"] == {"weight": [3, 2], "bias": [2]}
    json.dumps(result, allow_nan=False)


def test_one_criterion_missed_is_no_success(toy, package, store, monkeypatch):
    monkeypatch.setitem(toy.configs, "default", {"loss": 0.7, "accuracy": 0.95})
    result = ms.run_milestone("2999", package)
    assert not result["passed"] and result["value"] == 0.5, "half the criteria reached"
    assert [c["reached"] for c in result["criteria"]] == [True, False]


def test_the_quick_variant_runs_with_its_own_targets(toy, package, store):
    result = ms.run_milestone("2999", package, config="quick")
    assert result["config"] == "quick" and result["passed"]
    assert [(c["value"], c["target"]) for c in result["criteria"]] == [(0.95, 0.9), (0.8, 1.0)]


def test_stop_keeps_the_last_values_of_every_criterion(toy, package, store, monkeypatch):
    monkeypatch.setitem(toy.configs, "default", {"loss": 0.4, "accuracy": 0.95, "stop": True})
    result = ms.run_milestone("2999", package)
    assert result["stopped"] and not result["passed"] and result["artifacts"] == []
    assert [c["value"] for c in result["criteria"]] == [pytest.approx(0.45), pytest.approx(1.4)]


def test_interact_uses_what_the_run_saved(toy, package, store):
    assert ms.interact_milestone("2999", package, "hello")["text"] == "run me first"
    ms.run_milestone("2999", package)
    reply = ms.interact_milestone("2999", package, "hello")
    assert reply["error"] is None and reply["text"].startswith("hello -> ")


def test_the_command_line_takes_a_configuration_and_a_folder(toy, package, tmp_path, capsys):
    folder = tmp_path / "cli-artifacts"
    assert main(["milestone", "2999", str(package), "--config", "quick", "--artifacts", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "loss 0.800, target <= 1.0: reached" in out and "configuration quick" in out
    assert (folder / "toy-weights.npz").is_file()
    assert main(["interact", "2999", str(package), "hi", "--artifacts", str(folder)]) == 0
    assert capsys.readouterr().out.startswith("hi -> ")
    assert main(["milestone", "2999", str(package), "--config", "huge"]) == 2


# --- artifacts ---------------------------------------------------------------------------------------------------

def test_an_artifact_round_trips_with_its_description(store):
    arrays = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([1, 2], dtype=np.int64)}
    info = artifacts.save("my-model", arrays, meta={"loss": 1.25, "vocab": ["<unk>", "a"]})
    assert info["bytes"] == (store / "my-model.npz").stat().st_size and info["arrays"] == {"w": [2, 3], "ids": [2]}
    loaded = artifacts.load("my-model")
    assert loaded.meta == {"loss": 1.25, "vocab": ["<unk>", "a"]} and loaded.bytes == info["bytes"]
    assert loaded.arrays["w"].dtype == np.float32 and np.array_equal(loaded.arrays["w"], arrays["w"])
    assert artifacts.load("other") is None


@pytest.mark.parametrize("name", ["", "Big", "../x", "a" * 65, "a/b", "-x"])
def test_artifact_names_are_plain(store, name):
    with pytest.raises(ValueError, match="artifact name"):
        artifacts.save(name, {"w": np.zeros(1)})


def test_what_cannot_be_stored_is_refused_before_anything_is_written(store, monkeypatch):
    with pytest.raises(ValueError, match="NaN|not JSON compliant|Out of range"):
        artifacts.save("x", {"w": np.zeros(1)}, meta={"loss": float("nan")})
    with pytest.raises(TypeError, match="Python objects"):
        artifacts.save("x", {"w": np.array([{}], dtype=object)})
    monkeypatch.setattr(artifacts, "MAX_BYTES", 1000)
    with pytest.raises(ValueError, match="at most"):
        artifacts.save("x", {"w": np.zeros(1000, np.float32)})
    assert not store.exists() or not list(store.iterdir())


def test_a_damaged_artifact_says_so(store):
    store.mkdir(parents=True)
    (store / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="damaged.*run what made it again"):
        artifacts.load("broken")


def test_load_state_dict_checks_every_name_and_shape_first(package):
    sys.path.insert(0, str(package))
    try:
        from tinytorch.core.layers import Linear, Sequential
        from tinytorch.core.activations import ReLU
        model = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
        weights = artifacts.state_dict(model)
        assert sorted(weights) == ["layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight"]
        other = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
        artifacts.load_state_dict(other, weights)
        assert all(np.array_equal(other.layers[i].weight.data, model.layers[i].weight.data) for i in (0, 2))
        wrong = Sequential(Linear(3, 5), ReLU(), Linear(5, 2))
        before = wrong.layers[0].weight.data.copy()
        with pytest.raises(ValueError, match=r"layers.0.weight: saved \(3, 4\), model \(3, 5\)"):
            artifacts.load_state_dict(wrong, weights)
        assert np.array_equal(wrong.layers[0].weight.data, before), "a refused load changed the model"
    finally:
        sys.path.remove(str(package))


def test_the_tab_carries_artifacts_in_and_sends_new_ones_out(toy, package, tmp_path, monkeypatch):
    """As the page does: a request carries the stored artifacts; a save inside it becomes an event with the file."""
    events = []
    monkeypatch.setattr(tab, "PACKAGE_DIR", tmp_path / "learner")
    monkeypatch.setattr(tab, "ARTIFACTS_DIR", tmp_path / "carried")
    monkeypatch.setattr(artifacts.host, "page", lambda: type("Host", (), {"emit": staticmethod(
        lambda kind, payload: events.append((kind, json.loads(payload))))}))

    def request(action, **payload):
        return json.loads(tab.handle(json.dumps({"action": action, "payload": {"learner": {}, **payload}})))

    assert request("interact", milestone="2999", text="hi")["result"]["text"] == "run me first"
    reply = request("milestone", milestone="2999", config="quick")
    assert reply["ok"] and reply["result"]["passed"], reply
    saved = [p for kind, p in events if kind == "artifact"]
    assert [p["name"] for p in saved] == ["toy-weights"] and saved[0]["meta"] == {"config": "quick"}
    data = saved[0]["data"]
    assert len(base64.b64decode(data)) == saved[0]["bytes"]
    # A later request sees only what it carries: nothing, then the saved file.
    assert request("interact", milestone="2999", text="hi")["result"]["text"] == "run me first"
    reply = request("interact", milestone="2999", text="hi", artifacts={"toy-weights": data})
    assert reply["result"]["text"].startswith("hi -> ") and reply["result"]["error"] is None
