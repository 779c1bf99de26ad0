// The page script, on every page of the site. It registers the service worker (offline use, and cross-origin
// isolation on hosts that cannot send headers) and fills in the page's interactive panel, if it has one:
// a module's workbench, a milestone's run panel, or the progress page. Python starts only for the first two.
// Only what starts Python is loaded up front; each panel's code (editor, charts) is fetched when its page needs it.
// It runs once per tab: moving to another page of the course swaps the page in (navigation.js) and mounts that
// page's panel, while Python, the course description and storage stay as they are.
import { ArtifactStore } from "./artifacts.js";
import { PythonRuntime } from "./python.js";
import { Store, CourseState } from "./storage.js";
import { followEmbedAlias, setUpCopyButtons } from "./links.js";
import { takeOverLinks } from "./navigation.js";
import { buildSearchIndexNow, buildSearchIndexWhenAsked } from "./search-later.js";
import { mountPalette } from "./palette.js";

const script = document.getElementById("tt-main");
const root = new URL(".", new URL(script.dataset.root, location.href)).href; // the site root, ending in "/"
const version = script.dataset.version;
const workerUrl = new URL(script.dataset.worker, location.href).href; // absolute: the tab may be elsewhere by then

// Its first install downloads the whole course for offline use: on a page that starts Python, only once Python is
// ready (or failed), so that download never competes with the learner's first wait, and the files the page has just
// fetched come from the browser's HTTP cache.
function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || new URLSearchParams(location.search).has("no-sw")) return;
  navigator.serviceWorker.register(`${root}sw.js`, { scope: root }).catch((error) => {
    console.warn("service worker not registered: offline use is unavailable", error);
  });
}

// The browser gets a turn between loading a panel's code and building it, and between the big steps of building:
// no single long task while the page loads (what Lighthouse counts as total blocking time), input is answered.
const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

// Each kind of panel: whether it needs Python, and how to set it up once the course description has loaded.
// What a panel returns may have `leave()`, called when the learner moves to another page.
const panels = {
  ".tt-workbench": { python: true, mount: async (node, context) => {
    const [{ Workbench }, { makeRunnable }, { finishFirst }, { listenForResults, ResultNotice }] = await Promise.all([
      import("./workbench.js"), import("./experiments.js"), import("./withheld.js"), import("./results.js")]);
    const module = context.course.modules.find((m) => m.id === node.dataset.module);
    await nextTask();
    const workbench = new Workbench(node, { ...context, module });
    makeRunnable(workbench);
    const results = listenForResults(context.runtime, context); // JSON results a run saves (the capstone's)
    if (module.results.length) new ResultNotice(node, { module, state: context.state, events: results });
    finishFirst(node, context.course.modules.filter((m) => m.id < module.id), context);
    return { workbench, leave: () => workbench.save() }; // code typed in the last moment is not lost
  } },
  ".tt-milestone": { python: true, mount: async (node, context) => {
    const [{ MilestonePanel }, { finishFirst }] = await Promise.all([import("./milestone.js"), import("./withheld.js")]);
    const milestone = context.course.milestones.find((m) => m.id === node.dataset.milestone);
    await nextTask();
    const panel = new MilestonePanel(node, { ...context, milestone });
    finishFirst(node, context.course.modules.filter((m) => m.id <= milestone.requires), context);
    return { milestone: panel };
  } },
  ".tt-progress-page": { python: false, mount: async (node, context) => {
    const { ProgressPage } = await import("./progress.js");
    return { progress: new ProgressPage(node, context) };
  } },
  ".tt-not-found": { python: false, mount: async (node, context) => {
    const { NotFound } = await import("./notfound.js");
    return { notFound: new NotFound(node, context) };
  } },
};

// What lives as long as the tab: Python (the long pole: on pages that need it, the page head has already started
// its worker, which this adopts), the course description, storage.
let python = null;
function pythonRuntime() {
  if (!python) {
    python = new PythonRuntime({ workerUrl });
    python.start().catch(() => {}); // failures are shown by the panel's status line
    shared.artifacts.listen(python); // whatever a run saves is stored, on any page
  }
  return python;
}
const shared = { store: new Store(new URL(root).pathname), artifacts: new ArtifactStore(new URL(root).pathname) };
if (script.dataset.python !== undefined) {
  pythonRuntime();
  buildSearchIndexWhenAsked(); // on this page material's search worker is holding its index (search-later.js)
}
let course = null;
async function loadCourse() {
  const response = await fetch(`${root}course/course.json?v=${version}`);
  if (!response.ok) throw new Error(`the course description did not load (${response.status})`);
  return { ...(await response.json()), root };
}

/** `target` as a page sees it: listeners it adds are removed when the page is left (signal), so a page the learner
 * left no longer hears Python or storage. Methods run on the target itself (EventTarget insists). */
function scoped(target, signal) {
  return new Proxy(target, {
    get(object, key) {
      if (key === "addEventListener") return (type, listener, options) => object.addEventListener(type, listener,
        { ...(typeof options === "object" ? options : { capture: !!options }), signal });
      const value = Reflect.get(object, key, object);
      return typeof value === "function" ? value.bind(object) : value;
    },
  });
}

let page = null; // {leaving: AbortController, parts: [what each panel returned]}
let pageAskedAt = 0; // when the learner asked for the page now shown (ms since this tab's navigation)

function leavePage() {
  if (!page) return;
  for (const part of page.parts) if (part.leave) part.leave();
  page.leaving.abort();
  // A run started on the page left behind ends, as it did when leaving reloaded the tab (its panel is gone).
  if (python && python.pending) python.stop("you left the page");
  if (python) python.attach = null;
  page = null;
}

/** `then` once the browser has drawn the page as it is now, or after 250 ms in a tab in the background (it draws
 * nothing): whichever comes first, and maybe both, so `then` must be one that counts only once. */
function afterNextPaint(then) {
  requestAnimationFrame(() => setTimeout(then)); // a frame's callbacks run before it is drawn; a timer, after
  setTimeout(then, 250);
}

async function mount(selector, node, leaving) {
  course = course || (await loadCourse());
  const { signal } = leaving;
  const store = scoped(shared.store, signal);
  const context = { course, store, state: new CourseState(store), artifacts: scoped(shared.artifacts, signal), signal };
  const needsPython = panels[selector].python;
  if (needsPython) {
    context.runtime = scoped(pythonRuntime(), signal);
    const here = [...course.modules, ...course.milestones].find((x) =>
      x.id === (node.dataset.module || node.dataset.milestone));
    const names = (here && here.artifacts) || [];
    python.attach = names.length ? async () => ({ artifacts: await shared.artifacts.forRequest(names) }) : null;
  }
  let part;
  try {
    part = await panels[selector].mount(node, context);
  } finally {
    // Set up (or failed) and drawn: Python's first start may take the machine now.
    if (needsPython) afterNextPaint(() => python.pageSettled());
  }
  if (signal.aborted) return part; // left while it was being set up
  // Exposed for the curious learner's console and for the browser tests.
  window.tinytorch = { ...context, runtime: python, ...part };
  if (needsPython) {
    await python.whenIdle();
    // From the learner asking for this page to it being ready to run tests (benchmark: page-to-page navigation).
    if (!signal.aborted) window.tinytorch.pageReadyMs = performance.now() - pageAskedAt;
  }
  return part;
}

function setUpPage() {
  leavePage();
  if (followEmbedAlias(root)) return; // leaving for the embed view
  const current = page = { leaving: new AbortController(), parts: [] };
  setUpCopyButtons(root);
  for (const selector of Object.keys(panels)) {
    const node = document.querySelector(selector);
    if (!node) continue;
    mount(selector, node, current.leaving).then((part) => current.parts.push(part), (error) => {
      const box = Object.assign(document.createElement("div"), { className: "admonition failure" });
      box.textContent = `This part of the page could not start: ${error.message}. Reload the page to try again.`;
      node.replaceChildren(box);
    });
  }
}

function setUp() {
  mountPalette(); // the header stays as pages change
  takeOverLinks(() => {
    pageAskedAt = performance.now();
    delete window.tinytorch; // the page being left is no longer the one to talk to; the next one sets it again
  });
  // mkdocs-material emits document$ for the first page and again for each page it swaps in.
  if (window.document$) window.document$.subscribe(setUpPage);
  else setUpPage();
}

function afterPythonStarted() {
  registerServiceWorker();
  buildSearchIndexNow();
}

if (python) python.readyPromise.then(afterPythonStarted, afterPythonStarted);
else registerServiceWorker();
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
else setUp();
