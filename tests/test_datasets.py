import sys
from pathlib import Path

import numpy as np
import pytest

# Make the harness importable however pytest is invoked (no install step).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinytorch_wasm.datasets import TINYDIGITS_PATH, load_tinydigits  # noqa: E402


@pytest.fixture(scope="module")
def ds():
    return load_tinydigits()


def test_file_ships_with_repo():
    assert TINYDIGITS_PATH.is_file()


def test_shapes_and_dtypes(ds):
    assert ds.x_train.shape == (1000, 8, 8) and ds.x_test.shape == (200, 8, 8)
    assert ds.y_train.shape == (1000,) and ds.y_test.shape == (200,)
    assert ds.x_train.dtype == ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == ds.y_test.dtype == np.int64


def test_value_range(ds):
    for x in (ds.x_train, ds.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        # Stored as 0..16, so every pixel is an exact multiple of 1/16.
        assert np.array_equal(x * 16, np.round(x * 16))


def test_class_balance(ds):
    assert np.array_equal(np.bincount(ds.y_train, minlength=10), [100] * 10)
    assert np.array_equal(np.bincount(ds.y_test, minlength=10), [20] * 10)


def test_order_is_shuffled(ds):
    # Sorted-by-class batches would make SGD in the course misbehave.
    assert not np.all(np.diff(ds.y_train) >= 0)


def test_flatten(ds):
    flat = load_tinydigits(flatten=True)
    assert flat.x_train.shape == (1000, 64) and flat.x_test.shape == (200, 64)
    assert np.array_equal(flat.x_train, ds.x_train.reshape(1000, 64))
    assert np.array_equal(flat.y_test, ds.y_test)


def test_missing_file_is_clear(tmp_path):
    missing = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_tinydigits(path=missing)


def test_nearest_centroid_beats_chance(ds):
    # If labels were misaligned with images this would sit near 10 %.
    flat = load_tinydigits(flatten=True)
    centroids = np.stack([flat.x_train[flat.y_train == c].mean(0) for c in range(10)])
    dists = ((flat.x_test[:, None, :] - centroids[None]) ** 2).sum(-1)
    accuracy = (dists.argmin(1) == flat.y_test).mean()
    assert accuracy > 0.8, accuracy


# --- TinyTalks: the generated question-answer text ---------------------------------------------------------------

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "curriculum" / "datasets"))
import make_tinytalks  # noqa: E402

from tinytorch_wasm.datasets import (TINYTALKS_PATHS, char_ngram_cross_entropy, load_tinytalks,  # noqa: E402
                                     text_baselines)


@pytest.fixture(scope="module")
def talks():
    return load_tinytalks()


def test_tinytalks_ships_and_is_what_the_generator_makes(talks):
    assert all(path.is_file() for path in TINYTALKS_PATHS)
    train, validation = make_tinytalks.generate()
    assert talks.train == make_tinytalks.as_text(train), "tinytalks_train.txt is stale: rerun make_tinytalks.py"
    assert talks.validation == make_tinytalks.as_text(validation), "tinytalks_validation.txt is stale"


def test_tinytalks_generator_is_deterministic_and_seeded():
    assert make_tinytalks.generate() == make_tinytalks.generate()
    assert make_tinytalks.generate(seed=1) != make_tinytalks.generate()


def test_tinytalks_size_and_split(talks):
    total = len((talks.train + talks.validation).encode("utf-8"))
    assert 20_000 <= total <= 50_000, total
    pairs = [make_tinytalks.pairs_of(text) for text in talks]
    assert 500 <= len(pairs[0]) and 50 <= len(pairs[1]), [len(p) for p in pairs]
    assert 0.07 <= len(pairs[1]) / (len(pairs[0]) + len(pairs[1])) <= 0.13
    for text, text_pairs in zip(talks, pairs):
        assert make_tinytalks.as_text(text_pairs) == text, "every pair is 'Q: ...\\nA: ...\\n\\n'"
    assert set(talks.validation) <= set(talks.train), "validation uses only characters the train text has"


def test_tinytalks_validation_is_not_a_copy_of_train(talks):
    shared = make_tinytalks.overlap(talks.train, talks.validation)
    assert shared["exact_pairs"] == shared["questions"] == shared["answers"] == 0, shared
    # Template words are shared on purpose; whole pairs are not: most validation text is not in 20-char runs of train.
    assert shared["chars_covered_by_20_grams"] < 0.75, shared


def test_overlap_counts_copies_and_shared_substrings():
    train = make_tinytalks.as_text([("What is one?", "One is one."), ("Where is the red ball?", "Under the bed.")])
    validation = make_tinytalks.as_text([("What is one?", "One is one."), ("Where is the red ball now?", "Gone.")])
    shared = make_tinytalks.overlap(train, validation)
    assert shared["exact_pairs"] == 1 and shared["questions"] == 1 and shared["answers"] == 1, shared
    assert shared["pairs_sharing_20_chars"] == 2, shared
    assert 0.5 < shared["chars_covered_by_20_grams"] < 1.0, shared


def test_tinytalks_missing_file_is_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="tinytalks_train.txt"):
        load_tinytalks(tmp_path)


def test_ngram_baselines_by_hand():
    # Train "abab": unigram a 2, b 2; bigram a->b 2, b->a 1. Alphabet {a, b}.
    assert char_ngram_cross_entropy("abab", "ab", order=1, alpha=1) == pytest.approx(np.log(2))
    # validation "ab" scores one step, a -> b. Add-1: P(b | a) = (2 + 1) / (2 + 2); almost no smoothing: ~1.
    assert char_ngram_cross_entropy("abab", "ab", order=2, alpha=1) == pytest.approx(-np.log(3 / 4))
    assert char_ngram_cross_entropy("abab", "ab", order=2, alpha=1e-9) == pytest.approx(0.0, abs=1e-6)
    # a character never seen in train gets a small, finite probability
    assert np.isfinite(char_ngram_cross_entropy("abab", "abc", order=1))
    with pytest.raises(ValueError):
        char_ngram_cross_entropy("ab", "ab", order=3)
    with pytest.raises(ValueError):
        char_ngram_cross_entropy("ab", "ab", order=1, alpha=0)


def test_tinytalks_baselines(talks):
    baselines = text_baselines(*talks)
    assert 3.0 < baselines["unigram"] < 3.5, baselines
    assert 1.8 < baselines["bigram"] < 2.4, baselines
