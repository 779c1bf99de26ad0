// The page script, on every page of the site. It registers the service worker (offline use, and cross-origin
// isolation on hosts that cannot send headers) and, on a module page, starts Python and the workbench.
import { PythonRuntime } from "./python.js";
import { Store, CourseState } from "./storage.js";
import { Workbench } from "./workbench.js";
import { makeRunnable } from "./experiments.js";
import { el } from "./ui.js";

const script = document.getElementById("tt-main");
const root = new URL(".", new URL(script.dataset.root, location.href)).href; // the site root, ending in "/"
const version = script.dataset.version;
const pyodideVersion = script.dataset.pyodide;

function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || new URLSearchParams(location.search).has("no-sw")) return;
  navigator.serviceWorker.register(`${root}sw.js`, { scope: root }).catch((error) => {
    console.warn("service worker not registered: offline use is unavailable", error);
  });
}

async function startWorkbench(node) {
  const response = await fetch(`${root}course/course.json?v=${version}`);
  const course = { ...(await response.json()), root };
  const module = course.modules.find((m) => m.id === node.dataset.module);
  const store = new Store(new URL(root).pathname);
  const runtime = new PythonRuntime({
    workerUrl: `${root}assets/tt/worker.js?v=${version}`,
    pyodideUrl: `${root}pyodide/${pyodideVersion}/`,
    courseUrl: `${root}course/course.zip?v=${version}`,
  });
  const workbench = new Workbench(node, { module, course, state: new CourseState(store), store, runtime });
  makeRunnable(workbench);
  window.tinytorch = { runtime, workbench, store }; // for the curious learner's console, and the browser tests
  runtime.start().catch(() => {});
}

registerServiceWorker();
const node = document.querySelector(".tt-workbench");
if (node) {
  startWorkbench(node).catch((error) => {
    node.replaceChildren(el("div", { class: "admonition failure" },
      el("p", {}, `The workbench could not start: ${error.message}. Reload the page to try again.`)));
  });
}
