// The service worker (build.py prepends `const BUILD = {version, pyodide, files}`).
// - Precaches every file of this build, so after one visit the course works with no network at all.
//   The Python runtime gets a cache of its own, named by its version, so a course update does not re-download it.
// - Adds the cross-origin isolation headers (COOP/COEP) to what it serves, so hosts that cannot send headers
//   still get an instant Stop from the next page load on. It never reloads the page to get them: no reload loops.
const COURSE_CACHE = `tinytorch-course-${BUILD.version}`;
const RUNTIME_CACHE = `tinytorch-pyodide-${BUILD.pyodide}`;
const RUNTIME_PREFIX = `pyodide/${BUILD.pyodide}/`;
const scope = new URL(self.registration.scope);

const cacheFor = (path) => (path.startsWith(RUNTIME_PREFIX) ? RUNTIME_CACHE : COURSE_CACHE);

// What the pages ask for with the course's content version in the address (site/overrides/main.html, main.js,
// worker.js) is cached under that same address: the visit has just fetched it, so it comes from the browser's HTTP
// cache instead of the network a second time. Lookups ignore the query anyway.
const VERSIONED = { "assets/tt/main.js": "", "assets/tt/course.css": "", "assets/tt/uplot.css": "",
  "assets/tt/worker.js": `&pyodide=${BUILD.pyodide}`, "course/course.json": "", "course/course.zip": "" };
const precacheUrl = (file) =>
  new URL(file in VERSIONED ? `${file}?v=${BUILD.assets}${VERSIONED[file]}` : file, scope).href;

// A wheel with a stored twin (BUILD.twins, from build.py) is kept as the worker takes it (runtime/src/snapshot.js):
// the twin where the host sends it compressed (the visit has just fetched it, so from the HTTP cache), else the wheel.
async function precacheWheel(cache, file) {
  const twin = new URL(BUILD.twins[file], scope).href;
  const response = await fetch(twin).catch(() => null);
  if (response && response.ok && response.headers.get("content-encoding")) return cache.put(twin, response);
  if (response && response.body) await response.body.cancel();
  return cache.add(new URL(file, scope).href);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    for (const name of [COURSE_CACHE, RUNTIME_CACHE]) {
      const cache = await caches.open(name);
      const have = new Set((await cache.keys()).map((r) => new URL(r.url).pathname));
      const had = (file) => have.has(new URL(file, scope).pathname);
      const wanted = BUILD.files.filter((f) => cacheFor(f) === name && !had(f));
      const wheels = wanted.filter((f) => f in BUILD.twins && !had(BUILD.twins[f]));
      await cache.addAll(wanted.filter((f) => !(f in BUILD.twins)).map(precacheUrl));
      await Promise.all(wheels.map((f) => precacheWheel(cache, f)));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("tinytorch-") && name !== COURSE_CACHE && name !== RUNTIME_CACHE) await caches.delete(name);
    }
    // Builds before 2026-12-01 kept Python's snapshot right in the runtime's folder; it is a file now where the
    // browser can, else under snapshots/ (runtime/src/snapshot-store.js).
    const runtime = await caches.open(RUNTIME_CACHE);
    const old = /\/pyodide\/[^/]+\/(memory-snapshot|numpy-snapshots-refused)-/;
    for (const request of await runtime.keys()) if (old.test(request.url)) await runtime.delete(request);
    await self.clients.claim();
  })());
});

function isolated(response, request) {
  if (!response || response.type === "opaque" || response.status === 0) return response;
  const headers = new Headers(response.headers);
  // A worker is not governed by its page's policy, only by its own response's: the Python worker's, from the build.
  if (request.destination === "worker") headers.set("Content-Security-Policy", BUILD.workerPolicy);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  headers.set("Cross-Origin-Resource-Policy", "same-origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

// Only documents and worker scripts need the isolation headers; everything else passes through untouched, which
// also keeps Chromium's compiled-WebAssembly cache working for the runtime.
const needsHeaders = (request) => request.mode === "navigate" || request.destination === "worker";

async function fromCache(path) {
  const cache = await caches.open(cacheFor(path));
  return cache.match(new URL(path, scope).href, { ignoreSearch: true });
}

async function respond(request) {
  const url = new URL(request.url);
  let path = url.pathname.slice(scope.pathname.length);
  if (path === "" || path.endsWith("/")) path += "index.html";
  let response;
  if (path.startsWith(RUNTIME_PREFIX) && !/\.m?js$/.test(path)) {
    // Versioned and immutable: the browser's HTTP cache answers at once when online (and Chromium keeps the
    // runtime's compiled WebAssembly with it); the copy here serves offline.
    response = await fetch(request).catch(() => fromCache(path));
  } else {
    // Scripts, the runtime's too, come from here first: Chromium keeps their compiled code with this cache's copy,
    // never with a response passed through (Pyodide's 1 MB script compiles in 16 ms from it instead of 70-100 ms).
    response = (await fromCache(path)) || (await fetch(request).catch(() => null));
  }
  // Offline, an address the course does not have gets its 404 page (which finds the course root from there).
  if (!response && request.mode === "navigate") response = await fromCache("404.html");
  if (!response) return Response.error();
  return needsHeaders(request) ? isolated(response, request) : response;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith(respond(event.request));
});
