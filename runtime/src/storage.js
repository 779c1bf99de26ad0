// The learner's work in the browser's local storage, under a versioned schema.
// Keys are namespaced by the site's path, so two courses on one origin never overwrite each other. When storage is
// disabled or full, work continues in memory and the page says so; unreadable data is moved aside, never deleted.

export const SCHEMA = 1;

export class Store extends EventTarget {
  constructor(namespace) {
    super();
    this.prefix = `tinytorch/v${SCHEMA}:${namespace}:`;
    this.memory = new Map(); // what could not be written; read before storage
    this.status = "ok"; // ok | unavailable | full
    try {
      this.backend = window.localStorage;
      const probe = this.prefix + "probe";
      this.backend.setItem(probe, "1");
      this.backend.removeItem(probe);
    } catch (error) {
      // Full storage can still be read (and may free up); disabled storage cannot be touched at all.
      const full = error && error.name === "QuotaExceededError";
      if (!full) this.backend = null;
      this.setStatus(full ? "full" : "unavailable", error);
    }
    window.addEventListener("storage", (event) => {
      if (event.key && event.key.startsWith(this.prefix)) {
        const key = event.key.slice(this.prefix.length);
        this.dispatchEvent(new CustomEvent("external-change", { detail: { key, value: this.read(key) } }));
      }
    });
  }

  setStatus(status, error) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, error: error && String(error) } }));
  }

  read(key) {
    if (this.memory.has(key)) return this.memory.get(key);
    if (!this.backend) return undefined;
    let raw;
    try {
      raw = this.backend.getItem(this.prefix + key);
    } catch (error) {
      this.setStatus("unavailable", error);
      return undefined;
    }
    if (raw === null) return undefined;
    try {
      const value = JSON.parse(raw);
      if (value && value.schema === SCHEMA) return value;
      throw new Error("not this course's data");
    } catch (error) {
      this.quarantine(key, raw, error);
      return undefined;
    }
  }

  /** Save `value`; returns false when it could only be kept in memory (the page warns). */
  write(key, value) {
    const record = { ...value, schema: SCHEMA };
    if (this.backend) {
      try {
        this.backend.setItem(this.prefix + key, JSON.stringify(record));
        this.memory.delete(key);
        if (this.status === "full") this.setStatus("ok");
        return true;
      } catch (error) {
        this.setStatus(error && error.name === "QuotaExceededError" ? "full" : "unavailable", error);
      }
    }
    this.memory.set(key, record);
    return false;
  }

  remove(key) {
    this.memory.delete(key);
    try {
      if (this.backend) this.backend.removeItem(this.prefix + key);
    } catch (error) {
      this.setStatus("unavailable", error);
    }
  }

  /** Keep unreadable data under another key so nothing is lost, and tell the page. */
  quarantine(key, raw, error) {
    const aside = `${this.prefix}unreadable:${key}:${Date.now()}`;
    try {
      this.backend.setItem(aside, raw);
      this.backend.removeItem(this.prefix + key);
    } catch {
      /* leave it where it is: still not lost */
    }
    this.dispatchEvent(new CustomEvent("unreadable", { detail: { key, aside, error: String(error) } }));
  }
}

/** The course's records: each module's code, and progress (choices, test results, milestones). */
export class CourseState {
  constructor(store) {
    this.store = store;
  }

  code(moduleId) {
    return this.store.read(`module/${moduleId}`);
  }

  saveCode(moduleId, code, starterHash) {
    return this.store.write(`module/${moduleId}`, { code, starterHash, updatedAt: new Date().toISOString() });
  }

  resetCode(moduleId) {
    this.store.remove(`module/${moduleId}`);
  }

  progress() {
    return this.store.read("progress") || { modules: {}, milestones: {} };
  }

  updateModule(moduleId, change) {
    const progress = this.progress();
    progress.modules[moduleId] = { ...(progress.modules[moduleId] || {}), ...change };
    return this.store.write("progress", progress);
  }

  saveMilestone(milestoneId, result) {
    const progress = this.progress();
    progress.milestones[milestoneId] = result;
    return this.store.write("progress", progress);
  }

  /** Which source a module's file comes from when a later module runs: the learner's own, or the reference. */
  source(moduleId) {
    const chosen = (this.progress().modules[moduleId] || {}).source;
    if (chosen) return chosen;
    return this.code(moduleId) ? "mine" : "reference";
  }
}
