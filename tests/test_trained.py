"""tinytorch_wasm.trained: lesson models trained with the learner's package, reused while the package is unchanged."""
import pytest

from tinytorch_wasm.package import assemble
from tinytorch_wasm.running import package_on_path
from tinytorch_wasm import artifacts, trained


@pytest.fixture
def reference_package(tmp_path):
    assemble(tmp_path, upto="08")
    with package_on_path(tmp_path):
        yield tmp_path


def test_a_trained_mlp_reads_digits_and_is_reused_while_the_package_is_unchanged(reference_package, capsys):
    mlp = trained.tinydigits_mlp(epochs=3)
    assert "trained the MLP" in capsys.readouterr().out
    right = trained.count_correct(mlp)
    assert right >= 160, f"3 epochs of the 1986 MLP should read most of the 200 test digits, got {right}"

    again = trained.tinydigits_mlp(epochs=3)
    assert "trained" not in capsys.readouterr().out, "the second call should reuse the kept weights"
    assert again is not mlp and trained.count_correct(again) == right
    again.layers[0].weight.data[...] = 0  # a model of its own: changing it leaves the kept weights alone
    assert trained.count_correct(trained.tinydigits_mlp(epochs=3)) == right


def test_an_edited_package_trains_again(reference_package, capsys):
    trained.tinydigits_mlp(epochs=1)
    capsys.readouterr()
    layers = reference_package / "tinytorch" / "core" / "layers.py"
    layers.write_text(layers.read_text() + "\n# an edit\n")
    trained.tinydigits_mlp(epochs=1)
    assert "trained the MLP" in capsys.readouterr().out, "after an edit, the kept weights must not be reused"


@pytest.fixture
def gpt_package(tmp_path):
    assemble(tmp_path / "package", upto="13")
    with package_on_path(tmp_path / "package"), artifacts.using(tmp_path / "artifacts"):
        yield tmp_path


def test_without_a_saved_gpt_a_stand_in_is_trained_and_says_so(gpt_package, capsys):
    talker = trained.tinytalks_gpt(steps=3)
    assert not talker.saved and "stand-in" in talker.source and "no GPT of yours is saved" in talker.source
    assert "trained a stand-in tiny GPT" in capsys.readouterr().out
    assert talker.model.max_seq_len == trained.TINY_GPT_SHAPE["max_seq_len"]
    ids = talker.tokenizer.encode("Q: Hi")
    assert talker.tokenizer.decode(ids) == "Q: Hi"
    again = trained.tinytalks_gpt(steps=3)
    assert "trained" not in capsys.readouterr().out, "the second call should reuse the kept weights"
    assert again.model is not talker.model
    assert all((a.data == b.data).all() for a, b in zip(again.model.parameters(), talker.model.parameters()))


def test_the_gpt_saved_by_the_2017_milestone_is_used_when_it_fits(gpt_package):
    from tinytorch.models.transformer import GPT
    from tinytorch.text.tokenization import CharTokenizer

    tokenizer = CharTokenizer().build_vocab("ab c")
    shape = {"vocab_size": tokenizer.vocab_size, "embed_dim": 8, "num_layers": 1, "num_heads": 2, "max_seq_len": 16}
    model = GPT(**shape)
    artifacts.save("tiny-gpt", artifacts.state_dict(model), meta={
        "model": shape, "tokenizer": {"kind": "char", "vocab": list(tokenizer.vocab)}, "validation_loss": 1.25})
    talker = trained.tinytalks_gpt(steps=3)
    assert talker.saved and "2017 milestone" in talker.source and "1.25" in talker.source
    assert talker.tokenizer.vocab == tokenizer.vocab
    assert all((a.data == b.data).all() for a, b in zip(talker.model.parameters(), model.parameters()))

    shape["embed_dim"] = 4  # weights that no longer fit the shape: the stand-in, with the reason
    artifacts.save("tiny-gpt", artifacts.state_dict(model), meta={
        "model": shape, "tokenizer": {"kind": "char", "vocab": list(tokenizer.vocab)}})
    talker = trained.tinytalks_gpt(steps=3)
    assert not talker.saved and "does not fit" in talker.source


def test_a_gpt_saved_with_a_bpe_tokenizer_gets_that_tokenizer_back(gpt_package):
    from tinytorch.models.transformer import GPT
    from tinytorch.text.tokenization import BPETokenizer
    from tinytorch_wasm.datasets import load_tinytalks

    tokenizer = BPETokenizer(260).train(load_tinytalks().train)
    shape = {"vocab_size": 260, "embed_dim": 8, "num_layers": 1, "num_heads": 2, "max_seq_len": 16}
    spec = {"kind": "BPETokenizer", "vocab_size": 260, "check": {"text": "Q: Hi", "ids": tokenizer.encode("Q: Hi")}}
    artifacts.save("tiny-gpt", artifacts.state_dict(GPT(**shape)), meta={"model": shape, "tokenizer": spec})
    talker = trained.tinytalks_gpt(steps=3)
    assert talker.saved and talker.tokenizer.encode("Q: Hi") == tokenizer.encode("Q: Hi")

    spec["check"]["ids"] = [0] * 3  # a tokenizer that changed since the GPT learned with it
    artifacts.save("tiny-gpt", artifacts.state_dict(GPT(**shape)), meta={"model": shape, "tokenizer": spec})
    talker = trained.tinytalks_gpt(steps=3)
    assert not talker.saved and "cuts text differently" in talker.source
