"""Module 05: DataLoader, feeding a model batches of examples instead of one at a time.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
A Dataset answers two questions, how many examples and which one is number i; a DataLoader walks it in batches,
stacking the examples of each batch into Tensors. Augmentations make random variants of an image on the way.
"""
import numpy as np

from tinytorch.core.tensor import Tensor


class Dataset:
    """What a DataLoader reads: subclass it and define __len__ and __getitem__(index) -> one sample.

    A sample is usually a tuple of fields, (image, label); each field a Tensor, an array or a number.
    """

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Tensors that share their first dimension; sample i is the tuple of every tensor's row i.

        TensorDataset(images, labels)[3]  ->  (images[3], labels[3]), both Tensors
    """

    def __init__(self, *tensors):
        # TODO 5.1: make each argument a Tensor (arrays and lists are welcome too) and keep them in
        # self.tensors as a tuple; raise a ValueError if there are none, or if their first dimensions differ
        # (name the lengths: a mismatch means features and labels no longer line up).
        ### BEGIN SOLUTION
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        lengths = [len(t.data) for t in self.tensors]
        if len(set(lengths)) != 1:
            raise ValueError(f"every tensor needs the same first dimension, got lengths {lengths}")
        ### END SOLUTION

    def __len__(self):
        # TODO 5.1: the number of samples, the tensors' shared first dimension.
        ### BEGIN SOLUTION
        return len(self.tensors[0].data)
        ### END SOLUTION

    def __getitem__(self, index):
        # TODO 5.1: a tuple holding row `index` of every tensor, each wrapped in a Tensor.
        ### BEGIN SOLUTION
        return tuple(Tensor(t.data[index]) for t in self.tensors)
        ### END SOLUTION


def collate(samples):
    """Stack a list of samples into one batch: a tuple with one Tensor per field.

        [(x0, y0), (x1, y1), (x2, y2)]  ->  (Tensor stacking x0, x1, x2;  Tensor stacking y0, y1, y2)

    Stacking adds a new first axis: three (8, 8) images become one (3, 8, 8) Tensor, three labels a (3,) one.
    """
    samples = [s if isinstance(s, (tuple, list)) else (s,) for s in samples]  # a bare sample is one field
    # TODO 5.2: for every field k, np.stack the k-th entries of all samples (use _array to get each one's
    # float32 array) and wrap the result in a Tensor; return these batched fields as a tuple.
    ### BEGIN SOLUTION
    return tuple(Tensor(np.stack([_array(value) for value in field])) for field in zip(*samples))
    ### END SOLUTION


class DataLoader:
    """Batches from a Dataset:  for x, y in DataLoader(dataset, batch_size=32, shuffle=True, seed=0): ...

    Every epoch (every `for` loop over the loader) visits each sample exactly once: in order, or with
    shuffle=True in a new random order each epoch, reproducible by `seed`. When batch_size does not divide the
    dataset, the last batch holds the remainder.
    """

    def __init__(self, dataset, batch_size=32, shuffle=False, seed=None):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, int(batch_size), bool(shuffle), seed
        self.rng = np.random.default_rng(seed)  # one generator for the loader's life: each epoch draws anew

    def __len__(self):
        # TODO 5.3: the number of batches in an epoch, counting a last, partial batch: ceil(n / batch_size),
        # computed with integers only.
        ### BEGIN SOLUTION
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size
        ### END SOLUTION

    def __iter__(self):
        n = len(self.dataset)
        # TODO 5.3: choose the epoch's order of the indices 0..n-1 (self.rng.permutation(n) when shuffling,
        # np.arange(n) otherwise); then for each run of batch_size indices in that order, fetch those samples
        # from the dataset and yield collate(samples). Keep the last, shorter batch.
        ### BEGIN SOLUTION
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, n, self.batch_size):
            yield collate([self.dataset[int(i)] for i in order[start:start + self.batch_size]])
        ### END SOLUTION


# --- augmentation: random variants of an image, on arrays shaped (..., H, W) --------------------------------
class RandomHorizontalFlip:
    """Mirror an image left-right with probability p (reverses the last axis, W)."""

    def __init__(self, p=0.5, seed=None):
        self.p = p
        self.rng = np.random.default_rng(seed)

    def __call__(self, image):
        x = _pixels(image)
        # TODO 5.4: with probability p (self.rng.random() < self.p), reverse x along its last axis (x[..., ::-1]);
        # otherwise leave it as it is.
        ### BEGIN SOLUTION
        if self.rng.random() < self.p:
            x = x[..., ::-1]
        ### END SOLUTION
        return _like(image, x)


class RandomCrop:
    """Pad an image with `padding` zeros on each side of H and W, then cut out a random (height, width) window.

    `size` is an int for a square crop or a (height, width) pair. With size equal to the image and padding p,
    the result is the image shifted by up to p pixels in each direction, a cheap way to teach a model that
    a digit moved a little is still the same digit.
    """

    def __init__(self, size, padding=0, seed=None):
        self.size = (int(size), int(size)) if np.isscalar(size) else tuple(int(s) for s in size)
        self.padding = int(padding)
        self.rng = np.random.default_rng(seed)

    def __call__(self, image):
        x = _pixels(image)
        h, w = self.size
        # TODO 5.4: pad only the last two axes with self.padding zeros on each side (np.pad with (0, 0) for
        # every leading axis); raise a ValueError if the padded image is smaller than (h, w); pick `top` in
        # 0..H_padded - h and `left` in 0..W_padded - w, both ends included (rng.integers excludes its `high`),
        # and set x to the window padded[..., top:top + h, left:left + w].
        ### BEGIN SOLUTION
        pad = [(0, 0)] * (x.ndim - 2) + [(self.padding, self.padding)] * 2
        padded = np.pad(x, pad)
        height, width = padded.shape[-2:]
        if h > height or w > width:
            raise ValueError(f"cannot crop {self.size} out of a padded image of {(height, width)}")
        top = self.rng.integers(0, height - h + 1)
        left = self.rng.integers(0, width - w + 1)
        x = padded[..., top:top + h, left:left + w]
        ### END SOLUTION
        return _like(image, x)


class Compose:
    """Chain transforms, applied in the order given:  Compose([RandomCrop(8, padding=1), RandomHorizontalFlip()])."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        # TODO 5.4: feed the image through each transform in turn and return the last one's output.
        ### BEGIN SOLUTION
        for transform in self.transforms:
            image = transform(image)
        return image
        ### END SOLUTION


# --- helpers (given) ---------------------------------------------------------------------------------------
def _array(value):
    """The float32 array inside a Tensor, or a number/list/array turned into one."""
    return value.data if isinstance(value, Tensor) else np.asarray(value, dtype=np.float32)


def _pixels(image):
    """The array of an image given as a Tensor or an array (an array keeps its dtype)."""
    return image.data if isinstance(image, Tensor) else np.asarray(image)


def _like(image, x):
    """`x` as the same kind of object as `image`: a Tensor for a Tensor, an array for an array."""
    return Tensor(x) if isinstance(image, Tensor) else x
