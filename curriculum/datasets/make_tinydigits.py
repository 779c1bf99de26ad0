"""Build TinyDigits, the course's small image dataset (tinydigits.npz).

What: 1,000 train images (100 per class) and 200 test images (20 per class),
8x8 grey handwritten digits 0-9, drawn from the 1,797 images of the UCI
"Optical Recognition of Handwritten Digits" set as shipped in scikit-learn.

How: with numpy.random.default_rng(42), for each class 0..9 permute that
class's indices, take the first 100 for train and the next 20 for test (so
the two never share an image index), then shuffle train and test order with
the same generator. Pixels are stored as uint8 0..16 (the raw values) to keep
the file small; tinytorch_wasm.datasets.load_tinydigits divides by 16.

Run (scikit-learn is needed only here, not at course runtime):
    .venv/bin/python curriculum/datasets/make_tinydigits.py

Licence / attribution: the data are UCI's - E. Alpaydin and C. Kaynak,
"Optical Recognition of Handwritten Digits", UCI Machine Learning Repository,
CC BY 4.0 - loaded via scikit-learn (BSD-3-Clause).
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

SEED = 42
N_TRAIN_PER_CLASS = 100
N_TEST_PER_CLASS = 20
OUT = Path(__file__).resolve().parent / "tinydigits.npz"


def make_split(images: np.ndarray, labels: np.ndarray, seed: int = SEED):
    rng = np.random.default_rng(seed)
    train_idx, test_idx = [], []
    for c in range(10):
        # Disjoint slices of one permutation: train and test never share an index.
        perm = rng.permutation(np.flatnonzero(labels == c))
        train_idx.append(perm[:N_TRAIN_PER_CLASS])
        test_idx.append(perm[N_TRAIN_PER_CLASS:N_TRAIN_PER_CLASS + N_TEST_PER_CLASS])
    # Shuffle so batches are not sorted by class.
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))
    # Raw values are integers 0..16 (labels 0..9), so uint8 is lossless.
    return tuple(a[i].astype(np.uint8) for i in (train_idx, test_idx)
                 for a in (images, labels))


def main() -> None:
    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8) and digits.images.max() == 16
    x_train, y_train, x_test, y_test = make_split(digits.images, digits.target)
    np.savez_compressed(OUT, x_train=x_train, y_train=y_train,
                        x_test=x_test, y_test=y_test)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes): "
          f"x_train {x_train.shape}, x_test {x_test.shape}")


if __name__ == "__main__":
    main()
