// The course's WebAssembly kernels are kept as text (*.wat) and assembled with the pinned npm package `wabt`:
// by the build, as an esbuild plugin (`import bytes from "../kernels/matmul.wat"` gives the binary as a Uint8Array
// inside the worker bundle), and by the kernels' own tests.
import fs from "node:fs/promises";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
// simd: the f32x4 instructions; annotations: the `(@custom "dylink.0" ...)` section Pyodide's linker looks for.
const FEATURES = { simd: true, annotations: true };

let wabt;

/** The binary of the WAT file at `path`; a syntax or validation error names the file and line. */
export async function assemble(path) {
  wabt ||= await require("wabt")();
  const module = wabt.parseWat(path, await fs.readFile(path, "utf8"), FEATURES);
  try {
    module.resolveNames();
    module.validate();
    return module.toBinary({ log: false }).buffer;
  } finally {
    module.destroy();
  }
}

/** esbuild: `.wat` imports become their assembled bytes. */
export const watPlugin = {
  name: "wat",
  setup(build) {
    build.onLoad({ filter: /\.wat$/ }, async (args) => ({ contents: await assemble(args.path), loader: "binary" }));
  },
};
