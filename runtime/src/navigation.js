// Moving between the course's pages without reloading the tab, so that Python (its worker) keeps running.
// mkdocs-material's instant navigation (`navigation.instant` in mkdocs.yml) fetches the next page, swaps its content
// in and emits `document$`; the page script mounts the new page's panel on each emission (main.js).
// Material takes over only the links its sitemap.xml lists, and that matches only where the course is served at its
// `site_url` (often unset: the build cannot know the address). This takes over the other links to the site's own
// pages, wherever it is served; anything else (other hosts, new tabs, downloads, embed and 404 pages) loads as usual.

const config = () => JSON.parse(document.getElementById("__config")?.textContent || "{}");

/** Whether material's instant navigation runs in this tab (it never does from file: addresses). */
export function instantNavigation() {
  return location.protocol !== "file:" && !!window.location$ &&
    (config().features || []).includes("navigation.instant");
}

/** An address as a page of the site: without its query and anchor, `…/index.html` as `…/`. */
const pageOf = (url) => `${url.origin}${url.pathname.replace(/\/index\.html$/, "/")}`;

/** The site's pages, as its navigation lists them (home, modules, milestones, progress). */
function sitePages() {
  return new Set([...document.querySelectorAll(".md-nav--primary a.md-nav__link[href]")]
    .map((link) => pageOf(new URL(link.href))));
}

/** Calls `onStart(url)` when the tab starts moving to another page (for the time to ready, main.js). */
export function takeOverLinks(onStart) {
  if (!instantNavigation()) return;
  let last = pageOf(new URL(location.href));
  window.location$.subscribe((url) => {
    if (pageOf(url) !== last) onStart(url);
    last = pageOf(url);
  });
  // On window, so material's own handler (on <body>) has had its turn: a link it took is defaultPrevented.
  window.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey ||
      event.altKey || !(event.target instanceof Element)) return;
    const link = event.target.closest("a[href]");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href);
    if (pageOf(url) === pageOf(new URL(location.href)) || !sitePages().has(pageOf(url))) return;
    event.preventDefault();
    // What material does with a link it takes: keep this page's scroll position for Back, then go.
    history.replaceState({ x: scrollX, y: scrollY }, "");
    history.pushState(null, "", url);
    window.location$.next(url);
  });
}
