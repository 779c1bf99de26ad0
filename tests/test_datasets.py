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
