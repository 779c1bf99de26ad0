"""Tests for module 05. Expected batches are worked out from the data itself (each row carries its own index)."""
import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.data.loader import (Compose, DataLoader, Dataset, RandomCrop, RandomHorizontalFlip, TensorDataset,
                                   collate)


def numbered(n, features=3):
    """n samples whose features all hold the sample's index, and labels index * 10: easy to trace."""
    x = np.repeat(np.arange(n, dtype=np.float32)[:, None], features, axis=1)
    return TensorDataset(Tensor(x), Tensor(np.arange(n) * 10.0))


def epoch_ids(loader):
    """The sample indices one epoch visits, in order (read back from the features)."""
    return [int(v) for x, _ in loader for v in x.data[:, 0]]


# --- 5.1 Dataset and TensorDataset ---------------------------------------------------------------------------
@pytest.mark.exercise("5.1")
def test_tensor_dataset_length_and_items():
    x, y = np.arange(15, dtype=np.float32).reshape(5, 3), np.array([0, 1, 0, 1, 1])
    ds = TensorDataset(Tensor(x), y)
    assert len(ds) == 5, f"5 rows make 5 samples, got len {len(ds)}"
    sample = ds[2]
    assert isinstance(sample, tuple) and len(sample) == 2, f"ds[2] must be a tuple (x, y), got {sample!r}"
    assert np.array_equal(sample[0].data, [6, 7, 8]) and float(sample[1].data) == 0.0, \
        f"ds[2] must be row 2 of each tensor, ([6, 7, 8], 0), got {sample}"


@pytest.mark.exercise("5.1")
def test_tensor_dataset_items_are_tensors():
    ds = TensorDataset(np.ones((4, 2)), np.zeros(4))
    x, y = ds[1]
    assert isinstance(x, Tensor) and isinstance(y, Tensor), \
        f"samples must be Tensors, got {type(x).__name__} and {type(y).__name__}: wrap each row in Tensor(...)"
    assert x.dtype == np.float32, f"sample data must be float32, got {x.dtype}"


@pytest.mark.exercise("5.1")
def test_tensor_dataset_rejects_different_lengths():
    with pytest.raises(ValueError):
        TensorDataset(Tensor(np.zeros((5, 2))), Tensor(np.zeros(4)))  # 5 images, 4 labels: no longer aligned


# --- 5.2 collate ---------------------------------------------------------------------------------------------
@pytest.mark.exercise("5.2")
def test_collate_stacks_each_field():
    samples = [(Tensor([[i, i], [i, i]]), Tensor(float(i))) for i in range(3)]
    x, y = collate(samples)
    assert isinstance(x, Tensor) and isinstance(y, Tensor), "collate must return a tuple of Tensors"
    assert x.shape == (3, 2, 2), f"three (2, 2) images stack to (3, 2, 2), got {x.shape}: np.stack, not concatenate"
    assert y.shape == (3,) and y.data.tolist() == [0, 1, 2], f"three labels stack to [0, 1, 2], got {y.data}"
    assert np.array_equal(x.data[2], [[2, 2], [2, 2]]), "batch row 2 must be sample 2"


@pytest.mark.exercise("5.2")
def test_collate_accepts_arrays_and_numbers():
    x, y = collate([(np.array([1.0, 2.0]), 7), (np.array([3.0, 4.0]), 8)])
    assert x.shape == (2, 2) and y.data.tolist() == [7, 8], f"got shapes {x.shape}, {y.shape}"
    assert x.dtype == np.float32, f"batches are float32 Tensors, got {x.dtype}"


# --- 5.3 DataLoader ------------------------------------------------------------------------------------------
@pytest.mark.exercise("5.3")
@pytest.mark.parametrize("n, batch_size, batches", [(10, 3, 4), (9, 3, 3), (1, 32, 1), (32, 32, 1), (33, 32, 2)])
def test_len_counts_batches(n, batch_size, batches):
    got = len(DataLoader(numbered(n), batch_size=batch_size))
    assert got == batches, f"{n} samples in batches of {batch_size} make {batches} batches, len() gave {got}"


@pytest.mark.exercise("5.3")
def test_batches_in_order_keep_the_last_partial_batch():
    batches = list(DataLoader(numbered(10), batch_size=4))
    assert [x.shape[0] for x, _ in batches] == [4, 4, 2], \
        f"10 samples in batches of 4 must come as 4, 4, 2, got {[x.shape[0] for x, _ in batches]}"
    assert all(isinstance(x, Tensor) and isinstance(y, Tensor) for x, y in batches), "batches must be Tensors"
    assert epoch_ids(DataLoader(numbered(10), batch_size=4)) == list(range(10)), \
        "without shuffle the samples come in order 0..9"
    assert batches[0][0].shape == (4, 3) and batches[0][1].shape == (4,), \
        f"a batch of 4 samples with 3 features is (4, 3) with labels (4,), got {batches[0][0].shape}"


@pytest.mark.exercise("5.3")
def test_shuffle_visits_every_sample_once_per_epoch():
    loader = DataLoader(numbered(23), batch_size=5, shuffle=True, seed=0)
    for epoch in range(2):
        ids = epoch_ids(loader)
        assert sorted(ids) == list(range(23)), \
            f"epoch {epoch} must visit each of the 23 samples exactly once, got {sorted(ids)}: a permutation"
    assert epoch_ids(loader) != list(range(23)), "shuffle=True still gave the samples in order"


@pytest.mark.exercise("5.3")
def test_shuffle_keeps_features_and_labels_together():
    for x, y in DataLoader(numbered(12), batch_size=5, shuffle=True, seed=1):
        assert np.array_equal(y.data, x.data[:, 0] * 10), "a shuffled batch must keep each label with its features"


@pytest.mark.exercise("5.3")
def test_new_order_each_epoch():
    loader = DataLoader(numbered(20), batch_size=4, shuffle=True, seed=0)
    first, second = epoch_ids(loader), epoch_ids(loader)
    assert first != second, \
        "two epochs gave the same order: draw a fresh permutation each epoch from the loader's one generator"


@pytest.mark.exercise("5.3")
def test_seed_makes_shuffles_reproducible():
    a = DataLoader(numbered(20), batch_size=4, shuffle=True, seed=7)
    b = DataLoader(numbered(20), batch_size=4, shuffle=True, seed=7)
    assert [epoch_ids(a), epoch_ids(a)] == [epoch_ids(b), epoch_ids(b)], \
        "two loaders with seed=7 must give identical orders: use np.random.default_rng(seed)"
    c = DataLoader(numbered(20), batch_size=4, shuffle=True, seed=8)
    assert epoch_ids(c) != epoch_ids(DataLoader(numbered(20), batch_size=4, shuffle=True, seed=7)), \
        "seeds 7 and 8 gave the same order: is the seed used?"


@pytest.mark.exercise("5.3")
def test_loader_reads_a_custom_dataset():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i]), i

    batches = list(DataLoader(Squares(), batch_size=2))
    assert len(batches) == 3, f"5 samples in batches of 2 make 3 batches, got {len(batches)}"
    x, y = batches[1]
    assert x.data.tolist() == [[2, 4], [3, 9]] and y.data.tolist() == [2, 3], f"batch 1 was {x.data}, {y.data}"


# --- 5.4 augmentation ----------------------------------------------------------------------------------------
IMAGE = np.arange(1, 65, dtype=np.float32).reshape(8, 8)  # every pixel distinct and nonzero, unlike padding


@pytest.mark.exercise("5.4")
def test_flip_reverses_the_last_axis():
    x = np.array([[[0, 1, 2, 3], [4, 5, 6, 7]]] * 2, dtype=np.float32)  # (2, 2, 4): C, H, W
    flipped = RandomHorizontalFlip(p=1.0)(x)
    assert flipped.shape == x.shape, f"a flip keeps the shape {x.shape}, got {flipped.shape}"
    assert flipped[0].tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]] and np.array_equal(flipped[1], flipped[0]), \
        f"p=1 must mirror every row left-right, got {flipped[0].tolist()}: reverse the last axis only"
    assert np.array_equal(RandomHorizontalFlip(p=0.0)(x), x), "p=0 must never flip"
    t = RandomHorizontalFlip(p=1.0)(Tensor(x))
    assert isinstance(t, Tensor) and t.data[0].tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]], "a Tensor comes back a Tensor"


@pytest.mark.exercise("5.4")
def test_flip_happens_with_probability_p():
    flip = RandomHorizontalFlip(p=0.5, seed=0)
    flips = sum(not np.array_equal(flip(IMAGE), IMAGE) for _ in range(300))
    assert 100 < flips < 200, f"p=0.5 should flip about half of 300 images, flipped {flips}"


def crop_offset(crop, padding):
    """Where `crop` sits in IMAGE padded by `padding`, found from one of its pixels; None if it is no window."""
    i, j = np.argwhere(crop > 0)[0]
    r, c = divmod(int(crop[i, j]) - 1, 8)
    top, left = r + padding - i, c + padding - j
    padded = np.pad(IMAGE, padding)
    window = padded[top:top + crop.shape[0], left:left + crop.shape[1]]
    return (int(top), int(left)) if window.shape == crop.shape and np.array_equal(window, crop) else None


@pytest.mark.exercise("5.4")
def test_crop_is_a_window_of_the_padded_image():
    crop = RandomCrop(5, seed=0)
    for _ in range(10):
        out = crop(IMAGE)
        assert out.shape == (5, 5), f"RandomCrop(5) must give a (5, 5) image, got {out.shape}"
        assert crop_offset(out, 0) is not None, f"the crop is not a 5x5 window of the image:\n{out}"
    assert np.array_equal(RandomCrop(8)(IMAGE), IMAGE), "cropping 8x8 out of an 8x8 image without padding is identity"


@pytest.mark.exercise("5.4")
def test_crop_with_padding_reaches_every_shift():
    crop = RandomCrop(8, padding=1, seed=0)
    offsets = set()
    for _ in range(150):
        out = crop(IMAGE)
        assert out.shape == (8, 8), f"RandomCrop(8, padding=1) must give (8, 8), got {out.shape}"
        offset = crop_offset(out, 1)
        assert offset is not None, f"the crop is not an 8x8 window of the image padded with one zero:\n{out}"
        offsets.add(offset)
    assert len(offsets) == 9, \
        f"padding 1 allows 9 shifts (top, left in 0..2), 150 crops reached only {sorted(offsets)}: pad first, " \
        "and remember rng.integers(low, high) never returns high"


@pytest.mark.exercise("5.4")
def test_crop_pads_only_height_and_width():
    x = np.stack([IMAGE, IMAGE + 100])  # (2, 8, 8): two channels
    out = RandomCrop(6, padding=2, seed=3)(x)
    assert out.shape == (2, 6, 6), f"a (2, 8, 8) image cropped to 6 must be (2, 6, 6), got {out.shape}"
    inside = out[0] > 0
    assert np.array_equal(out[1][inside], out[0][inside] + 100), "both channels must be cropped at the same place"
    with pytest.raises(ValueError):
        RandomCrop(12, padding=1)(IMAGE)  # 12 > 8 + 2


@pytest.mark.exercise("5.4")
def test_compose_applies_in_order():
    add_one, double = (lambda x: x + 1), (lambda x: x * 2)
    got = Compose([add_one, double])(np.array([1.0]))
    assert got.tolist() == [4.0], f"Compose([add_one, double])(1) is double(add_one(1)) = 4, got {got.tolist()}"
    pipeline = Compose([RandomCrop(8, padding=1, seed=0), RandomHorizontalFlip(p=1.0)])
    assert pipeline(IMAGE).shape == (8, 8), "a crop then a flip keeps the crop's shape"
