// Unpacking zip archives (wheels, the course archive) straight into Python's file system from JavaScript: the
// browser's own DecompressionStream inflates, so nothing runs in Python. Pyodide's unpackArchive does the same
// job in Python, about half a second slower for NumPy's wheel. Stored and deflated entries only, as wheels have.

const decoder = new TextDecoder();

/** The entries of the zip archive in `bytes`, in the order of its central directory (which is the order
 * Python's zipfile lists them): [{name, method, offset, size}]. */
function entries(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22;
  while (end >= 0 && view.getUint32(end, true) !== 0x06054b50) end--;
  if (end < 0) throw new Error("not a zip archive");
  const count = view.getUint16(end + 10, true);
  const found = [];
  for (let i = 0, at = view.getUint32(end + 16, true); i < count; i++) {
    if (view.getUint32(at, true) !== 0x02014b50) throw new Error("damaged zip archive");
    const nameLength = view.getUint16(at + 28, true);
    const name = decoder.decode(bytes.subarray(at + 46, at + 46 + nameLength));
    const local = view.getUint32(at + 42, true);
    const data = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    found.push({ name, method: view.getUint16(at + 10, true), offset: data, size: view.getUint32(at + 20, true) });
    at += 46 + nameLength + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return found;
}

async function inflate(data) {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The files of the archive, inflated: [{name, data}], in the archive's order; null where the browser has no
 * DecompressionStream (then unzipInto lets Pyodide unpack it, in Python). Needs no Python, so it can run while
 * Python starts. */
export async function unzip(bytes) {
  if (typeof DecompressionStream !== "function") return null;
  const files = entries(bytes).filter((e) => !e.name.endsWith("/"));
  return Promise.all(files.map(async (e) => {
    const data = bytes.subarray(e.offset, e.offset + e.size);
    if (e.method === 0) return { name: e.name, data };
    if (e.method === 8) return { name: e.name, data: await inflate(data) };
    throw new Error(`${e.name}: zip compression method ${e.method} is not supported`);
  }));
}

/** Write the archive (its bytes, or what unzip made of them) into the folder `into` of Pyodide's file system;
 * returns the paths written, in order. */
export async function unzipInto(py, archive, into) {
  const folder = into.replace(/\/$/, "");
  const files = archive instanceof Uint8Array ? await unzip(archive) : archive;
  if (files === null) return unzipInPython(py, archive, folder);
  const paths = files.map((f) => `${folder}/${f.name}`);
  for (const dir of new Set(paths.map((p) => p.slice(0, p.lastIndexOf("/"))))) py.FS.mkdirTree(dir);
  paths.forEach((path, i) => py.FS.writeFile(path, files[i].data, { canOwn: true }));
  return paths;
}

function unzipInPython(py, bytes, folder) {
  py.unpackArchive(bytes, "zip", { extractDir: folder });
  const names = py.runPython(`lambda data: [n for n in __import__("zipfile").ZipFile(__import__("io").BytesIO(
      data.to_bytes())).namelist() if not n.endswith("/")]`);
  const list = names(bytes);
  names.destroy();
  return list.toJs().map((name) => `${folder}/${name}`);
}
