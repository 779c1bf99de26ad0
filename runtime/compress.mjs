// Build step (run by build.py with Node): write a brotli (`.br`) and a gzip (`.gz`) copy beside every file of the
// site worth compressing, so a server can send the smaller one with the right Content-Encoding (runtime/serve.py
// does) instead of compressing on every request. Node's own zlib compresses; outputs are cached by content hash
// and this script, since the big files (the Python runtime) rarely change.
//
//   node runtime/compress.mjs SITE_DIR CACHE_DIR
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const COMPRESSIBLE = /\.(html|js|mjs|css|json|xml|svg|txt|map|wasm|zip|whl|npz)$/;
const MIN_BYTES = 1024;
const WORTH = 0.9; // keep a compressed copy only if it saves at least a tenth

const encoders = {
  br: (data) => zlib.brotliCompressSync(data, { params: {
    // The best brotli, with its largest standard window (16 MB, which every browser decodes): on the 10 MB
    // WebAssembly runtime 2.27 MB instead of 2.62 MB at quality 9, for about 20 s once (the copies are cached).
    [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
    [zlib.constants.BROTLI_PARAM_LGWIN]: 24,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
  gz: (data) => zlib.gzipSync(data, { level: 9 }),
};

function* files(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* files(full);
    else if (COMPRESSIBLE.test(entry.name)) yield full;
  }
}

const [site, cacheRoot] = process.argv.slice(2);
// Cached by content and by this script (its settings): other settings must not reuse the old copies.
const recipe = crypto.createHash("sha256").update(fs.readFileSync(new URL(import.meta.url))).digest("hex");
const cacheDir = path.join(cacheRoot, recipe.slice(0, 12));
fs.mkdirSync(cacheDir, { recursive: true });
let raw = 0;
const sent = { br: 0, gz: 0 };
for (const file of [...files(site)]) {
  const data = fs.readFileSync(file);
  raw += data.length;
  if (data.length < MIN_BYTES) {
    Object.keys(sent).forEach((e) => { sent[e] += data.length; });
    continue;
  }
  const digest = crypto.createHash("sha256").update(data).digest("hex");
  for (const [encoding, encode] of Object.entries(encoders)) {
    const cached = path.join(cacheDir, `${digest}.${encoding}`);
    if (!fs.existsSync(cached)) {
      fs.writeFileSync(`${cached}.part`, encode(data));
      fs.renameSync(`${cached}.part`, cached);
    }
    const size = fs.statSync(cached).size;
    if (size <= data.length * WORTH) {
      fs.copyFileSync(cached, `${file}.${encoding}`);
      sent[encoding] += size;
    } else {
      sent[encoding] += data.length;
    }
  }
}
console.log(`compressed copies written: ${(raw / 1e6).toFixed(1)} MB raw, ${(sent.br / 1e6).toFixed(1)} MB as brotli, ` +
  `${(sent.gz / 1e6).toFixed(1)} MB as gzip`);
