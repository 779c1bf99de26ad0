// Tests of the matmul kernel alone, in Node, on a memory of their own (the kernel imports one, as in the tab):
//   node --test runtime/kernels/matmul.test.mjs      (run by tests/test_runtime_node.py)
// Every result is compared with a float64 product computed here, within the float32 rounding bound explained
// at `assertClose`. The browser tests check the same kernel on NumPy's memory inside Python.
import assert from "node:assert/strict";
import path from "node:path";
import test from "node:test";
import { assemble } from "./assemble.mjs";

const bytes = await assemble(path.join(import.meta.dirname, "matmul.wat"));
const compiled = new WebAssembly.Module(bytes);
const PAGE = 65536;

/** A fresh kernel on a fresh memory, with a bump allocator (`alloc(floats, misalign)` returns a byte address). */
function kernel(pages = 16) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536 });
  const { tt_matmul_f32: matmul } = new WebAssembly.Instance(compiled, { env: { memory } }).exports;
  let top = 64;
  const alloc = (floats, misalign = 0) => {
    const address = top + misalign * 4;
    top = address + floats * 4 + 64;
    const need = Math.ceil(top / PAGE) - memory.buffer.byteLength / PAGE;
    if (need > 0) memory.grow(need);
    return address;
  };
  const f32 = (address, n) => new Float32Array(memory.buffer, address, n); // re-made after any growth
  return { memory, matmul, alloc, f32 };
}

let seed = 17;
function random() { // deterministic, in [-1, 1)
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 1073741824 - 1;
}

/** Multiply M x K by K x N at fresh addresses (shifted by `misalign` floats); returns the result and the inputs. */
function multiply(k, M, K, N, { misalign = 0, fill = random } = {}) {
  const a = k.alloc(M * K, misalign), b = k.alloc(K * N, misalign);
  const guard = 16; // floats before and after C that must stay untouched
  const c = k.alloc(M * N + 2 * guard, misalign) + guard * 4;
  const scratch = k.alloc(K * 8 + 32, misalign);
  const A = Float32Array.from({ length: M * K }, fill), B = Float32Array.from({ length: K * N }, fill);
  k.f32(a, M * K).set(A);
  k.f32(b, K * N).set(B);
  k.f32(c - guard * 4, M * N + 2 * guard).fill(12345);
  k.matmul(a, b, c, M, N, K, scratch);
  const around = [...k.f32(c - guard * 4, guard), ...k.f32(c + M * N * 4, guard)];
  assert.ok(around.every((x) => x === 12345), `${M}x${K} @ ${K}x${N}: the kernel wrote outside C`);
  assert.deepEqual(k.f32(a, M * K), A, "the kernel changed A");
  assert.deepEqual(k.f32(b, K * N), B, "the kernel changed B");
  return { C: Float32Array.from(k.f32(c, M * N)), A, B };
}

/** Each entry of C against the float64 product. Summing K float32 products in float32 is exact up to a relative
 * error of about K * 2^-24 of the sum of their magnitudes (the classic bound for recursive summation); the kernel
 * sums in a different order than a plain loop, so it is held to twice that: |C - exact| <= K * 2^-23 * sum|a||b|. */
function assertClose({ C, A, B }, M, K, N) {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let exact = 0, magnitude = 0;
      for (let p = 0; p < K; p++) {
        exact += A[i * K + p] * B[p * N + j];
        magnitude += Math.abs(A[i * K + p] * B[p * N + j]);
      }
      const got = C[i * N + j];
      if (!(Math.abs(got - exact) <= K * 2 ** -23 * magnitude)) {
        const bound = K * 2 ** -23 * magnitude;
        assert.fail(`${M}x${K} @ ${K}x${N}: C[${i}, ${j}] = ${got}, expected ${exact} (within ${bound})`);
      }
    }
  }
}

test("whole tiles, odd and even shapes, and every remainder of the 4 x 8 tiles", () => {
  const k = kernel();
  const shapes = [[4, 8, 8], [8, 16, 16], [64, 64, 64], [1, 1, 1], [2, 3, 5], [7, 13, 17], [33, 65, 31],
    [130, 67, 70], [5, 1, 9], [1, 200, 1], [3, 1000, 2], [100, 37, 1], [1, 37, 100]];
  for (let rows = 1; rows <= 5; rows++) {
    for (let cols = 1; cols <= 9; cols++) shapes.push([rows, 3, cols], [4 + rows, 2, 8 + cols]);
  }
  for (const [M, K, N] of shapes) assertClose(multiply(k, M, K, N), M, K, N);
});

test("exact on small integers", () => {
  // Products and sums of small integers are exact in float32: the result must equal the exact product bit for bit.
  const k = kernel();
  const ints = () => Math.round(random() * 8);
  const { C, A, B } = multiply(k, 9, 21, 11, { fill: ints });
  for (let i = 0; i < 9; i++) {
    for (let j = 0; j < 11; j++) {
      let exact = 0;
      for (let p = 0; p < 21; p++) exact += A[i * 21 + p] * B[p * 11 + j];
      assert.equal(C[i * 11 + j], exact, `C[${i}, ${j}]`);
    }
  }
});

test("arrays at addresses that are not 16-byte aligned", () => {
  const k = kernel();
  for (const misalign of [1, 2, 3]) assertClose(multiply(k, 9, 10, 19, { misalign }), 9, 10, 19);
});

test("empty shapes: no rows or columns writes nothing, an empty sum (K = 0) gives zeros", () => {
  const k = kernel();
  multiply(k, 0, 5, 7); // the guards around C are checked inside
  multiply(k, 5, 5, 0);
  const { C } = multiply(k, 3, 0, 6);
  assert.deepEqual([...C], new Array(18).fill(0));
});

test("NaN and infinity in A or B reach exactly the entries they should", () => {
  const k = kernel();
  const M = 6, K = 5, N = 10; // a partial tile in both directions, so padding and clamped rows are exercised
  const a = k.alloc(M * K), b = k.alloc(K * N), c = k.alloc(M * N), scratch = k.alloc(K * 8 + 32);
  k.f32(a, M * K).fill(1);
  k.f32(b, K * N).fill(1);
  k.f32(a, M * K)[(M - 1) * K + 2] = Infinity; // last row of A: row M-1 of C becomes inf
  k.f32(b, K * N)[3 * N + (N - 1)] = NaN; // last column of B: column N-1 of C becomes NaN
  k.matmul(a, b, c, M, N, K, scratch);
  const C = k.f32(c, M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const expected = j === N - 1 ? NaN : i === M - 1 ? Infinity : K;
      assert.ok(Object.is(C[i * N + j], expected), `C[${i}, ${j}] = ${C[i * N + j]}, expected ${expected}`);
    }
  }
});

test("reads nothing past the end of A or B: each placed at the very end of memory", () => {
  // Rows past M are read from A's last row, columns past N are never read: a read past the array would trap here.
  for (const [M, K, N] of [[5, 3, 9], [6, 7, 3], [7, 2, 17], [1, 4, 1]]) {
    for (const last of ["A", "B"]) {
      const k = kernel();
      const other = k.alloc(last === "A" ? K * N : M * K), c = k.alloc(M * N), scratch = k.alloc(K * 8 + 32);
      k.memory.grow(1);
      const end = k.memory.buffer.byteLength - (last === "A" ? M * K : K * N) * 4;
      const [a, b] = last === "A" ? [end, other] : [other, end];
      const A = Float32Array.from({ length: M * K }, random), B = Float32Array.from({ length: K * N }, random);
      k.f32(a, M * K).set(A);
      k.f32(b, K * N).set(B);
      k.matmul(a, b, c, M, N, K, scratch);
      assertClose({ C: k.f32(c, M * N), A, B }, M, K, N);
    }
  }
});

test("memory that grew after the kernel was linked: it sees the new pages", () => {
  const k = kernel(1);
  const before = k.memory.buffer.byteLength;
  const M = 70, K = 90, N = 75; // ~80 KB of arrays on a 64 KB memory: the allocator grows it first
  const result = multiply(k, M, K, N);
  assert.ok(k.memory.buffer.byteLength > before);
  assertClose(result, M, K, N);
});

test("a larger product, with power-of-two strides", () => {
  const k = kernel();
  assertClose(multiply(k, 128, 256, 128), 128, 256, 128);
});

test("the module is a side module Pyodide's dynamic linker accepts: dylink.0 section, imported memory", () => {
  const [section] = WebAssembly.Module.customSections(compiled, "dylink.0");
  assert.deepEqual([...new Uint8Array(section)], [1, 4, 0, 0, 0, 0]);
  assert.deepEqual(WebAssembly.Module.imports(compiled), [{ module: "env", name: "memory", kind: "memory" }]);
  assert.deepEqual(WebAssembly.Module.exports(compiled), [{ name: "tt_matmul_f32", kind: "function" }]);
});
