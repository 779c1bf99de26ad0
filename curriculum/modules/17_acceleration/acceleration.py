"""Module 17: Acceleration, the same arithmetic made faster without changing a single result.

Four levers, each measured in the lesson: do the work in one NumPy call instead of Python loops (vectorization),
touch memory once for a chain of elementwise steps (fusion), multiply in blocks that fit the cache (tiling), and
hand the matrix product to a compiled kernel: the course's WebAssembly SIMD matmul, which you plug into your own
Tensor as its matmul backend with `set_backend("simd")`, falling back to NumPy wherever the kernel cannot help.

The kernel exists only in the browser tab (`tinytorch_wasm.kernels`); on CPython everything here still works, on
NumPy. Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import numpy as np

from tinytorch.core.autograd import Function, GELUBackward, MatmulBackward, enable_autograd, record
from tinytorch.core.tensor import Tensor
from tinytorch_wasm import kernels


def _array(x):
    """The float32 array behind a Tensor, or a number/list/array as one."""
    return x.data if isinstance(x, Tensor) else np.asarray(x, dtype=np.float32)


def _check_matrices(a, b):
    """Two matrices whose inner sizes agree, or a ValueError naming both shapes."""
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"expected two matrices (2 dimensions each), got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: "
                         f"inner dimensions {a.shape[1]} and {b.shape[0]} differ")


# --- 17.1 from loops to one call ------------------------------------------------------------------------------

def loop_matmul(a, b):
    """The definition, one multiply-add at a time: out[i, j] = sum over k of a[i, k] * b[k, j] (given, to measure).
    Python lists, not NumPy elements: indexing an array element by element would be slower still."""
    a, b = _array(a), _array(b)
    _check_matrices(a, b)
    rows, columns = a.tolist(), b.T.tolist()
    return Tensor([[sum(x * y for x, y in zip(row, column)) for column in columns] for row in rows])


def row_matmul(a, b):
    """a @ b for two matrices with ONE Python loop: each row of the result is a row of `a` times all of `b`."""
    a, b = _array(a), _array(b)
    _check_matrices(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
    # TODO 17.1: for each row index i, fill out[i] with row i of a times b in one NumPy call (a[i] @ b).
    ### BEGIN SOLUTION
    for i in range(a.shape[0]):
        out[i] = a[i] @ b
    ### END SOLUTION
    return Tensor(out)


def vectorized_matmul(a, b):
    """a @ b with no Python loop at all: matrices (M, K) @ (K, N), and batches (..., M, K) @ (..., K, N) whose
    leading dimensions broadcast, like torch.matmul. Returns a Tensor."""
    a, b = _array(a), _array(b)
    # TODO 17.1: both operands need at least 2 dimensions and a.shape[-1] == b.shape[-2]; otherwise raise a
    # ValueError naming both shapes. Then the whole product is ONE call: np.matmul (np.dot would pair every batch
    # entry of a with every batch entry of b).
    ### BEGIN SOLUTION
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"cannot multiply shapes {a.shape} and {b.shape}: need (..., M, K) @ (..., K, N)")
    return Tensor(np.matmul(a, b))
    ### END SOLUTION


# --- 17.2 fusion ------------------------------------------------------------------------------------------------

SQRT_2_OVER_PI = float(np.sqrt(2.0 / np.pi))  # a Python float: NumPy keeps float32 arrays float32 when it multiplies


def fused_gelu(x):
    """GELU(x) = 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))), like module 02's, but computed in ONE
    new array: every step works in place (out *= ..., np.tanh(out, out=out)) instead of making a temporary array.
    The input is never changed. Gradients flow through it when autograd is on (module 06's GELUBackward)."""
    z = _array(x)
    # TODO 17.2: make one new array (out = z * z is x**2), then turn it into GELU(x) with in-place steps only:
    # x + 0.044715 x**3 = x * (1 + 0.044715 x**2); then times SQRT_2_OVER_PI, tanh, plus 1, times x, times 0.5.
    # Never write into z: it is the caller's data.
    ### BEGIN SOLUTION
    out = z * z
    out *= 0.044715
    out += 1.0
    out *= z
    out *= SQRT_2_OVER_PI
    np.tanh(out, out=out)
    out += 1.0
    out *= z
    out *= 0.5
    ### END SOLUTION
    return record(Tensor(out), GELUBackward(x))


# --- 17.3 tiling ------------------------------------------------------------------------------------------------

def tiled_matmul(a, b, tile_size=64):
    """a @ b for two matrices, block by block: out[I, J] += a[I, P] @ b[P, J] over tiles of tile_size x tile_size,
    each copied into a contiguous array first, so every small product works on data that fits in the cache.
    The last tiles along each dimension are smaller when tile_size does not divide it."""
    a, b = _array(a), _array(b)
    _check_matrices(a, b)
    if isinstance(tile_size, bool) or not isinstance(tile_size, (int, np.integer)) or tile_size < 1:
        raise ValueError(f"tile_size must be a positive integer, got {tile_size!r}")
    (m, k), n = a.shape, b.shape[1]
    out = np.zeros((m, n), dtype=np.float32)
    # TODO 17.3: loop i over rows of a, p over the inner dimension and j over columns of b, each in steps of
    # tile_size (range(0, size, tile_size) also covers a smaller last tile: slices stop at the end by themselves).
    # Copy a[i:i+t, p:p+t] and b[p:p+t, j:j+t] with np.ascontiguousarray and ADD their product into
    # out[i:i+t, j:j+t]: each output tile sums the products of a whole row of a-tiles with a column of b-tiles.
    ### BEGIN SOLUTION
    for i in range(0, m, tile_size):
        for p in range(0, k, tile_size):
            a_tile = np.ascontiguousarray(a[i:i + tile_size, p:p + tile_size])
            for j in range(0, n, tile_size):
                b_tile = np.ascontiguousarray(b[p:p + tile_size, j:j + tile_size])
                out[i:i + tile_size, j:j + tile_size] += a_tile @ b_tile
    ### END SOLUTION
    return Tensor(out)


# --- 17.4 a matmul backend: the compiled kernel where it can, NumPy elsewhere ------------------------------------

BACKENDS = ("numpy", "simd")
_backend = "numpy"


def get_backend():
    """The backend every Tensor matmul uses now: "numpy" or "simd"."""
    return _backend


def backend_matmul(a, b):
    """a @ b for NumPy arrays, by the current backend. "numpy": np.matmul. "simd": the compiled kernel
    (tinytorch_wasm.kernels) whenever there is one here and it can take the operands, NumPy otherwise: vectors,
    batches of weights, and wherever there is no kernel (CPython, a browser without WebAssembly SIMD)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim > 2 and b.ndim == 2:
        # A batch of inputs times one weight (a Linear layer on (B, T, D)) is one tall matrix product: fold the batch
        # into the rows, multiply once, unfold.
        return backend_matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    # TODO 17.4: on the "simd" backend with kernels.available(): make both operands C-contiguous float32
    # (np.ascontiguousarray(x, dtype=np.float32): a transposed view, as backward passes make, becomes a copy the
    # kernel can walk row by row); if kernels.unsupported(a, b) is None for those, return kernels.matmul(a, b).
    # In every other case return np.matmul(a, b).
    ### BEGIN SOLUTION
    if _backend == "simd" and kernels.available():
        a32, b32 = np.ascontiguousarray(a, dtype=np.float32), np.ascontiguousarray(b, dtype=np.float32)
        if kernels.unsupported(a32, b32) is None:
            return kernels.matmul(a32, b32)
    return np.matmul(a, b)
    ### END SOLUTION


def set_backend(name):
    """Choose how every Tensor matmul (a @ b, a.matmul(b)) is computed from now on: "numpy" puts your Tensor's own
    matmul back, "simd" installs backend_tensor_matmul, which computes through backend_matmul."""
    global _backend
    # TODO 17.4: a name that is not in BACKENDS raises a ValueError listing the choices (and changes nothing);
    # otherwise remember it in _backend and call _install(name) (given below).
    ### BEGIN SOLUTION
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    _backend = name
    _install(name)
    ### END SOLUTION


_own_matmul = {}  # your Tensor's matmul and __matmul__ (as autograd wrapped them), put back by set_backend("numpy")


def _install(name):
    """Put backend_tensor_matmul into the Tensor class, or its own matmul back. Autograd is switched on first, so the
    matmul kept for "numpy" is the one that records gradients, whatever order you call things in."""
    enable_autograd()
    if not _own_matmul:
        _own_matmul.update(matmul=Tensor.matmul, __matmul__=Tensor.__matmul__)
    for attribute, own in _own_matmul.items():
        setattr(Tensor, attribute, backend_tensor_matmul if name == "simd" else own)


# --- 17.5 the backend inside your Tensor, with gradients --------------------------------------------------------

class BackendMatmulBackward(Function):
    """out = a @ b: d loss/d a = grad_output @ b^T and d loss/d b = a^T @ grad_output. Each is a product as large
    as the forward one (backward is two thirds of a layer's matmul work), so on the "simd" backend they go through
    backend_matmul too. A batch of inputs times one weight is folded into one tall matrix first, as in the forward
    pass; vectors and batches of weights keep module 06's MatmulBackward."""

    def apply(self, grad_output):
        a, b = _array(self.inputs[0]), _array(self.inputs[1])
        if a.ndim < 2 or b.ndim != 2:
            return MatmulBackward(*self.inputs).apply(grad_output)
        rows, g = a.reshape(-1, a.shape[-1]), np.reshape(grad_output, (-1, b.shape[-1]))  # (B*T, K) and (B*T, N)
        # TODO 17.5: the gradient for a is g @ b^T (reshaped to a's shape), the one for b is rows^T @ g; compute
        # each with backend_matmul (m.T is m^T).
        ### BEGIN SOLUTION
        return backend_matmul(g, b.T).reshape(a.shape), backend_matmul(rows.T, g)
        ### END SOLUTION


def backend_tensor_matmul(self, other):
    """Tensor.matmul (and @) while the "simd" backend is set: checks the shapes like your module 01 matmul, computes
    the product with backend_matmul, and records it for autograd."""
    other = other if isinstance(other, Tensor) else Tensor(other)
    if self.data.ndim == 0 or other.data.ndim == 0:
        raise ValueError("matmul needs tensors with at least one dimension; use * for scalars")
    inner = other.shape[-2] if other.data.ndim > 1 else other.shape[0]
    if self.shape[-1] != inner:
        raise ValueError(f"cannot multiply shapes {self.shape} and {other.shape}: "
                         f"inner dimensions {self.shape[-1]} and {inner} differ")
    # TODO 17.5: compute Tensor(backend_matmul(self.data, other.data)) and return it recorded (module 06's record)
    # with a BackendMatmulBackward of both operands, so that backward() reaches self and other.
    ### BEGIN SOLUTION
    return record(Tensor(backend_matmul(self.data, other.data)), BackendMatmulBackward(self, other))
    ### END SOLUTION
