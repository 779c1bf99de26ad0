// The page script, on every page of the site. It registers the service worker (offline use, and cross-origin
// isolation on hosts that cannot send headers) and fills in the page's interactive panel, if it has one:
// a module's workbench, a milestone's run panel, or the progress page. Python starts only for the first two.
// Only what starts Python is loaded up front; each panel's code (editor, charts) is fetched when its page needs it.
import { ArtifactStore } from "./artifacts.js";
import { PythonRuntime } from "./python.js";
import { Store, CourseState } from "./storage.js";
import { followEmbedAlias, setUpCopyButtons } from "./links.js";

const script = document.getElementById("tt-main");
const root = new URL(".", new URL(script.dataset.root, location.href)).href; // the site root, ending in "/"
const version = script.dataset.version;

function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || new URLSearchParams(location.search).has("no-sw")) return;
  navigator.serviceWorker.register(`${root}sw.js`, { scope: root }).catch((error) => {
    console.warn("service worker not registered: offline use is unavailable", error);
  });
}


// Each kind of panel: whether it needs Python, and how to set it up once the course description has loaded.
const panels = {
  ".tt-workbench": async (node, context, runtime) => {
    const [{ Workbench }, { makeRunnable }, { finishFirst }, { listenForResults, ResultNotice }] = await Promise.all([
      import("./workbench.js"), import("./experiments.js"), import("./withheld.js"), import("./results.js")]);
    const module = context.course.modules.find((m) => m.id === node.dataset.module);
    const workbench = new Workbench(node, { ...context, module, runtime });
    makeRunnable(workbench);
    const results = listenForResults(runtime, context); // JSON results a run saves to progress (the capstone's)
    if (module.results.length) new ResultNotice(node, { module, state: context.state, events: results });
    finishFirst(node, context.course.modules.filter((m) => m.id < module.id), context);
    return { runtime, workbench };
  },
  ".tt-milestone": async (node, context, runtime) => {
    const [{ MilestonePanel }, { finishFirst }] = await Promise.all([import("./milestone.js"), import("./withheld.js")]);
    const milestone = context.course.milestones.find((m) => m.id === node.dataset.milestone);
    const panel = new MilestonePanel(node, { ...context, milestone, runtime });
    finishFirst(node, context.course.modules.filter((m) => m.id <= milestone.requires), context);
    return { runtime, milestone: panel };
  },
  ".tt-progress-page": async (node, context) => {
    const { ProgressPage } = await import("./progress.js");
    return { progress: new ProgressPage(node, context) };
  },
  ".tt-not-found": async (node, context) => {
    const { NotFound } = await import("./notfound.js");
    return { notFound: new NotFound(node, context) };
  },
};

// Python is the long pole: on pages that need it, the page head has already started its worker; this adopts it.
const runtime = script.dataset.worker ? new PythonRuntime({ workerUrl: script.dataset.worker }) : null;
if (runtime) runtime.start().catch(() => {}); // failures are shown by the panel's status line

async function start(selector, node) {
  const response = await fetch(`${root}course/course.json?v=${version}`);
  if (!response.ok) throw new Error(`the course description did not load (${response.status})`);
  const course = { ...(await response.json()), root };
  const store = new Store(new URL(root).pathname);
  const artifacts = new ArtifactStore(new URL(root).pathname);
  const context = { course, store, state: new CourseState(store), artifacts };
  if (runtime) {
    artifacts.listen(runtime); // whatever a run saves is stored, on any page
    const page = [...course.modules, ...course.milestones].find((x) =>
      x.id === (node.dataset.module || node.dataset.milestone));
    const names = (page && page.artifacts) || [];
    if (names.length) runtime.attach = async () => ({ artifacts: await artifacts.forRequest(names) });
  }
  // Exposed for the curious learner's console and for the browser tests.
  window.tinytorch = { ...context, ...(await panels[selector](node, context, runtime)) };
}

function setUpPanels() {
  setUpCopyButtons(root);
  for (const selector of Object.keys(panels)) {
    const node = document.querySelector(selector);
    if (!node) continue;
    start(selector, node).catch((error) => {
      const box = Object.assign(document.createElement("div"), { className: "admonition failure" });
      box.textContent = `This part of the page could not start: ${error.message}. Reload the page to try again.`;
      node.replaceChildren(box);
    });
  }
}

registerServiceWorker();
if (followEmbedAlias(root)) {
  // leaving for the embed view
} else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUpPanels);
else setUpPanels();
