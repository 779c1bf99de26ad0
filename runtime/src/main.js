// The page script, on every page of the site. It registers the service worker (offline use, and cross-origin
// isolation on hosts that cannot send headers) and fills in the page's interactive panel, if it has one:
// a module's workbench, a milestone's run panel, or the progress page. Python starts only for the first two.
import { PythonRuntime } from "./python.js";
import { Store, CourseState } from "./storage.js";
import { Workbench } from "./workbench.js";
import { MilestonePanel } from "./milestone.js";
import { ProgressPage } from "./progress.js";
import { makeRunnable } from "./experiments.js";
import { el } from "./ui.js";

const script = document.getElementById("tt-main");
const root = new URL(".", new URL(script.dataset.root, location.href)).href; // the site root, ending in "/"
const version = script.dataset.version;

function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || new URLSearchParams(location.search).has("no-sw")) return;
  navigator.serviceWorker.register(`${root}sw.js`, { scope: root }).catch((error) => {
    console.warn("service worker not registered: offline use is unavailable", error);
  });
}

function newRuntime() {
  return new PythonRuntime({
    workerUrl: `${root}assets/tt/worker.js?v=${version}`,
    pyodideUrl: `${root}pyodide/${script.dataset.pyodide}/`,
    courseUrl: `${root}course/course.zip?v=${version}`,
  });
}

// Each kind of panel: whether it needs Python, and how to set it up once the course description has loaded.
const panels = {
  ".tt-workbench": (node, context, runtime) => {
    const module = context.course.modules.find((m) => m.id === node.dataset.module);
    const workbench = new Workbench(node, { ...context, module, runtime });
    makeRunnable(workbench);
    return { runtime, workbench };
  },
  ".tt-milestone": (node, context, runtime) => {
    const milestone = context.course.milestones.find((m) => m.id === node.dataset.milestone);
    return { runtime, milestone: new MilestonePanel(node, { ...context, milestone, runtime }) };
  },
  ".tt-progress-page": (node, context) => ({ progress: new ProgressPage(node, context) }),
};

const needsPython = new Set([".tt-workbench", ".tt-milestone"]);

async function start(selector, node) {
  let runtime = null;
  if (needsPython.has(selector)) {
    runtime = newRuntime();
    runtime.start().catch(() => {}); // boot first: it is the long pole, everything else happens meanwhile
  }
  const response = await fetch(`${root}course/course.json?v=${version}`);
  if (!response.ok) throw new Error(`the course description did not load (${response.status})`);
  const course = { ...(await response.json()), root };
  const store = new Store(new URL(root).pathname);
  const context = { course, store, state: new CourseState(store) };
  // Exposed for the curious learner's console and for the browser tests.
  window.tinytorch = { ...context, ...panels[selector](node, context, runtime) };
}

registerServiceWorker();
for (const selector of Object.keys(panels)) {
  const node = document.querySelector(selector);
  if (!node) continue;
  start(selector, node).catch((error) => {
    node.replaceChildren(el("div", { class: "admonition failure" },
      el("p", {}, `This part of the page could not start: ${error.message}. Reload the page to try again.`)));
  });
}
