// Tests of the snapshot's checksum in Node:   node --test runtime/src/checksum.test.mjs   (run by
// tests/test_runtime_node.py). The expected values are XXH32's published ones (xxHash's own and python-xxhash's
// examples) and ones computed with hash-wasm 4.13.0's xxhash32, so every branch (under 16 bytes, whole 16-byte
// stripes, leftover words, leftover bytes, a seed) is checked against an independent implementation.
import assert from "node:assert/strict";
import test from "node:test";
import { xxh32 } from "./checksum.js";

const text = (s) => new TextEncoder().encode(s);
const hex = (n) => n.toString(16).padStart(8, "0");

test("XXH32 of short texts", () => {
  assert.equal(hex(xxh32(text(""))), "02cc5d05");
  assert.equal(hex(xxh32(text("a"))), "550d7456");
  assert.equal(hex(xxh32(text("abc"))), "32d153ff");
  assert.equal(hex(xxh32(text("Nobody inspects the spammish repetition"))), "e2293b2f");
});

test("XXH32 over whole stripes, leftover words and leftover bytes, with and without a seed", () => {
  assert.equal(hex(xxh32(text("0123456789abcdef"))), "c2c45b69");
  assert.equal(hex(xxh32(text("0123456789abcdef0123456789abcdefXYZ"))), "16f9fa69");
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
  assert.equal(hex(xxh32(bytes, 7)), "6c38b902");
});

test("one changed or missing byte changes it", () => {
  const bytes = Uint8Array.from({ length: 1 << 16 }, (_, i) => (i * 31) & 255);
  const whole = xxh32(bytes);
  const damaged = bytes.slice();
  damaged[40000] ^= 1;
  assert.notEqual(xxh32(damaged), whole);
  assert.notEqual(xxh32(bytes.subarray(0, bytes.length - 4)), whole);
});

test("bytes that do not start at a multiple of 4 are refused, not misread", () => {
  assert.throws(() => xxh32(new Uint8Array(16).subarray(1)), /multiple of 4/);
});
