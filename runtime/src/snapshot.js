// Starting Python fast: a memory snapshot of a Python that has started and imported pytest, kept in the browser so
// later visits (and restarts after Stop) restore it instead of starting from scratch.
//
// The snapshot is taken in this browser, by the same Pyodide, before NumPy or any course or learner code is loaded:
// a clean interpreter. NumPy cannot be in it (its compiled libraries live outside Python's memory; Pyodide issues
// #6418, #6254), and pytest must be unpacked by hand rather than with loadPackage, whose bookkeeping cannot be
// captured. Files are not part of the memory either, so pytest's are unpacked again after every restore.
// It lives in the runtime's own cache (the service worker's `tinytorch-pyodide-<version>`), so a new Pyodide drops
// it with the rest of the old runtime, and its name carries the wheels it holds. Anything wrong with it (missing,
// unreadable, damaged, refused) only means a normal start: a snapshot is an optimisation, never a requirement.
// It is saved with its sha256 and checked before use, because Pyodide does not reject a damaged snapshot: it hangs.

const RECIPE = "v2"; // bump when what goes into a snapshot, or the loadPyodide options, change
const PURE_PACKAGES = ["pytest"]; // with their dependencies, from the runtime's lock file

const cacheName = (pyodideVersion) => `tinytorch-pyodide-${pyodideVersion}`;
const DIGEST_HEADER = "x-tinytorch-sha256";

async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The saved snapshot's bytes, if they are exactly the bytes that were saved. */
async function checkedBytes(saved) {
  const bytes = new Uint8Array(await saved.arrayBuffer());
  if ((await sha256(bytes)) !== saved.headers.get(DIGEST_HEADER)) throw new Error("the saved snapshot is damaged");
  return bytes;
}

async function save(cache, key, snapshot) {
  const headers = { [DIGEST_HEADER]: await sha256(snapshot) };
  await cache.put(key, new Response(snapshot, { headers }));
}

async function openCache(pyodideVersion) {
  try {
    return await caches.open(cacheName(pyodideVersion));
  } catch {
    return null; // no Cache Storage here (private modes, storage disabled): start normally every time
  }
}

/** The wheels of `names` and their dependencies, as listed in the runtime's lock file. */
async function wheelsOf(pyodideUrl, names) {
  const response = await fetch(`${pyodideUrl}pyodide-lock.json`);
  if (!response.ok) throw new Error(`could not load the runtime's package list (${response.status})`);
  const { packages } = await response.json();
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

/** Unpack the wheels into site-packages, each checked against its sha256 in the lock file (as loadPackage does). */
async function installWheels(py, pyodideUrl, wheels) {
  const files = await Promise.all(wheels.map(async (wheel) => {
    const response = await fetch(pyodideUrl + wheel.file_name, { integrity: `sha256-${base64OfHex(wheel.sha256)}` });
    if (!response.ok) throw new Error(`could not load ${wheel.file_name} (${response.status})`);
    return new Uint8Array(await response.arrayBuffer());
  }));
  const sitePackages = py.runPython("import sysconfig; sysconfig.get_path('purelib')");
  files.forEach((file) => py.unpackArchive(file, "zip", { extractDir: sitePackages }));
}

// Every part of pytest, so that neither the first test run nor the integrity fingerprint waits for an import.
const IMPORT_PYTEST = `
import importlib, pkgutil, _pytest, pytest
for part in pkgutil.walk_packages(_pytest.__path__, "_pytest."):
    importlib.import_module(part.name)
`;

/** A started Python with pytest installed and imported: restored from the saved snapshot if there is a usable one,
 * else started normally (and a snapshot saved for next time). Returns {py, from: "snapshot" | "start"}. */
export async function startPython(loadPyodide, { pyodideUrl, pyodideVersion, options }) {
  const wheels = await wheelsOf(pyodideUrl, PURE_PACKAGES);
  const key = new URL(`memory-snapshot-${RECIPE}-${wheels.map((w) => w.file_name).sort().join("+")}`, pyodideUrl).href;
  const cache = await openCache(pyodideVersion);
  const saved = cache && (await cache.match(key).catch(() => null));
  if (saved) {
    try {
      const py = await loadPyodide({ ...options, _loadSnapshot: await checkedBytes(saved) });
      await installWheels(py, pyodideUrl, wheels);
      // Every restore would otherwise share one random state (and hash seed) with all the others.
      py.runPython("import random; random.seed()");
      return { py, from: "snapshot" };
    } catch (error) {
      console.warn("Python snapshot not usable, starting normally:", error);
      await cache.delete(key).catch(() => {});
    }
  }
  const py = await loadPyodide({ ...options, _makeSnapshot: true });
  await installWheels(py, pyodideUrl, wheels);
  py.runPython(IMPORT_PYTEST);
  if (cache) {
    // Not awaited: writing ~25 MB must not delay the learner, and a failed write (quota) just means no snapshot.
    save(cache, key, py.makeMemorySnapshot()).catch(() => {});
  }
  return { py, from: "start" };
}
