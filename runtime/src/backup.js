// Export all of a learner's work and progress to one file, and import it back. An import is checked completely
// before anything is written; a file that is too large, unreadable, from another app or another schema version
// is refused with a message and changes nothing. What a valid file is lives in one JSON schema, which the grader
// (tinytorch_wasm/grading) reads too.
import { Validator } from "@cfworker/json-schema";
import exportSchema from "../../tinytorch_wasm/grading/export.schema.json";
import { SCHEMA, isObject } from "./storage.js";

export const FORMAT = exportSchema.properties.format.const;
export const MAX_BYTES = exportSchema["x-max-bytes"];
let validator = null; // compiled at the first import

/** The message for a file the schema refuses, from where its deepest error is. */
function damaged(errors) {
  const deepest = errors.reduce((a, b) => (b.instanceLocation.length > a.instanceLocation.length ? b : a));
  const [area, key] = deepest.instanceLocation.split("/").slice(1).map(decodeURIComponent);
  if (area === "modules" && key !== undefined) return `module ${key.slice(0, 20)} in the backup is damaged`;
  if (area === "progress") return "the progress in the backup is damaged";
  return "the backup is incomplete or damaged";
}

export function exportWork(state, course) {
  const modules = {};
  for (const m of course.modules) {
    const saved = state.code(m.id);
    if (saved) modules[m.id] = { code: saved.code, starterHash: saved.starterHash, updatedAt: saved.updatedAt };
  }
  return { format: FORMAT, schema: SCHEMA, exportedAt: new Date().toISOString(), modules,
    progress: state.progress() };
}

export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Refuse a file by its size alone, before any of it is read. */
export function checkSize(bytes) {
  if (bytes > MAX_BYTES) throw new Error(`the file is too large (${(bytes / 1e6).toFixed(1)} MB; ` +
    `a course backup is at most ${MAX_BYTES / 1e6} MB)`);
}

/** The validated backup in `text`, or an Error whose message says what is wrong with the file. */
export function parseBackup(text, course) {
  checkSize(text.length);
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("the file is not a course backup (it is not valid JSON)");
  }
  if (!isObject(data) || data.format !== FORMAT) throw new Error("the file is not a TinyTorch course backup");
  if (data.schema !== exportSchema.properties.schema.const) {
    throw new Error(`the backup uses version ${JSON.stringify(data.schema)} of the format; this course reads ` +
      `version ${exportSchema.properties.schema.const}`);
  }
  if (!isObject(data.modules) || !isObject(data.progress)) throw new Error("the backup is incomplete or damaged");
  const known = new Set(course.modules.map((m) => m.id));
  const foreign = Object.keys(data.modules).find((id) => !known.has(id));
  if (foreign !== undefined) {
    throw new Error(`the backup holds a module this course does not have (${foreign.slice(0, 20)})`);
  }
  validator = validator || new Validator(exportSchema, "2020-12", false);
  const checked = validator.validate(data);
  if (!checked.valid) throw new Error(damaged(checked.errors));
  return data;
}

/** Replace the learner's work with the backup's; if storage refuses part of it, put everything back. */
export function restoreBackup(state, course, backup) {
  const before = { progress: state.progress(), codes: course.modules.map((m) => [m.id, state.code(m.id)]) };
  const writes = [() => state.store.write("progress", { modules: backup.progress.modules || {},
    milestones: backup.progress.milestones || {} })];
  for (const m of course.modules) {
    const record = backup.modules[m.id];
    writes.push(() => (record ? state.saveCode(m.id, record.code, record.starterHash) : (state.resetCode(m.id), true)));
  }
  if (writes.every((write) => write())) return;
  state.store.write("progress", before.progress);
  for (const [id, saved] of before.codes) saved ? state.saveCode(id, saved.code, saved.starterHash) : state.resetCode(id);
  throw new Error("the browser's storage refused to save it (full or disabled); nothing was changed");
}
