// Starting Python fast: a memory snapshot of a Python that has started, installed and imported pytest and NumPy,
// and then been prepared by the caller (the worker: the course unpacked and its harness imported), kept in the
// browser so later visits (and restarts after Stop) restore it instead of starting from scratch.
//
// The snapshot is taken in this browser, by the same Pyodide, before any learner code has run. Its name carries the
// version of what was prepared (the course's), so a new course means one normal start and a new snapshot. Files
// are not part of Python's memory, so the files the wheels installed and the ones the preparation wrote are saved
// beside it, in the same file, and written back after a restore: a warm visit then reads no wheel at all (reading
// them through the service worker competed with Pyodide's own files, about 12 MB more on the critical path).
// NumPy's compiled libraries are not part of it either (they are WebAssembly modules of their own, linked into
// Python's memory and function table; Pyodide issues #6418, #6254): the snapshot records where each one was
// placed, and a restore loads them again in the same order at the same addresses, then puts their data back as it
// was in the snapshot. That is fragile (it relies on Emscripten's dynamic linker), so a restore is checked at every
// step (function table lengths, library sizes and addresses, a NumPy smoke test touching every library); on any
// mismatch the snapshot is deleted and the worker is replaced by one that starts normally (SnapshotUnusable).
// A browser where a NumPy snapshot failed once keeps a "core" snapshot instead (Python and pytest; NumPy loaded
// and the preparation done after the restore), which needs no library replay.
//
// It is kept by Pyodide version (snapshot-store.js: a file where the browser can, else in Cache Storage), and its
// name carries the wheels it holds; saving one removes any other. Anything wrong with it only means a normal
// start: a snapshot is an optimisation, never a requirement. It is saved with a checksum (checksum.js) and checked
// before use, because Pyodide does not reject a damaged snapshot: it hangs. (Snapshots saved with the SHA-256 of
// earlier builds fail the check once: deleted, a normal start, saved anew.)
import { unzip, unzipInto } from "./unzip.js";
import { openSnapshotStore } from "./snapshot-store.js";
import { xxh32 } from "./checksum.js";

const RECIPE = "v6"; // bump when what goes into a snapshot, or the loadPyodide options, change
const PURE_PACKAGES = ["pytest"]; // with their dependencies, from the runtime's lock file
const NUMPY = "numpy";
const SNAPSHOT = "memory-snapshot-"; // the start of every snapshot's name: a new one replaces all others

/** A saved snapshot turned out unusable after Python was restored from it: this worker must be replaced. */
export class SnapshotUnusable extends Error {
  constructor(message) {
    super(message);
    this.name = "SnapshotUnusable";
  }
}

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

// --- the saved form: [xxh32 of the rest, u32][u32 length of the description][description JSON, padded to 16]
// [Pyodide's snapshot][the installed files, one after another] ---------------------------------------------------
const CHECK = 4;

/** `files`: [{path, data}], listed in the description as [path, size] in the order their bytes follow. */
function pack(description, snapshot, files) {
  const text = new TextEncoder().encode(JSON.stringify({ ...description, snapshotSize: snapshot.length,
    files: files.map(({ path, data }) => [path, data.length]) }));
  const head = Math.ceil((CHECK + 4 + text.length) / 16) * 16; // Pyodide reads the snapshot with 32-bit views
  const bytes = new Uint8Array(head + snapshot.length + files.reduce((sum, f) => sum + f.data.length, 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(CHECK, text.length, true);
  bytes.set(text, CHECK + 4);
  bytes.set(snapshot, head);
  let at = head + snapshot.length;
  for (const { data } of files) {
    bytes.set(data, at);
    at += data.length;
  }
  view.setUint32(0, xxh32(bytes.subarray(CHECK)), true);
  return bytes;
}

/** {description, snapshot, files} from `bytes`, if they are exactly the bytes that were saved. */
function unpack(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < CHECK + 4 || view.getUint32(0, true) !== xxh32(bytes.subarray(CHECK))) {
    throw new Error("the saved snapshot is damaged");
  }
  const length = view.getUint32(CHECK, true);
  const description = JSON.parse(new TextDecoder().decode(bytes.subarray(CHECK + 4, CHECK + 4 + length)));
  let at = Math.ceil((CHECK + 4 + length) / 16) * 16;
  const snapshot = bytes.subarray(at, at + description.snapshotSize);
  at += description.snapshotSize;
  const files = description.files.map(([path, size]) => ({ path, data: bytes.subarray(at, (at += size)) }));
  return { description, snapshot, files };
}

function writeFiles(py, files) {
  for (const dir of new Set(files.map(({ path }) => path.slice(0, path.lastIndexOf("/"))))) py.FS.mkdirTree(dir);
  for (const { path, data } of files) py.FS.writeFile(path, data);
}

// --- wheels -------------------------------------------------------------------------------------------------------
/** The lock entries of `names` and their dependencies, as listed in the runtime's lock file. */
function wheelsOf(packages, names) {
  const wanted = new Map();
  const visit = (name) => {
    if (wanted.has(name)) return;
    wanted.set(name, packages[name]);
    packages[name].depends.forEach(visit);
  };
  names.forEach(visit);
  return [...wanted.values()];
}

const base64OfHex = (hex) => btoa(String.fromCharCode(...hex.match(/../g).map((byte) => parseInt(byte, 16))));

/** A wheel, checked against its sha256 in the lock file (as loadPackage does), and unzipped: it needs no Python,
 * so it happens while Python starts. */
async function fetchWheel(pyodideUrl, wheel) {
  const bytes = (await compressedTwin(pyodideUrl, wheel)) || (await fetchOriginal(pyodideUrl, wheel));
  return (await unzip(bytes)) || bytes;
}

async function fetchOriginal(pyodideUrl, wheel) {
  const response = await fetch(pyodideUrl + wheel.file_name, { integrity: `sha256-${base64OfHex(wheel.sha256)}` });
  if (!response.ok) throw new Error(`could not load ${wheel.file_name} (${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

/** The build also ships each wheel, and the standard library, with its files stored rather than deflated (the
 * lock's `stored_file_name` and `stored_sha256`), with a brotli copy beside it: one brotli stream over the whole
 * archive is a quarter to a third smaller than the archive's own per-file deflate. Only worth it if the host sends
 * it compressed (runtime/serve.py does; a plain host sends it as it is, several times the archive's size), so the
 * headers decide: anything but a compressed, intact twin (a plain host, offline, a mismatch) means the original
 * archive instead. */
async function compressedTwin(pyodideUrl, archive) {
  if (!archive.stored_file_name) return null;
  const asked = new AbortController();
  try {
    const response = await fetch(pyodideUrl + archive.stored_file_name, { signal: asked.signal });
    if (!response.ok || !response.headers.get("content-encoding")) {
      asked.abort(); // before the body comes
      return null;
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    return (await sha256(bytes)) === archive.stored_sha256 ? bytes : null;
  } catch {
    return null;
  }
}

// Where Pyodide writes the standard library's zip (/lib/python312.zip). A saved Python holds zipimport's table of
// that zip's contents, so the snapshot keeps the very zip it was made with (the twin and the build's zip differ).
const isStdlibZip = (path) => /^\/lib\/python\d+\.zip$/.test(path);

/** loadPyodide with the build's compiled standard library (the lock's `stdlib`). Pyodide fetches it itself, from
 * `stdLibURL`; while it starts, that one request is answered with `stdlib` (a promise: the stored twin, or the zip
 * a snapshot kept) when there are any, else it goes on to the build's zip. */
async function loadPyodideWith(loadPyodide, options, { stdlibUrl, stdlib }) {
  const fetch = self.fetch;
  self.fetch = (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    if (url === stdlibUrl) return stdlib.then((kept) => (kept ? new Response(kept) : fetch(input, init)));
    return fetch(input, init);
  };
  try {
    return await loadPyodide({ ...options, stdLibURL: stdlibUrl });
  } finally {
    self.fetch = fetch;
  }
}

/** Unpack a wheel into site-packages; returns the paths of its files (its compiled libraries in the order
 * loadPackage loads them). */
async function installWheel(py, bytes) {
  // Where Python imports NumPy's libraries from, spelled as it spells it (sysconfig's purelib has a leading "//").
  const sitePackages = py.runPython("import site; site.getsitepackages()[0]");
  return unzipInto(py, bytes, sitePackages);
}

// --- NumPy's compiled libraries ---------------------------------------------------------------------------------
// Emscripten's `struct dso` (system/lib/libc/dynlink.h): whether the library's memory is already allocated, and
// where its memory and its slots in the function table are. Handing the dynamic linker a dso with `allocated`
// set makes it place the library there instead of allocating new space.
const DSO_SIZE = 64;
const DSO = { allocated: 8, memoryBase: 12, memorySize: 16, tableBase: 20, tableSize: 24 };

/** Load one library as Pyodide's loadDynlib does (not global, with its own scope); at `place` if given. Returns
 * where it went: {path, memoryBase, memorySize, tableBase, tableSize}. */
async function loadLibrary(py, path, place) {
  const M = py._module;
  const bytes = py.FS.readFile(path);
  const { memorySize, tableSize, neededDynlibs } = M.getDylinkMetadata(bytes);
  if (neededDynlibs.length) throw new Error(`${path} needs other libraries (${neededDynlibs}): not supported`);
  if (place && (place.memorySize !== memorySize || place.tableSize !== tableSize)) {
    throw new Error(`${path} is not the library the snapshot was made with`);
  }
  const handle = M._calloc(DSO_SIZE, 1);
  try {
    if (place) {
      M.HEAP8[handle + DSO.allocated] = 1;
      M.HEAPU32[(handle + DSO.memoryBase) >> 2] = place.memoryBase;
      M.HEAP32[(handle + DSO.memorySize) >> 2] = memorySize;
      M.HEAPU32[(handle + DSO.tableBase) >> 2] = place.tableBase;
      M.HEAP32[(handle + DSO.tableSize) >> 2] = tableSize;
    }
    const fs = { findObject: (p) => (p === path ? {} : null), readFile: () => bytes };
    // Compiled synchronously (as fast here: V8 compiles lazily): in Chromium 156, an asynchronous compile in a worker
    // started after the last one was terminated inside NumPy's code sometimes never finished (the time-limit drill
    // hung 4 runs in 10; 0 in 8 with this).
    await M.loadDynamicLibrary(path, { loadAsync: false, nodelete: true, allowUndefined: true, global: false, fs },
      {}, handle);
    const placed = { path, memoryBase: M.HEAPU32[(handle + DSO.memoryBase) >> 2], memorySize,
      tableBase: M.HEAPU32[(handle + DSO.tableBase) >> 2], tableSize };
    const name = path.slice(path.lastIndexOf("/") + 1);
    M.LDSO.loadedLibsByName[name] ||= M.LDSO.loadedLibsByName[path]; // as loadDynlib does
    return placed;
  } finally {
    delete M.LDSO.loadedLibsByHandle[handle]; // the handle was only a way to say where; Python holds its own
    M._free(handle);
  }
}

/** What a restore needs to put NumPy's libraries back: where each went, the function table around them, and which
 * of Python's dlopen handles name which library. */
function describeLibraries(py, libraries, table) {
  const handles = Object.fromEntries(Object.entries(py._module.LDSO.loadedLibsByHandle)
    .map(([h, dso]) => [h, dso.name]));
  return { libraries, ...table, handles };
}

function expect(what, actual, wanted) {
  if (actual !== wanted) throw new Error(`${what}: ${actual}, the snapshot says ${wanted}`);
}

/** Load NumPy's libraries again where the snapshot had them and give them back their data as it was then. */
async function replayLibraries(py, { libraries, tableBefore, tableAfter, handles }, snapshot) {
  const M = py._module;
  expect("function table length after the restore", M.wasmTable.length, tableBefore);
  const heap = snapshot.subarray(new Uint32Array(snapshot.buffer, snapshot.byteOffset, 2)[1]);
  for (const place of libraries) {
    const placed = await loadLibrary(py, place.path, place);
    expect(`${place.path} memory address`, placed.memoryBase, place.memoryBase);
    expect(`${place.path} table address`, placed.tableBase, place.tableBase);
  }
  expect("function table length after NumPy's libraries", M.wasmTable.length, tableAfter);
  // Loading ran the libraries' initialisers over their data; the snapshot has it as Python last left it.
  for (const { memoryBase, memorySize } of libraries) {
    M.HEAPU8.set(heap.subarray(memoryBase, memoryBase + memorySize), memoryBase);
  }
  for (const [handle, name] of Object.entries(handles)) {
    const dso = M.LDSO.loadedLibsByName[name];
    if (!dso) throw new Error(`no library ${name} for Python's handle ${handle}`);
    M.LDSO.loadedLibsByHandle[handle] = dso;
  }
}

// Every part of pytest and the parts of NumPy the tests use, so that neither the first test run nor the integrity
// fingerprint waits for an import.
const IMPORT_PYTEST = `
import importlib, pkgutil, _pytest, pytest
for part in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
    importlib.import_module(part.name)
`;
const IMPORT_NUMPY = "import numpy, numpy.linalg, numpy.fft, numpy.random, numpy.testing";

// After a restore: each of NumPy's libraries in use answers correctly (a misplaced one fails or crashes here, not
// in the learner's run), and every restore gets its own random state (they would all share the snapshot's).
const SMOKE_AND_RESEED = `
import random
import numpy as np
random.seed()
np.random.seed()
a = np.arange(12, dtype=np.float32).reshape(3, 4)
rng = np.random.Generator(np.random.PCG64(7))
smoke = {
    "matmul": float((a @ a.T)[1, 2]) == 214.0,
    "einsum": float(np.einsum("ij,ij->", a, a)) == 506.0,
    "sort": np.sort(np.array([3, 1, 2])).tolist() == [1, 2, 3],
    "linalg": np.allclose(np.linalg.solve([[3.0, 1.0], [1.0, 2.0]], [9.0, 8.0]), [2.0, 3.0]),
    "det": round(float(np.linalg.det(np.eye(3) * 2)), 6) == 8.0,
    "fft": np.allclose(np.fft.ifft(np.fft.fft(np.arange(8.0))).real, np.arange(8.0)),
    "random": 0 <= np.random.rand() < 1 and abs(rng.normal(size=20000).mean()) < 0.05,
    "bit_generators": all(0 <= np.random.Generator(g(1)).random() < 1 for g in
                          (np.random.MT19937, np.random.Philox, np.random.SFC64)),
    "integers": 0 <= int(rng.integers(0, 10)) < 10,
    "testing": np.testing.assert_allclose(a, a) is None,
}
[name for name, ok in smoke.items() if not ok]
`;

function smokeTest(py) {
  const failed = py.runPython(SMOKE_AND_RESEED);
  const names = failed.toJs();
  failed.destroy();
  if (names.length) throw new Error(`NumPy after the restore fails: ${names.join(", ")}`);
}

// --- starting -------------------------------------------------------------------------------------------------
/** Install the wheels and load their compiled libraries; returns the paths of their files. */
async function installAndLoad(py, wheels, libraries = []) {
  const paths = [];
  for (const bytes of await Promise.all(wheels)) {
    const installed = await installWheel(py, bytes);
    for (const path of installed.filter((p) => p.endsWith(".so"))) libraries.push(await loadLibrary(py, path, null));
    paths.push(...installed);
  }
  return paths;
}

const installAll = async (py, wheels) => (await Promise.all(wheels.map(async (bytes) =>
  installWheel(py, await bytes)))).flat();

/** A started Python with pytest and NumPy installed and imported and `prepare(py)` done: restored from the saved
 * snapshot if there is a usable one, else started normally (and a snapshot saved for next time). `prepare` returns
 * the paths of the files it wrote (saved with the snapshot); `prepared` names what it puts in, for the snapshot's
 * name; `willPrepare()` is called once `prepare` is sure to run and may fetch what it needs meanwhile.
 * `pyodideLoaded`: Pyodide's loadPyodide, or a promise of it. `restore: false` starts normally. A normal start
 * (a first visit) downloads Python only once `pageSettled` has: decoding some 7.5 MB of brotli, compiling Python
 * and starting it take both cores of a 2-core machine, and the page, still laying itself out, would wait for them
 * (on a real network the page's files then come first: its panel is there sooner, Python a little later; see
 * docs/benchmarks.md). A restore, lighter, goes ahead. Returns
 * {py, from: "snapshot" | "start", holds: "numpy" | "pytest", timings, saveSnapshot?}; throws SnapshotUnusable
 * when a restored Python failed its checks (the caller replaces the worker, which then starts normally). */
export async function startPython(pyodideLoaded, { pyodideUrl, pyodideVersion, options, prepare, prepared,
  willPrepare = () => {}, restore = true, pageSettled = Promise.resolve() }) {
  const started = performance.now();
  const timings = {};
  const mark = (name) => { timings[name] = performance.now() - started; };
  const storeOpened = openSnapshotStore(pyodideVersion, pyodideUrl); // while the package list comes
  const response = await fetch(`${pyodideUrl}pyodide-lock.json`);
  if (!response.ok) throw new Error(`could not load the runtime's package list (${response.status})`);
  const { packages, stdlib } = await response.json();
  const stdlibUrl = new URL(pyodideUrl + stdlib.file_name, self.location.href).href;
  const load = (stdlib, more) => loadPyodideWith(loadPyodide, { ...options, ...more }, { stdlibUrl, stdlib });
  const pure = wheelsOf(packages, PURE_PACKAGES);
  const numpy = wheelsOf(packages, [NUMPY]);
  const fetchWheels = (wheels) => wheels.map((w) => {
    const bytes = fetchWheel(pyodideUrl, w);
    bytes.catch(() => {}); // awaited later; not unhandled meanwhile
    return bytes;
  });

  const store = await storeOpened;
  const loadPyodide = await pyodideLoaded;
  const refused = `numpy-snapshots-refused-${RECIPE}`; // a NumPy snapshot failed here once
  const holds = store && (await store.has(refused)) ? "pytest" : "numpy";
  const wheelNames = [...pure, ...(holds === "numpy" ? numpy : [])].map((w) => w.sha256.slice(0, 16)).sort();
  const name = `${SNAPSHOT}${RECIPE}-${holds}-${wheelNames.join("+")}-${prepared}`;
  const saved = restore && store && (await store.has(name));
  mark("snapshotFound");
  if (saved) {
    if (holds !== "numpy") willPrepare();
    // Read and checked while Pyodide loads its own files (loadPyodide waits for the promise only when it needs it).
    let damaged = false; // then it is only deleted: a snapshot made anew may well restore
    const restored = store.read(name).then(unpack);
    restored.then(() => mark("snapshotRead"), () => { damaged = true; });
    const keptStdlib = restored.then(({ files }) => files.find((f) => isStdlibZip(f.path))?.data, () => null);
    const numpyBytes = holds === "numpy" ? [] : fetchWheels(numpy);
    let py;
    try {
      py = await load(keptStdlib, { _loadSnapshot: restored.then((r) => r.snapshot) });
      mark("restored");
      const { description, snapshot, files } = await restored;
      writeFiles(py, files.filter((f) => !isStdlibZip(f.path))); // Pyodide has just written the zip
      mark("files");
      if (holds === "numpy") {
        await replayLibraries(py, description, snapshot);
        Object.assign(py.loadedPackages, description.loadedPackages);
        mark("libraries");
        smokeTest(py);
      } else {
        py.runPython("import random; random.seed()"); // every restore would otherwise share one random state
        await installAndLoad(py, numpyBytes);
        py.runPython(IMPORT_NUMPY);
        py.loadedPackages[NUMPY] = "default channel";
      }
      mark("numpy");
    } catch (error) {
      await store.remove(name);
      if (holds === "numpy" && !damaged) await store.write(refused, new Uint8Array([1])).catch(() => {});
      throw new SnapshotUnusable(`the saved Python could not be restored (${error && error.message || error})`);
    }
    if (holds !== "numpy") await prepare(py); // the core snapshot was taken before NumPy, so before this
    return { py, from: "snapshot", holds, timings };
  }

  await pageSettled;
  mark("pageSettled");
  willPrepare();
  const pureBytes = fetchWheels(pure);
  const numpyBytes = fetchWheels(numpy);
  const py = await load(compressedTwin(pyodideUrl, stdlib), { _makeSnapshot: Boolean(store) });
  const tableAtStart = py._module.wasmTable.length; // a restore starts with this table: NumPy must go after it
  // Read before any learner code can write to it: a snapshot keeps the zip its Python was started with.
  const stdlibZip = py.FS.readdir("/lib").map((name) => `/lib/${name}`).find(isStdlibZip);
  const stdlibFile = store ? { path: stdlibZip, data: py.FS.readFile(stdlibZip) } : null;
  mark("started");
  const installed = await installAll(py, pureBytes);
  py.runPython(IMPORT_PYTEST);
  mark("pytest");
  const snapshotNow = () => (store ? py.makeMemorySnapshot() : null);
  const core = holds === "pytest" ? snapshotNow() : null;
  // Importing grows the table further (a slot per module's init function, called once and never again); the
  // restore compares the table right after loading the libraries, as here.
  const table = { tableBefore: py._module.wasmTable.length };
  const libraries = [];
  const numpyFiles = await installAndLoad(py, numpyBytes, libraries);
  if (holds === "numpy") installed.push(...numpyFiles);
  table.tableAfter = py._module.wasmTable.length;
  py.runPython(IMPORT_NUMPY);
  mark("numpy");
  // Read now, before any learner code runs: the snapshot is saved later, possibly after the first requests.
  const preparedFiles = (await prepare(py)).map((path) => ({ path, data: py.FS.readFile(path) }));
  mark("prepared");
  const replayable = table.tableBefore === tableAtStart;
  const description = holds === "numpy" && replayable ? { ...describeLibraries(py, libraries, table),
    loadedPackages: { [NUMPY]: "default channel" } } : {};
  const snapshot = holds === "numpy" ? (replayable ? snapshotNow() : null) : core;
  py.loadedPackages[NUMPY] = "default channel"; // after the snapshot: Pyodide issue #5195
  // For the caller to call once Python is ready: packing, hashing and writing tens of MB must not delay the
  // learner, and a failed write (quota) only means no snapshot.
  const saveSnapshot = async () => {
    if (!snapshot) return;
    try {
      const files = [...installed.map((path) => ({ path, data: py.FS.readFile(path) })), stdlibFile];
      if (holds === "numpy") files.push(...preparedFiles);
      await store.write(name, pack(description, snapshot, files));
      await store.removeOthers(SNAPSHOT, name); // a snapshot of an earlier course, or earlier wheels
    } catch {
      // no snapshot this time: the next visit starts normally and saves one
    }
  };
  return { py, from: "start", holds, timings, saveSnapshot };
}
