// Compiled kernels for Python: WebAssembly modules kept as text in runtime/kernels/ (assembled into this bundle by
// the build), working directly on NumPy arrays' memory. Python reaches them as the module `tt_kernels`;
// tinytorch_wasm/kernels.py is their Python side and says why when they are missing.
//
// Python's memory: Pyodide 0.27.7 does not expose its WebAssembly.Memory, but its dynamic linker (the one that loads
// NumPy's compiled parts) links any module that imports `env.memory` and carries a `dylink.0` section against it.
// The kernel is linked the same way. So nothing depends on how Python started (normally or from the memory
// snapshot), and memory growth cannot break it: the kernel holds the Memory itself, never a view of its buffer.
// Register it after any snapshot is taken: a snapshot holds Python's memory, not the slot the linker gives the
// kernel in the function table.
import matmulWasm from "../kernels/matmul.wat";

/** Make `import tt_kernels` work in Python: its functions, or `unavailable` saying why there are none. Never throws:
 * without kernels the course still runs, on NumPy. */
export function registerKernels(py) {
  let kernels;
  try {
    kernels = { unavailable: null, ...link(py) };
  } catch (error) {
    kernels = { unavailable: String(error && error.message ? error.message : error) };
  }
  py.registerJsModule("tt_kernels", kernels);
}

function link(py) {
  if (!WebAssembly.validate(matmulWasm)) {
    throw new Error("this browser's WebAssembly has no SIMD instructions (they came with Chrome 91, Firefox 89 " +
      "and Safari 16.4)");
  }
  const flags = { loadAsync: false, global: false, nodelete: true, allowUndefined: false };
  // A compiled Module, not bytes: then the linker finds dylink.0 wherever the assembler put it (bytes need it first).
  const exports = py._module.loadWebAssemblyModule(new WebAssembly.Module(matmulWasm), flags, "tt_kernels.so", {});
  return { matmul_f32: exports.tt_matmul_f32 };
}
