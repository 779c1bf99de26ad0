// mkdocs-material's site search builds its index in a worker of its own as soon as a page loads: about 0.4 s of a
// core. On pages that start Python, that competed with Python's start on a 2-core machine (a warm visit 1.46 s with
// it, 1.34 s without, medians of 5 interleaved). There, the page's template (site/overrides/main.html) starts
// material's search worker through search-worker.js, which holds the index build until the page says Python is
// ready (or failed), or the learner reaches for the search field, at the latest SEARCH_LATEST_MS after it began.
export const SEARCH_CHANNEL = "tinytorch-search-index";
export const SEARCH_LATEST_MS = 10_000;

/** Tell the search workers waiting in this browser to build their index now. */
export function buildSearchIndexNow() {
  const channel = new BroadcastChannel(SEARCH_CHANNEL);
  channel.postMessage("now");
  channel.close();
}

/** Build the index as soon as the learner reaches for the search field (a click, Tab, or material's "/" shortcut),
 * whatever Python is doing. A worker that starts holding only after that says so ("held") and is answered then. */
export function buildSearchIndexWhenAsked() {
  let asked = false;
  const channel = new BroadcastChannel(SEARCH_CHANNEL);
  channel.onmessage = ({ data }) => {
    if (data === "held" && asked) buildSearchIndexNow();
  };
  document.addEventListener("focusin", ({ target }) => {
    if (asked || !(target instanceof Element) || !target.matches(".md-search__input")) return;
    asked = true;
    buildSearchIndexNow();
  });
}
