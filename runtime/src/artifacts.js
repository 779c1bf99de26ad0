// Artifacts: named arrays a run saves in Python (tinytorch_wasm.artifacts.save), such as the GPT the 2017 milestone
// trains, kept in this browser's IndexedDB (localStorage holds a few MB of text; weights are binary and can be
// larger) so later pages reuse them. A page declares the artifacts it reads (`artifacts = [...]` in module.toml or
// milestone.toml); its requests carry those to Python. When IndexedDB is disabled or full, a new artifact is kept
// in memory for this page and the page says so; an earlier saved copy is never touched by a failed write.
import { el, bytes } from "./ui.js";

const VERSION = 1;
const STORE = "artifacts";

function toBase64(buffer) {
  const data = new Uint8Array(buffer);
  let text = "";
  for (let i = 0; i < data.length; i += 0x8000) text += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text) {
  const raw = atob(text);
  const data = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
  return data.buffer;
}

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

export class ArtifactStore extends EventTarget {
  constructor(namespace) {
    super();
    this.name = `tinytorch-artifacts:${namespace}`;
    this.memory = new Map(); // what storage refused: used on this page, read before storage
    this.status = "ok"; // ok | unavailable | full
  }

  setStatus(status, error) {
    this.status = status;
    this.error = error ? String(error.message || error) : "";
  }

  /** The database, or null when this browser will not give one (disabled storage, some private modes). */
  open() {
    if (!this.db) {
      this.db = new Promise((resolve) => {
        try {
          const request = indexedDB.open(this.name, VERSION);
          request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "name" });
          request.onsuccess = () => resolve(request.result);
          request.onerror = () => {
            this.setStatus("unavailable", request.error);
            resolve(null);
          };
          request.onblocked = () => resolve(null);
        } catch (error) {
          this.setStatus("unavailable", error);
          resolve(null);
        }
      });
    }
    return this.db;
  }

  /** {name, bytes, meta, arrays, savedAt, data: ArrayBuffer, stored: bool} or undefined. */
  async get(name) {
    if (this.memory.has(name)) return this.memory.get(name);
    const db = await this.open();
    if (!db) return undefined;
    try {
      const record = await done(db.transaction(STORE).objectStore(STORE).get(name));
      return record && record.data instanceof ArrayBuffer ? { ...record, stored: true } : undefined;
    } catch (error) {
      this.setStatus("unavailable", error);
      return undefined;
    }
  }

  /** Keep `record`; resolves true when it is in storage, false when only in memory (see status). */
  async put(record) {
    const db = await this.open();
    if (db) {
      try {
        const tx = db.transaction(STORE, "readwrite");
        tx.objectStore(STORE).put(record);
        await new Promise((resolve, reject) => {
          tx.oncomplete = resolve;
          tx.onerror = tx.onabort = () => reject(tx.error || new Error("the write was aborted"));
        });
        this.memory.delete(record.name);
        this.setStatus("ok");
        return true;
      } catch (error) {
        this.setStatus(error && error.name === "QuotaExceededError" ? "full" : "unavailable", error);
      }
    }
    this.memory.set(record.name, { ...record, stored: false });
    return false;
  }

  /** An artifact Python sent (an "artifact" event: its description and the file as base64). */
  async receive(payload) {
    const { data, ...info } = payload;
    const record = { ...info, savedAt: new Date().toISOString(), data: fromBase64(data) };
    const stored = await this.put(record);
    this.dispatchEvent(new CustomEvent("saved", { detail: { record: { ...record, stored }, stored } }));
    return stored;
  }

  /** Store every artifact that Python sends through `runtime`, on any page. */
  listen(runtime) {
    runtime.addEventListener("python-event", ({ detail }) => {
      if (detail.kind === "artifact") this.receive(detail.payload);
    });
  }

  /** {name: base64} of the artifacts among `names` that exist, for a request's payload. */
  async forRequest(names) {
    const carried = {};
    for (const name of names) {
      const record = await this.get(name);
      if (record) carried[name] = toBase64(record.data);
    }
    return carried;
  }
}

/** One line per artifact a page reads: saved (size, when, what its run measured) or not yet; a warning when the
 * browser would not store one. */
export class ArtifactNotice {
  constructor(container, { store, names, describe = (name) => name, missing = "none saved yet" }) {
    Object.assign(this, { store, names, describe, missing });
    this.node = el("div", { class: "tt-artifacts", role: "status" });
    container.append(this.node);
    store.addEventListener("saved", () => this.render());
    this.render();
  }

  async render() {
    // Renders overlap (each awaits storage): only the latest may draw, or a slow read of the older state would
    // overwrite the newer one.
    const turn = (this.turn = (this.turn || 0) + 1);
    const lines = [];
    for (const name of this.names) {
      const r = await this.store.get(name);
      if (!r) {
        lines.push(el("p", { "data-artifact": name, "data-state": "missing" }, `${this.describe(name)}: ${this.missing}.`));
        continue;
      }
      const when = new Date(r.savedAt).toLocaleString();
      const text = r.stored
        ? `${this.describe(name)}: saved in this browser, ${bytes(r.bytes)} (${when}).`
        : `${this.describe(name)} (${bytes(r.bytes)}) could not be saved in this browser: its storage ` +
          `${this.store.status === "full" ? "is full" : "is unavailable (disabled or blocked)"}. They stay ` +
          "usable on this page until you leave it; an earlier saved copy, if there was one, is unchanged.";
      lines.push(el("p", { "data-artifact": name, "data-state": r.stored ? "saved" : "memory",
        class: r.stored ? "" : "admonition warning" }, text));
    }
    if (turn === this.turn) this.node.replaceChildren(...lines);
  }
}
