// The page's handle on the Python worker: start it, send requests, and stop runaway code.
// Stop tries the interrupt buffer first (needs cross-origin isolation). Python says when it raised the
// KeyboardInterrupt (tinytorch_wasm/tab.py), and is interrupted again every RETRY_MS until it does. If it has not
// within STOP_GRACE_MS, or it has and is still running WIND_DOWN_MS after, it gets one more interrupt, and if that
// does not end it within STOP_GRACE_MS either (or there is no buffer), the worker is terminated and a fresh one
// started. Requests carry the learner's files, so nothing has to be restored into the new worker.

const STOP_GRACE_MS = 1000;
// A freshly started Python sometimes handles an interrupt only when the next one comes (seen in full test runs:
// the buffer taken at once, KeyboardInterrupt raised only at the next interrupt; cause unknown).
const RETRY_MS = 200;
// After KeyboardInterrupt the harness still reports what ran before it (a milestone its partial curve): on a busy
// machine that can take longer than the grace itself, and a restart would throw that away.
const WIND_DOWN_MS = 5000;
// WebAssembly memory only ever grows: after a run leaves Python this big, a fresh Python gives the memory back to
// the computer (runs share no state, so nothing else is lost). 1 GB is a quarter of a 4 GB-class laptop.
const RELEASE_HEAP_BYTES = 1024 ** 3;

/** The worker the page head started (site/overrides/main.html), with what it said so far; once, and only if it is
 * the worker wanted here. */
function adoptEarlyWorker(workerUrl) {
  const early = self.ttEarlyWorker;
  if (!early || new URL(early.url, location.href).href !== new URL(workerUrl, location.href).href) return null;
  self.ttEarlyWorker = null;
  return early;
}

/** What a Stop did, in one sentence for the learner (after "Stopped: " or "Tests stopped: "). */
export function describeStop(reply) {
  if (reply.how !== "restart") return "Python was interrupted and is ready for the next run.";
  return (reply.ignored
    ? "Python took the interrupt and went on running (does your code catch KeyboardInterrupt, or everything with " +
      "a bare except:?), "
    : reply.interruptible
    ? "Python did not respond to the interrupt (it was busy inside NumPy or another compiled library), "
    : reply.noSharedMemory
      ? "this browser gives no way to interrupt Python (it has no SharedArrayBuffer, though the page is isolated), "
      : "this host gives no way to interrupt Python (it sends no cross-origin isolation headers), ") +
    "so it was restarted. Your code is safe.";
}

export class PythonRuntime extends EventTarget {
  constructor({ workerUrl }) {
    super();
    this.workerUrl = workerUrl;
    this.state = "idle"; // idle | starting | ready | busy | failed
    this.pending = null; // {id, resolve, onOutput, onEvent}
    this.nextId = 1;
    this.pageIsSettled = false; // told to each worker: a first start downloads Python only then (pageSettled)
    this.workersStarted = 0; // how many times Python was started in this tab (moving between pages must not add one)
    this.isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer !== "undefined";
    // WebKitGTK, for one, is cross-origin isolated and still has no SharedArrayBuffer: then the browser, not the
    // host, is why there is no interrupt.
    this.noSharedMemory = self.crossOriginIsolated === true && typeof SharedArrayBuffer === "undefined";
  }

  /** The page has drawn its panel: a first start of Python may now download it (runtime/src/snapshot.js). */
  pageSettled() {
    if (this.pageIsSettled) return;
    this.pageIsSettled = true;
    if (this.worker) this.worker.postMessage({ type: "page-settled" });
  }

  start() {
    if (this.worker) return this.readyPromise;
    this.interrupt = this.isolated ? new Uint8Array(new SharedArrayBuffer(1)) : null;
    const early = this.withoutSnapshot ? null : adoptEarlyWorker(this.workerUrl);
    // After a saved Python failed its checks, the next worker starts normally (runtime/src/snapshot.js).
    const url = this.withoutSnapshot ? `${this.workerUrl}&snapshot=off` : this.workerUrl;
    this.worker = early ? early.worker : new Worker(url, { type: "module" });
    this.workersStarted += 1;
    this.startedAt = early ? early.startedAt : performance.now();
    this.readyPromise = new Promise((resolve, reject) => {
      this.onReady = resolve;
      this.onBootFailed = reject;
    });
    this.readyPromise.catch(() => {}); // failures are reported through events too
    this.worker.onmessage = (event) => this.receive(event.data);
    this.worker.onerror = (event) => this.crashed(event.message || "the Python worker stopped unexpectedly");
    this.setState("starting");
    if (this.interrupt) this.worker.postMessage({ type: "interrupt-buffer", buffer: this.interrupt });
    if (this.pageIsSettled) this.worker.postMessage({ type: "page-settled" });
    for (const event of early ? early.events : []) {
      if (event.type === "error") this.worker.onerror(event);
      else this.worker.onmessage(event);
    }
    return this.readyPromise;
  }

  /** Resolves once Python can take a request: started, and no earlier request still running or being stopped (a
   * page left while its run went on stops it, and the next page is not ready before that Stop is done). */
  async whenIdle() {
    while (this.pending) await this.pending.done;
    return this.start();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.error = detail.error;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  receive(message) {
    const pending = this.pending && message.id === this.pending.id ? this.pending : null;
    switch (message.type) {
      case "started":
        if (pending) pending.startedAt = performance.now();
        break;
      case "progress":
        this.dispatchEvent(new CustomEvent("progress", { detail: message }));
        break;
      case "ready":
        this.readyAt = performance.now(); // since navigation: what a learner waits for, measured by the benchmark
        this.readyMs = this.readyAt - this.startedAt;
        this.versions = message.versions;
        this.timings = message.timings;
        this.setState("ready", { timings: message.timings, readyMs: this.readyMs });
        this.onReady(message);
        break;
      case "snapshot-unusable":
        console.warn(`Python snapshot: ${message.error}; starting Python normally`);
        if (!this.withoutSnapshot) {
          this.withoutSnapshot = true;
          this.replaceWorker();
          break;
        }
        this.setState("failed", { error: message.error });
        this.onBootFailed(new Error(message.error));
        break;
      case "boot-failed":
        this.setState("failed", { error: message.error });
        this.onBootFailed(new Error(message.error));
        break;
      case "output":
        if (pending && pending.onOutput) pending.onOutput(message.chunks);
        break;
      case "event":
        if (message.kind === "stop-taken") { // for stop(), not for the page
          if (pending) pending.raisedAt = performance.now();
          break;
        }
        if (pending && pending.onEvent) pending.onEvent(message.kind, message.payload);
        this.dispatchEvent(new CustomEvent("python-event", { detail: message }));
        break;
      case "result": {
        const reply = message.reply;
        const release = !reply.tampered && reply.wasmHeapBytes > RELEASE_HEAP_BYTES;
        if (pending) this.settle({ ...reply, memoryReleased: release });
        // Learner code that changed the harness leaves a Python only a fresh one can replace.
        if (reply.tampered || release) this.restart();
        break;
      }
      case "fatal":
        this.crashed(message.error);
        break;
    }
  }

  /** Run an action in the worker; resolves with {ok, result | error, stopped?, restarted?, tampered?}, and after a
   * Stop or time-out with its {reason, timedOut}. One at a time. */
  async request(action, payload, { onOutput, onEvent, timeoutMs } = {}) {
    if (this.pending) throw new Error("Python is busy: wait, or press Stop");
    await this.start();
    // What the page adds to every request: the saved artifacts it declares (main.js sets this up).
    if (this.attach) payload = { ...payload, ...(await this.attach(action)) };
    if (this.pending) throw new Error("Python is busy: wait, or press Stop");
    const id = this.nextId++;
    const reply = new Promise((resolve) => {
      this.pending = { id, resolve, onOutput, onEvent };
    });
    this.pending.done = reply;
    this.setState("busy");
    if (this.interrupt) this.interrupt[0] = 0; // a Stop that arrived after the last run ended must not hit this one
    this.worker.postMessage({ type: "request", id, action, payload });
    if (timeoutMs) {
      const timer = setTimeout(() => {
        if (this.pending && this.pending.id === id) this.stop(`took longer than ${timeoutMs / 1000} s`, true);
      }, timeoutMs);
      reply.finally(() => clearTimeout(timer));
    }
    return reply;
  }

  settle(reply) {
    const pending = this.pending;
    this.pending = null;
    if (this.state === "busy") this.setState("ready");
    pending.resolve({ ...reply, ...pending.stopped });
  }

  /** Stop the running request. Resolves with how it was stopped: "interrupt" or "restart". */
  async stop(reason = "you pressed Stop", timedOut = false) {
    if (!this.pending) return null;
    const pending = this.pending;
    pending.stopped = { stopped: true, how: "interrupt", reason, timedOut }; // the reply says why it ended early
    const started = performance.now();
    if (this.interrupt) {
      this.interrupt[0] = 2; // SIGINT: Python raises KeyboardInterrupt at its next check
      let settled = await this.settles(pending, started, WIND_DOWN_MS);
      // Raised and still running after the wind-down: one more interrupt, which code that caught the first only
      // does not survive, and code that catches every one does.
      if (!settled && pending.raisedAt !== undefined) {
        pending.raisedAt = undefined;
        this.interrupt[0] = 2;
        settled = await this.settles(pending, performance.now(), STOP_GRACE_MS);
      }
      if (settled) {
        this.interrupt[0] = 0;
        return { how: "interrupt", ms: performance.now() - started, reason };
      }
    }
    // Why it comes to a restart, for describeStop (read before the fresh worker brings a fresh buffer).
    const why = { interruptible: !!this.interrupt, ignored: !!this.interrupt && this.interrupt[0] === 0,
      noSharedMemory: this.noSharedMemory };
    this.restart(); // the fresh Python boots in the background; the next request waits for it
    const stopped = { ok: false, stopped: true, restarted: true, how: "restart", reason, timedOut, ...why };
    pending.resolve({ ...stopped, error: `Stopped: ${describeStop(stopped)}` });
    return { how: "restart", ms: performance.now() - started, reason, ...why };
  }

  /** Whether the interrupted request settles in time. Python says when it raised the KeyboardInterrupt, so the page
   * knows it is winding down, not stuck in compiled code or past an interrupt it lost. A request the worker has not
   * begun yet (it was still busy, e.g. saving its snapshot just after a first start) is not Python failing to
   * answer: the grace counts from when it began, and it takes the interrupt at its first step. Either gets
   * `windDownMs`; a Python that has not raised it gets STOP_GRACE_MS, and one that took the interrupt without
   * raising it is interrupted again every RETRY_MS meanwhile. */
  settles(pending, started, windDownMs) {
    let sent = performance.now();
    return new Promise((resolve) => {
      const poll = () => {
        if (this.pending !== pending) return resolve(true);
        const raised = pending.raisedAt !== undefined;
        if (!raised && this.interrupt[0] === 0 && performance.now() - sent > RETRY_MS) { // taken, not raised
          this.interrupt[0] = 2;
          sent = performance.now();
        }
        const waiting = raised || !pending.startedAt;
        const since = Math.max(started, pending.startedAt || started);
        if (performance.now() - since > (waiting ? windDownMs : STOP_GRACE_MS)) return resolve(false);
        setTimeout(poll, 10);
      };
      poll();
    });
  }

  restart() {
    this.pending = null;
    this.dispatchEvent(new CustomEvent("restarted"));
    this.replaceWorker();
  }

  /** A new worker in place of this one; whoever waits for Python being ready keeps waiting, for the new one. */
  replaceWorker() {
    const { onReady, onBootFailed } = this;
    this.worker.terminate();
    this.worker = null;
    this.start();
    this.readyPromise.then(onReady, onBootFailed); // no-ops for a promise already settled
  }

  crashed(error) {
    const pending = this.pending;
    if (!pending && this.state === "starting") {
      // Failing while booting would fail again: report it instead of restarting in a loop.
      this.worker.terminate();
      this.worker = null;
      this.setState("failed", { error });
      this.onBootFailed(new Error(error));
      return;
    }
    this.restart();
    if (pending) {
      // The tab's stack is smaller than CPython's: a recursion deep enough (after sys.setrecursionlimit) crashes it.
      const hint = /call stack/i.test(error) ? " Too deep a recursion? Look for a call with no end." : "";
      pending.resolve({ ok: false, restarted: true,
        error: `Python crashed (${error}) and was restarted. Your code is safe; run it again.${hint}` });
    } else if (this.state !== "starting") {
      this.setState("failed", { error });
    }
  }
}
