"""tinytorch_wasm.machine on CPython (in the tab it is exercised by the lessons that use it, in tests/e2e), and
plot.bars' checks."""
import json

import pytest

from tinytorch_wasm import machine, plot


def test_machine_answers_none_outside_a_tab():
    assert machine.in_browser() is False
    assert machine.cross_origin_isolated() is None
    assert machine.wasm_memory_bytes() is None


def test_bars_sends_labels_and_series(capsys):
    plot.bars(["conv", "relu"], {"ms": [1.5, 0.25], "KB": [3, 4]}, title="Per layer", xlabel="ms")
    line = capsys.readouterr().out
    assert line.startswith("[chart] Per layer:")
    payload = json.loads(line.split(": ", 1)[1])
    assert payload["kind"] == "bars" and payload["labels"] == ["conv", "relu"]
    assert payload["series"] == {"ms": [1.5, 0.25], "KB": [3.0, 4.0]}


def test_bars_refuses_a_series_of_the_wrong_length():
    with pytest.raises(ValueError, match="2 labels but 3 values"):
        plot.bars(["a", "b"], {"ms": [1, 2, 3]}, title="bad")
