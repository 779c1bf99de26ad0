"""tinytorch_wasm.plot on CPython: the chart payloads the page draws (tests/e2e/test_charts.py draws them)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinytorch_wasm import host, plot  # noqa: E402


@pytest.fixture
def sent(monkeypatch):
    """The JSON events plot sends to the page, decoded, as the worker's tt_host would receive them."""
    events = []
    monkeypatch.setattr(host, "page", lambda: type("Host", (), {"emit": staticmethod(
        lambda kind, payload: events.append((kind, json.loads(payload))))}))
    return events


def test_images_payload(sent):
    filters = np.arange(18, dtype=np.float32).reshape(2, 3, 3)
    plot.images("Filters", filters, labels=["first", "second"])
    kind, payload = sent[0]
    assert kind == "chart" and payload == {
        "kind": "images", "title": "Filters", "same_scale": False, "labels": ["first", "second"],
        "images": [filters[0].tolist(), filters[1].tolist()]}


def test_images_accept_a_list_of_arrays_of_different_shapes_and_no_labels(sent):
    plot.images("Mixed", [np.eye(2), [[1, 2, 3]]], same_scale=True)
    payload = sent[0][1]
    assert payload["images"] == [[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0, 3.0]]]
    assert payload["labels"] == ["", ""] and payload["same_scale"] is True


def test_images_read_a_tensors_data(sent):
    class Tensor:  # what the learner's Tensor offers: its numbers in .data
        def __init__(self, data):
            self.data = np.asarray(data, dtype=np.float32)

    plot.images("Tensors", [Tensor([[0.5, 1.0]])], labels=["w"])
    assert sent[0][1]["images"] == [[[0.5, 1.0]]]


def test_images_send_no_nan(sent):
    plot.images("Diverged", [np.array([[np.nan, np.inf], [0.5, -np.inf]])])
    assert sent[0][1]["images"] == [[[None, None], [0.5, None]]]


@pytest.mark.parametrize("images, labels, message", [
    ([np.zeros(3)], None, "2-D arrays; image 0 has shape (3,)"),
    ([np.zeros((2, 2)), np.zeros((1, 2, 2))], None, "image 1 has shape (1, 2, 2)"),
    ([np.zeros((0, 4))], None, "image 0 has shape (0, 4)"),
    ([np.zeros((2, 2))], ["a", "b"], "1 images but 2 labels"),
    ([np.zeros((600, 600))], None, "360,000 values"),
])
def test_images_refuse_what_they_cannot_draw(sent, images, labels, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        plot.images("Bad", images, labels=labels)
    assert sent == [], "nothing may reach the page when the input is refused"


def test_scatter_intervals_payload(sent):
    plot.scatter({"MLP": ([1, 2], [0.9, 0.95]), "CNN": ([3], [0.97])}, title="Pareto",
                 x_intervals={"MLP": ([0.8, 1.5], [1.2, 2.5])}, y_intervals={"CNN": ([0.95], [0.99])})
    kind, payload = sent[0]
    assert payload["intervals"] == {"MLP": {"x": [[0.8, 1.5], [1.2, 2.5]]}, "CNN": {"y": [[0.95], [0.99]]}}
    assert payload["groups"]["MLP"] == [[1.0, 2.0], [0.9, 0.95]]


@pytest.mark.parametrize("x_intervals, message", [({"GPT": ([1], [2])}, "not one of its groups"),
                                                  ({"MLP": ([1], [2])}, "one interval per point")])
def test_scatter_intervals_must_match_the_points(sent, x_intervals, message):
    with pytest.raises(ValueError, match=message):
        plot.scatter({"MLP": ([1, 2], [0.9, 0.95])}, title="Pareto", x_intervals=x_intervals)
    assert sent == []
