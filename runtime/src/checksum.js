// A fast checksum for the saved snapshot (snapshot.js): xxHash32 (https://github.com/Cyan4973/xxHash, XXH32).
// The snapshot's check only has to catch damage (a short or garbled file), not tampering: anyone who can write the
// origin's files can run code there anyway. SHA-256 through WebCrypto took 90-160 ms for the 56 MB on the worker's
// thread at the start of every warm visit, where Pyodide's own script waited to be compiled; this takes 10-30 ms in
// Node and 30-56 ms as its first, not yet optimised, call in a traced tab.
// Words are read in the platform's byte order (little-endian wherever WebAssembly runs), which is all a check made
// and read in the same browser needs.

const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;

const rotl = (x, r) => (x << r) | (x >>> (32 - r));
const round = (lane, word) => Math.imul(rotl((lane + Math.imul(word, P2)) | 0, 13), P1);

/** XXH32 of `bytes` (a Uint8Array starting at a multiple of 4 in its buffer), as an unsigned 32-bit number. */
export function xxh32(bytes, seed = 0) {
  if (bytes.byteOffset % 4) throw new Error("xxh32: the bytes must start at a multiple of 4");
  const length = bytes.length;
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, length >>> 2);
  let i = 0;
  let hash;
  if (length >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    for (const end = (length >>> 4) * 4; i < end; i += 4) {
      v1 = round(v1, words[i]);
      v2 = round(v2, words[i + 1]);
      v3 = round(v3, words[i + 2]);
      v4 = round(v4, words[i + 3]);
    }
    hash = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    hash = (seed + P5) | 0;
  }
  hash = (hash + length) | 0;
  for (; i < words.length; i++) hash = Math.imul(rotl((hash + Math.imul(words[i], P3)) | 0, 17), P4);
  for (let b = i * 4; b < length; b++) hash = Math.imul(rotl((hash + Math.imul(bytes[b], P5)) | 0, 11), P1);
  hash = Math.imul(hash ^ (hash >>> 15), P2);
  hash = Math.imul(hash ^ (hash >>> 13), P3);
  return (hash ^ (hash >>> 16)) >>> 0;
}
