// Where the Python worker keeps its memory snapshots (runtime/src/snapshot.js), by Pyodide version, so that a new
// Pyodide leaves the old one's snapshots behind:
// - files in the origin's private file system (OPFS), a folder per version, the first save under a new version
//   deleting the others' folders;
// - where a browser offers no OPFS to the worker (WebKitGTK here), entries in the runtime's Cache Storage, which the
//   service worker drops with its Pyodide version.
//
// Why files first: a warm visit waits for the snapshot's tens of MB. From a file, a worker reads them in one
// synchronous call (about 26 ms for 44 MB in Chromium); a Cache Storage body comes in chunks, each waiting for the
// worker's busy event loop while Pyodide compiles beside it (0.6-0.9 s measured there).
//
// A synchronous access handle is exclusive: when another tab holds one, reading falls back to the file's shared,
// asynchronous read. Writing prefers createWritable, which writes off the worker's thread (a Run tests clicked just
// after a first start is not kept waiting) and replaces the file only once it is whole. Older Safari returns
// promises from the synchronous handle's methods, hence the awaits.

const FOLDER_PREFIX = "tinytorch-pyodide-";

async function syncHandle(file) {
  try {
    return await file.createSyncAccessHandle();
  } catch {
    return null; // held by another tab, or not offered here
  }
}

class FileStore {
  constructor(root, folder) {
    this.root = root;
    this.folder = folder;
  }

  async file(name, create = false) {
    try {
      return await this.folder.getFileHandle(name, { create });
    } catch {
      return null;
    }
  }

  /** The file's bytes, or null when there is no such file. */
  async read(name) {
    const file = await this.file(name);
    if (!file) return null;
    const handle = await syncHandle(file);
    if (!handle) return new Uint8Array(await (await file.getFile()).arrayBuffer());
    try {
      const bytes = new Uint8Array(await handle.getSize());
      await handle.read(bytes, { at: 0 });
      return bytes;
    } finally {
      await handle.close();
    }
  }

  /** Whether there is a file of that name with something in it: a write cut short before createWritable's close
   * leaves an empty one. */
  async has(name) {
    const file = await this.file(name);
    return Boolean(file) && (await file.getFile()).size > 0;
  }

  /** Write the file whole; on a failure (a full disk, the quota, another tab holding it) nothing usable is left. */
  async write(name, bytes) {
    const file = await this.file(name, true);
    if (!file) throw new Error(`cannot create ${name}`);
    if (typeof file.createWritable === "function") {
      const writable = await file.createWritable();
      try {
        await writable.write(bytes);
      } catch (error) {
        await writable.abort(); // the file keeps what it had
        throw error;
      }
      await writable.close();
    } else {
      await this.writeInPlace(file, name, bytes);
    }
    await this.dropOtherVersions();
  }

  /** Without createWritable a failure can leave part of the file: its checksum then rejects it. */
  async writeInPlace(file, name, bytes) {
    const handle = await syncHandle(file);
    if (!handle) throw new Error(`cannot write ${name} now`);
    try {
      await handle.truncate(0);
      if ((await handle.write(bytes, { at: 0 })) !== bytes.length) throw new Error(`${name} was not written whole`);
      await handle.flush();
    } catch (error) {
      await handle.close();
      await this.remove(name);
      throw error;
    }
    await handle.close();
  }

  async remove(name) {
    await this.folder.removeEntry(name).catch(() => {});
  }

  /** Remove every file whose name starts with `prefix`, except `keep`. */
  async removeOthers(prefix, keep) {
    for await (const [name] of this.folder.entries()) {
      if (name.startsWith(prefix) && name !== keep) await this.remove(name);
    }
  }

  async dropOtherVersions() {
    for await (const [name] of this.root.entries()) {
      if (name.startsWith(FOLDER_PREFIX) && name !== this.folder.name) {
        await this.root.removeEntry(name, { recursive: true }).catch(() => {});
      }
    }
  }
}

class CacheStore {
  constructor(cache, base) {
    this.cache = cache;
    this.base = base;
  }

  async read(name) {
    const response = await this.cache.match(this.base + name);
    return response ? new Uint8Array(await response.arrayBuffer()) : null;
  }

  async has(name) {
    return Boolean(await this.cache.match(this.base + name).catch(() => null));
  }

  async write(name, bytes) {
    await this.cache.put(this.base + name, new Response(bytes));
  }

  async remove(name) {
    await this.cache.delete(this.base + name).catch(() => {});
  }

  async removeOthers(prefix, keep) {
    for (const request of await this.cache.keys()) {
      const name = request.url.startsWith(this.base) ? request.url.slice(this.base.length) : "";
      if (name.startsWith(prefix) && name !== keep) await this.remove(name);
    }
  }
}

/** The store for this Pyodide version's snapshots (`pyodideUrl`: where its files are), or null where the browser
 * offers neither (private modes, storage disabled): then Python starts normally every time. */
export async function openSnapshotStore(pyodideVersion, pyodideUrl) {
  try {
    if (typeof FileSystemFileHandle.prototype.createSyncAccessHandle === "function") {
      const root = await navigator.storage.getDirectory();
      return new FileStore(root, await root.getDirectoryHandle(FOLDER_PREFIX + pyodideVersion, { create: true }));
    }
  } catch {
    // no OPFS in this worker: Cache Storage below
  }
  try {
    return new CacheStore(await caches.open(FOLDER_PREFIX + pyodideVersion), `${pyodideUrl}snapshots/`);
  } catch {
    return null;
  }
}
