// The learner's work in the browser's local storage, under a versioned schema.
// Keys are namespaced by the site's path, so two courses on one origin never overwrite each other. When storage is
// disabled or full, work continues in memory and the page says so; unreadable data is moved aside, never deleted.

export const SCHEMA = 1;

export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The type of each field the pages read from saved progress. A record of another shape (another app's, or a
// damaged one) is refused before it reaches a page, where, say, a text `seconds` would throw.
const MODULE_FIELDS = { started: "boolean", passed: "boolean", passedAt: "string", source: "string",
  lastRun: "object" };
const RUN_FIELDS = { passed: "number", total: "number", at: "string" };
const MILESTONE_FIELDS = { value: "number", passed: "boolean", stopped: "boolean", error: "string", seconds: "number",
  metric: "string", at: "string", peakWasmBytes: "number" };
const fits = (record, fields) => isObject(record) &&
  Object.entries(fields).every(([name, type]) => record[name] == null || typeof record[name] === type);

export const validCode = (record) => typeof record.code === "string" &&
  fits(record, { starterHash: "string", updatedAt: "string" });

export const validProgress = (progress) => isObject(progress.modules) && isObject(progress.milestones) &&
  Object.values(progress.modules).every((m) => fits(m, MODULE_FIELDS) &&
    (m.lastRun == null || fits(m.lastRun, RUN_FIELDS))) &&
  Object.values(progress.milestones).every((m) => fits(m, MILESTONE_FIELDS));

export class Store extends EventTarget {
  constructor(namespace) {
    super();
    this.prefix = `tinytorch/v${SCHEMA}:${namespace}:`;
    this.memory = new Map(); // what could not be written; read before storage
    this.status = "ok"; // ok | unavailable | full
    this.unreadable = []; // what was kept aside, for pages set up after it happened: [{key, aside}]
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
        // Listeners read the new value themselves, each with its own check of what it should hold.
        const key = event.key.slice(this.prefix.length);
        this.dispatchEvent(new CustomEvent("external-change", { detail: { key } }));
      }
    });
  }

  setStatus(status, error) {
    if (this.status === status) return;
    this.status = status;
    this.dispatchEvent(new CustomEvent("status", { detail: { status, error: error && String(error) } }));
  }

  /** The record under `key`, if it is this course's and `valid`; anything else is kept aside and not returned. */
  read(key, valid = () => true) {
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
      if (isObject(value) && value.schema === SCHEMA && valid(value)) return value;
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
    this.unreadable.push({ key, aside });
    this.dispatchEvent(new CustomEvent("unreadable", { detail: { key, aside, error: String(error) } }));
  }
}

/** The course's records: each module's code, and progress (choices, test results, milestones). */
export class CourseState {
  constructor(store) {
    this.store = store;
  }

  code(moduleId) {
    return this.store.read(`module/${moduleId}`, validCode);
  }

  saveCode(moduleId, code, starterHash) {
    return this.store.write(`module/${moduleId}`, { code, starterHash, updatedAt: new Date().toISOString() });
  }

  resetCode(moduleId) {
    this.store.remove(`module/${moduleId}`);
  }

  progress() {
    return this.store.read("progress", validProgress) || { modules: {}, milestones: {} };
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
