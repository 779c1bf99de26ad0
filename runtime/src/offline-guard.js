// Inside the Python worker: a request to any other host is refused before it leaves, with a message the learner
// can act on. The browser enforces the same with the worker's Content-Security-Policy (connect-src 'self', sent
// with worker.js by serve.py and the service worker); this guard also covers a first visit to a host that sends
// no headers, and turns the browser's bare "Failed to fetch" into words. It covers fetch (Python's
// pyodide.http.pyfetch and js.fetch) and XMLHttpRequest (pyodide.http.open_url).

const message = (origin) => `Refused: your code tried to reach ${origin}. This course never contacts another host: ` +
  "everything runs in this tab, offline too, and its security policy forbids it. Put the data in your code, or use " +
  "the course's own datasets (tinytorch_wasm.datasets).";

/** Refuse requests to other origins from now on; `onRefused(text)` is told each time (to show it to the learner). */
export function refuseOtherHosts(onRefused) {
  const check = (url) => {
    const target = new URL(url, self.location.href);
    if (target.origin === self.location.origin || ["data:", "blob:"].includes(target.protocol)) return;
    const text = message(target.origin);
    onRefused(text);
    throw new Error(text);
  };
  const fetch = self.fetch.bind(self);
  self.fetch = (input, init) => {
    check(input instanceof Request ? input.url : String(input));
    return fetch(input, init);
  };
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    check(String(url));
    return open.call(this, method, url, ...rest);
  };
}
