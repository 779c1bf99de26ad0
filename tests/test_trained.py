"""tinytorch_wasm.trained: lesson models trained with the learner's package, reused while the package is unchanged."""
import pytest

from tinytorch_wasm.package import assemble
from tinytorch_wasm.running import package_on_path
from tinytorch_wasm import trained


@pytest.fixture
def reference_package(tmp_path):
    assemble(tmp_path, upto="08")
    with package_on_path(tmp_path):
        yield tmp_path


def test_a_trained_mlp_reads_digits_and_is_reused_while_the_package_is_unchanged(reference_package, capsys):
    mlp = trained.tinydigits_mlp(epochs=3)
    assert "trained the MLP" in capsys.readouterr().err
    right = trained.count_correct(mlp)
    assert right >= 160, f"3 epochs of the 1986 MLP should read most of the 200 test digits, got {right}"

    again = trained.tinydigits_mlp(epochs=3)
    assert "trained" not in capsys.readouterr().err, "the second call should reuse the kept weights"
    assert again is not mlp and trained.count_correct(again) == right
    again.layers[0].weight.data[...] = 0  # a model of its own: changing it leaves the kept weights alone
    assert trained.count_correct(trained.tinydigits_mlp(epochs=3)) == right


def test_an_edited_package_trains_again(reference_package, capsys):
    trained.tinydigits_mlp(epochs=1)
    capsys.readouterr()
    layers = reference_package / "tinytorch" / "core" / "layers.py"
    layers.write_text(layers.read_text() + "\n# an edit\n")
    trained.tinydigits_mlp(epochs=1)
    assert "trained the MLP" in capsys.readouterr().err, "after an edit, the kept weights must not be reused"
