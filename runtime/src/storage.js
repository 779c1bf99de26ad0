// The learner's work in the browser's local storage, under a versioned schema.
// Keys are namespaced by the site's path, so two courses on one origin never overwrite each other. When storage is
// disabled or full, work continues in memory and the page says so; unreadable data is moved aside, never deleted.

export const SCHEMA = 1;

export const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// The type of each field the pages read from saved progress. A record of another shape (another app's, or a
// damaged one) is refused before it reaches a page, where, say, a text `seconds` would throw.
const MODULE_FIELDS = { started: "boolean", passed: "boolean", passedAt: "string", passedHash: "string",
  source: "string", lastRun: "object", results: "object" };
const RUN_FIELDS = { passed: "number", total: "number", at: "string" };
const MILESTONE_FIELDS = { value: "number", passed: "boolean", stopped: "boolean", error: "string", seconds: "number",
  metric: "string", at: "string", peakWasmBytes: "number", best: "object" };
const fits = (record, fields) => isObject(record) &&
  Object.entries(fields).every(([name, type]) => record[name] == null || typeof record[name] === type);
const validMilestone = (m) => fits(m, MILESTONE_FIELDS) && (m.best == null || fits(m.best, MILESTONE_FIELDS));

/** A short fingerprint of a text (cyrb53): which code passed its tests, without keeping a copy of it. */
export function codeHash(text) {
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** The better of two milestone results: a success beats none, then the higher measured value. */
function better(a, b) {
  if (!a) return b;
  if (a.passed !== b.passed) return a.passed ? a : b;
  return (b.value ?? -Infinity) > (a.value ?? -Infinity) ? b : a;
}

export const validCode = (record) => typeof record.code === "string" &&
  fits(record, { starterHash: "string", updatedAt: "string" });

export const validProgress = (progress) => isObject(progress.modules) && isObject(progress.milestones) &&
  Object.values(progress.modules).every((m) => fits(m, MODULE_FIELDS) &&
    (m.lastRun == null || fits(m.lastRun, RUN_FIELDS))) &&
  Object.values(progress.milestones).every(validMilestone);

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

  /** Keep the latest attempt, and beside it the best one so far (a stopped or failed run never hides a success). */
  saveMilestone(milestoneId, result) {
    const progress = this.progress();
    const previous = progress.milestones[milestoneId];
    const { best: _, ...earlierBest } = previous ? previous.best || previous : {};
    progress.milestones[milestoneId] = { ...result, best: better(previous ? earlierBest : null, result) };
    return this.store.write("progress", progress);
  }

  /** Record a test run of a module: `code` is the exact code the tests ran on. */
  recordTests(moduleId, code, result) {
    const at = new Date().toISOString();
    const c = result.counts;
    return this.updateModule(moduleId, { started: true, passed: result.passed,
      lastRun: { passed: c.passed, total: c.total, at },
      ...(result.passed ? { passedAt: at, passedHash: codeHash(code) } : {}) });
  }

  /** Whether the learner's saved code of a module passed its tests as it is now (the same code, by hash). */
  passes(moduleId) {
    const saved = this.code(moduleId);
    const progress = this.progress().modules[moduleId] || {};
    if (!saved) return false;
    // Progress saved before hashes were kept says only whether the last test run passed.
    return progress.passedHash ? progress.passedHash === codeHash(saved.code) : progress.passed === true;
  }

  /** What later modules and milestones use for a module when the learner has not chosen: their own code once it
   * passed its tests exactly as saved, else the reference; with the reason, for the page to say. */
  automaticSource(moduleId) {
    if (!this.code(moduleId)) return { source: "reference", why: "you have not written this module yet" };
    if (this.passes(moduleId)) return { source: "mine", why: "it passes its tests" };
    return { source: "reference", why: (this.progress().modules[moduleId] || {}).passedHash
      ? "your code changed since it last passed its tests" : "your code does not pass its tests yet" };
  }

  /** {source: "mine" | "reference", why, chosen}: the learner's explicit choice if any, else automaticSource. */
  sourceOf(moduleId) {
    const chosen = (this.progress().modules[moduleId] || {}).source;
    if (chosen === "reference") return { source: "reference", why: "you chose the reference", chosen: true };
    if (chosen === "mine" && this.code(moduleId)) {
      return { source: "mine", chosen: true,
        why: this.passes(moduleId) ? "you chose it; it passes its tests" : "you chose it; it does not pass its tests yet" };
    }
    return { ...this.automaticSource(moduleId), chosen: false };
  }

  source(moduleId) {
    return this.sourceOf(moduleId).source;
  }

  /** Use `source` for the module from now on; a choice equal to the automatic one is not kept as a choice. */
  chooseSource(moduleId, source) {
    return this.updateModule(moduleId, { source: source === this.automaticSource(moduleId).source ? undefined : source });
  }
}
