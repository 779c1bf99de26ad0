"""Module 01: Tensor, the n-dimensional array every later module is built on.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np


class Tensor:
    """An n-dimensional float32 array with the interface of a (tiny) PyTorch tensor."""

    def __init__(self, data, requires_grad=False):
        # TODO 1.1: store `data` as a float32 NumPy array in `self.data`. Accept a number, a (nested) list, an
        # array or another Tensor (use its `.data`), and always copy: np.array(..., dtype=np.float32) copies,
        # np.asarray may hand back the caller's own array. Then set up the autograd attributes that stay
        # dormant until module 06: `self.requires_grad` (a bool, as given) and `self.grad` (None).
        ### BEGIN SOLUTION
        if isinstance(data, Tensor):
            data = data.data
        self.data = np.array(data, dtype=np.float32)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        ### END SOLUTION

    # --- what the tensor is --------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self):
        return self.data.size

    @property
    def dtype(self):
        return self.data.dtype

    def numpy(self):
        """The underlying NumPy array."""
        return self.data

    def memory_footprint(self):
        """Bytes held by this tensor's data."""
        # TODO 1.1: every element is a float32, 4 bytes, so this is 4 * size (NumPy knows it as `nbytes`).
        ### BEGIN SOLUTION
        return self.data.nbytes
        ### END SOLUTION

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data.tolist()}, shape={self.shape}{grad})"

    def __len__(self):
        return len(self.data)

    # --- arithmetic (broadcasting, like NumPy) ---------------------------------------------------------------
    def __add__(self, other):
        # TODO 1.2: return a new Tensor holding the elementwise sum; `other` may be a Tensor or a number.
        # `_as_array(other)` (at the bottom of this file) gives its array; NumPy broadcasting does the rest.
        # Never change self.data: later modules reuse their inputs.
        ### BEGIN SOLUTION
        return Tensor(self.data + _as_array(other))
        ### END SOLUTION

    def __sub__(self, other):
        # TODO 1.2: elementwise difference self - other.
        ### BEGIN SOLUTION
        return Tensor(self.data - _as_array(other))
        ### END SOLUTION

    def __mul__(self, other):
        # TODO 1.2: elementwise product (not a matrix product).
        ### BEGIN SOLUTION
        return Tensor(self.data * _as_array(other))
        ### END SOLUTION

    def __truediv__(self, other):
        # TODO 1.2: elementwise quotient self / other.
        ### BEGIN SOLUTION
        return Tensor(self.data / _as_array(other))
        ### END SOLUTION

    def __neg__(self):
        return self * -1

    # With a number on the left (2 - t), Python calls these on the tensor.
    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        return Tensor(other) - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        return Tensor(other) / self

    # --- matrix multiplication -------------------------------------------------------------------------------
    def matmul(self, other):
        """Matrix product. Costs 2*M*N*K floating-point operations for (M, K) @ (K, N)."""
        # TODO 1.3: check that the inner dimensions agree (the last of self, the second-to-last of other, or
        # its only one for a vector) and raise a ValueError that names both shapes when they do not; then
        # return the matrix product as a Tensor (np.matmul also multiplies batches of matrices).
        ### BEGIN SOLUTION
        other = other if isinstance(other, Tensor) else Tensor(other)
        if self.data.ndim == 0 or other.data.ndim == 0:
            raise ValueError("matmul needs tensors with at least one dimension; use * for scalars")
        inner_self = self.shape[-1]
        inner_other = other.shape[-2] if other.data.ndim > 1 else other.shape[0]
        if inner_self != inner_other:
            raise ValueError(f"cannot multiply shapes {self.shape} and {other.shape}: "
                             f"inner dimensions {inner_self} and {inner_other} differ")
        return Tensor(np.matmul(self.data, other.data))
        ### END SOLUTION

    def __matmul__(self, other):
        return self.matmul(other)

    # --- shape operations ----------------------------------------------------------------------------------
    def __getitem__(self, key):
        # TODO 1.4: index or slice the data like NumPy and wrap the result in a Tensor.
        ### BEGIN SOLUTION
        return Tensor(self.data[key])
        ### END SOLUTION

    def reshape(self, *shape):
        """Same data, new shape: t.reshape(2, 3) or t.reshape((2, 3)); one dimension may be -1 (inferred)."""
        # TODO 1.4: accept both call styles, infer a single -1, and raise a ValueError when the sizes differ
        # or when more than one dimension is -1.
        ### BEGIN SOLUTION
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if list(shape).count(-1) > 1:
            raise ValueError(f"only one dimension can be -1, got {shape}")
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1]))
            if known == 0 or self.size % known:
                raise ValueError(f"cannot reshape {self.shape} (size {self.size}) into {shape}")
            shape = tuple(self.size // known if d == -1 else d for d in shape)
        if int(np.prod(shape)) != self.size:
            raise ValueError(f"cannot reshape {self.shape} (size {self.size}) into {shape}")
        return Tensor(self.data.reshape(shape))
        ### END SOLUTION

    def transpose(self, dim0=-2, dim1=-1):
        """Swap two dimensions (by default the last two, as for a matrix)."""
        # TODO 1.4: swap axes dim0 and dim1 of the data (np.swapaxes). Not a reshape: a reshape keeps the
        # order of the elements, a transpose moves them.
        ### BEGIN SOLUTION
        if self.data.ndim < 2:
            return Tensor(self.data)
        return Tensor(np.swapaxes(self.data, dim0, dim1))
        ### END SOLUTION

    # --- reductions ----------------------------------------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        # TODO 1.5: sum over `axis` (all elements when None), keeping reduced dimensions if `keepdims`.
        ### BEGIN SOLUTION
        return Tensor(self.data.sum(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def mean(self, axis=None, keepdims=False):
        # TODO 1.5: the mean over `axis`, like sum (divide by the length of that axis, not by the size).
        ### BEGIN SOLUTION
        return Tensor(self.data.mean(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    def max(self, axis=None, keepdims=False):
        # TODO 1.5: the largest element over `axis`, like sum.
        ### BEGIN SOLUTION
        return Tensor(self.data.max(axis=axis, keepdims=keepdims))
        ### END SOLUTION

    # --- autograd, dormant until module 06 -----------------------------------------------------------------
    def backward(self, gradient=None):
        """Does nothing yet: module 06 (Autograd) switches gradients on without you rewriting this file."""
        return None


def _as_array(value):
    """The float32 array behind a Tensor or a plain number/list, ready for NumPy broadcasting."""
    return value.data if isinstance(value, Tensor) else np.asarray(value, dtype=np.float32)
