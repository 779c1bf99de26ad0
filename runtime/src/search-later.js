// mkdocs-material's site search builds its index in a worker of its own as soon as a page loads: about 0.4 s of a
// core. On pages that start Python, that competed with Python's start on a 2-core machine (a warm visit 1.46 s with
// it, 1.34 s without, medians of 5 interleaved). There, the page's template (site/overrides/main.html) starts
// material's search worker through search-worker.js, which holds the index build until the page says Python is
// ready (or failed), at the latest SEARCH_LATEST_MS after it began.
export const SEARCH_CHANNEL = "tinytorch-search-index";
export const SEARCH_LATEST_MS = 10_000;

/** Tell the search workers waiting in this browser to build their index now. */
export function buildSearchIndexNow() {
  const channel = new BroadcastChannel(SEARCH_CHANNEL);
  channel.postMessage("now");
  channel.close();
}
