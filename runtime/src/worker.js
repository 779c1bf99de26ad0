// The Python side of the tab: Pyodide in a module Web Worker, so the page never freezes.
// It boots as soon as it starts (its own URL says which Pyodide and course version: `worker.js?v=..&pyodide=..`,
// so the page can start it from its head): Pyodide, NumPy and pytest from the site itself (never another host),
// then the course archive. Then it answers one request at a time by calling tinytorch_wasm.tab.handle. Everything it does with the learner's
// code is in Python; this file only moves messages and output.
import "./locale.js"; // before Pyodide: a browser language tag Intl refuses would stop Python starting
import { startPython, SnapshotUnusable } from "./snapshot.js";
import { unzipInto } from "./unzip.js";
import { refuseOtherHosts } from "./offline-guard.js";

import { registerKernels } from "./kernels.js"; // compiled WebAssembly kernels for Python (tinytorch_wasm.kernels)

const OUTPUT_LIMIT = 1_000_000; // characters of stdout/stderr kept per request; the rest is counted, not sent
const FLUSH_MS = 50;

let handle; // tinytorch_wasm.tab.handle, once booted
let changedSinceBoot; // what learner code changed in the harness, pytest or /course (tinytorch_wasm.integrity)
let current = null; // the request being run: {id, pending: [], sent, dropped, lastFlush}

// Saving a first start's snapshot holds this thread for a while (packing and hashing some 60 MB): it waits until no
// request has come for a moment, so that a Run tests clicked just after Python is ready does not wait for it.
const SAVE_WHEN_QUIET_MS = 1500;
let unsaved = null; // {save, timer} until the snapshot is saved

function saveWhenQuiet() {
  clearTimeout(unsaved.timer);
  unsaved.timer = setTimeout(() => {
    const { save } = unsaved;
    unsaved = null;
    save();
  }, SAVE_WHEN_QUIET_MS);
}

function post(message) {
  self.postMessage(message);
}

function flush() {
  if (!current || current.pending.length === 0) return;
  post({ type: "output", id: current.id, chunks: current.pending });
  current.pending = [];
  current.lastFlush = performance.now();
}

function write(stream, text) {
  if (!current) return;
  const room = OUTPUT_LIMIT - current.sent;
  if (text.length > room) {
    current.dropped += 1;
    if (room <= 0) return;
    text = text.slice(0, room); // the start of one huge line is still worth showing
  }
  current.sent += text.length;
  const last = current.pending[current.pending.length - 1];
  if (last && last.stream === stream) last.text += text;
  else current.pending.push({ stream, text });
  // Python runs synchronously here, so timers never fire while it runs: flush from inside the write instead.
  if (performance.now() - current.lastFlush > FLUSH_MS) flush();
}

refuseOtherHosts((text) => write("stderr", text + "\n"));

/** Where this worker's runtime and course are: the site root is two folders up from assets/tt/worker.js. */
function siteUrls() {
  const here = new URL(self.location.href);
  const root = new URL("../../", here);
  const pyodideVersion = here.searchParams.get("pyodide");
  return { pyodideVersion, pyodideUrl: new URL(`pyodide/${pyodideVersion}/`, root).href,
    courseVersion: here.searchParams.get("v"),
    courseUrl: new URL(`course/course.zip?v=${here.searchParams.get("v")}`, root).href,
    restoreSnapshot: here.searchParams.get("snapshot") !== "off" };
}

// A first start waits for the page to say it has settled before downloading Python (runtime/src/snapshot.js says
// why); never longer than this, whatever becomes of the page.
const PAGE_SETTLED_LATEST_MS = 3000;
let pageHasSettled;
const pageSettled = new Promise((resolve) => { pageHasSettled = resolve; });
setTimeout(pageHasSettled, PAGE_SETTLED_LATEST_MS);

let interruptBuffer = null; // sent by the page when it is cross-origin isolated; applied once Python exists

function setInterruptBuffer(buffer) {
  interruptBuffer = buffer;
  if (self.pyodide) self.pyodide.setInterruptBuffer(buffer);
}

/** The course unpacked and its harness imported: done before the Python snapshot is taken, so a warm visit
 * restores both (the snapshot's name carries the course's version). Returns the paths of the files written. */
async function prepareCourse(py, course) {
  const files = await unzipInto(py, new Uint8Array(await course), "/course");
  // No bytecode caches: then every file under /course is one the archive holds, and any other was planted.
  py.runPython("import sys; sys.dont_write_bytecode = True; sys.path.insert(0, '/course')");
  py.runPython("import tinytorch_wasm.tab, tinytorch_wasm.integrity");
  return files;
}

async function boot({ pyodideUrl, pyodideVersion, courseVersion, courseUrl, restoreSnapshot }) {
  const started = performance.now();
  const timings = {};
  post({ type: "progress", step: 1, of: 4, text: "Starting Python, NumPy and pytest" });
  let course; // fetched only for a start that unpacks it: a restored Python already holds the course's files
  const fetchCourse = () => (course ??= fetch(courseUrl).then((r) => {
    if (!r.ok) throw new Error(`could not load the course files (${r.status} ${courseUrl})`);
    return r.arrayBuffer();
  }));
  const loadPyodide = import(pyodideUrl + "pyodide.mjs").then((pyodide) => pyodide.loadPyodide);
  loadPyodide.catch(() => {}); // awaited in startPython, after the package list it fetches meanwhile
  const options = { indexURL: pyodideUrl, fullStdLib: false };
  const { py, from, holds, timings: start, saveSnapshot } = await startPython(loadPyodide, { pyodideUrl,
    pyodideVersion, options, prepare: (py) => prepareCourse(py, fetchCourse()), prepared: `course-${courseVersion}`,
    willPrepare: () => fetchCourse().catch(() => {}), // awaited by prepare
    restore: restoreSnapshot, pageSettled });
  timings.python = performance.now() - started;
  Object.assign(timings, { pythonFrom: from, snapshotHolds: holds, start });

  post({ type: "progress", step: 3, of: 4, text: "Preparing the course" });
  py.setStdout({ batched: (line) => write("stdout", line + "\n") });
  py.setStderr({ batched: (line) => write("stderr", line + "\n") });
  py.registerJsModule("tt_host", {
    crossOriginIsolated: self.crossOriginIsolated === true, // read here: getters fail through Python's `js` proxy
    emit: (kind, json) => {
      flush();
      post({ type: "event", id: current && current.id, kind, payload: JSON.parse(json) });
    },
  });
  registerKernels(py); // after any snapshot was taken: a snapshot holds Python's memory, not linked modules
  handle = py.pyimport("tinytorch_wasm.tab").handle; // imported by prepareCourse
  handle(JSON.stringify({ action: "warm_up", payload: {} })); // import pytest and NumPy now, not at the first click
  const versions = JSON.parse(handle(JSON.stringify({ action: "versions", payload: {} }))).result;
  timings.total = performance.now() - started;
  timings.harness = timings.total - timings.python;
  post({ type: "progress", step: 4, of: 4, text: "Ready" });
  post({ type: "ready", timings, versions });
  // Taken after saying ready (20-90 ms, not on the learner's wait) and still before any learner code: this runs on
  // in the same task, so the first request is only handled after it.
  changedSinceBoot = py.pyimport("tinytorch_wasm.integrity").Fingerprint("/course").changed;
  self.pyodide = py;
  if (interruptBuffer) py.setInterruptBuffer(interruptBuffer);
  if (saveSnapshot) { // taken before the course was loaded; written later, off the learner's wait
    unsaved = { save: saveSnapshot };
    saveWhenQuiet();
  }
}

function run({ id, action, payload }) {
  current = { id, pending: [], sent: 0, dropped: 0, lastFlush: performance.now() };
  post({ type: "started", id }); // Stop's grace counts from here, not from a wait in this worker's queue
  let reply;
  try {
    reply = JSON.parse(handle(JSON.stringify({ action, payload })));
  } catch (error) {
    // Python itself failed (not the learner's code, which tab.handle catches): the runtime may be unusable.
    flush();
    post({ type: "fatal", id, error: String(error && error.message ? error.message : error) });
    current = null;
    return;
  }
  flush();
  const changed = withoutInterrupts(tampered);
  if (changed.length) reply = tamperedReply(action, changed);
  reply.droppedWrites = current.dropped;
  reply.wasmHeapBytes = self.pyodide._module.HEAP8.length;
  current = null;
  post({ type: "result", id, reply });
  if (unsaved) saveWhenQuiet();
}

/** `check()` with Stop held off: a Stop that lands once the learner's run has returned has nothing left to stop,
 * and its KeyboardInterrupt must not fail the course's own check (which would read as tampering). */
function withoutInterrupts(check) {
  if (!interruptBuffer) return check();
  self.pyodide.setInterruptBuffer(undefined);
  try {
    return check();
  } finally {
    interruptBuffer[0] = 0; // the page then takes the run's result as the answer to its Stop
    self.pyodide.setInterruptBuffer(interruptBuffer);
  }
}

/** What learner code changed that decides test results; anything at all means this Python is not to be trusted. */
function tampered() {
  try {
    const changed = changedSinceBoot();
    const names = changed.toJs();
    changed.destroy();
    return names;
  } catch (error) {
    return [`the integrity check itself (${String(error && error.message ? error.message : error).slice(-200)})`];
  }
}

function tamperedReply(action, changed) {
  const shown = changed.slice(0, 3).join(", ") + (changed.length > 3 ? ` and ${changed.length - 3} more` : "");
  const what = action === "test" ? "The test run was tampered with, so its result is not shown: your code"
    : "Your code";
  return { ok: false, tampered: changed, error: `${what} changed the course's own test machinery or files ` +
    `(${shown}). Python is being restarted with a clean copy; remove that code and run again.` };
}

self.onmessage = (event) => {
  const message = event.data;
  if (message.type === "interrupt-buffer") setInterruptBuffer(message.buffer);
  else if (message.type === "page-settled") pageHasSettled();
  else if (message.type === "request") run(message); // the page sends requests only once it heard "ready"
};

boot(siteUrls()).catch((error) => {
  const text = String(error && error.message ? error.message : error);
  // A restored Python that failed its checks is not to be trusted: the page replaces this worker.
  post({ type: error instanceof SnapshotUnusable ? "snapshot-unusable" : "boot-failed", error: text });
});
