// Survive a browser whose default language tag its own Intl refuses. WebKitGTK started under the process locale
// `C` reports the language "C", and then every toLocale...() without an explicit locale throws ("invalid language
// tag: C"). Emscripten calls one while Python starts (for the time zone's name), so Python would never start.
// Imported for its effect, first thing in the worker; pages use ui.js's localDate instead.
try {
  new Date().toLocaleTimeString();
} catch (error) {
  if (!(error instanceof RangeError)) throw error;
  for (const method of ["toLocaleString", "toLocaleDateString", "toLocaleTimeString"]) {
    const original = Date.prototype[method];
    Date.prototype[method] = function (locales, options) {
      return original.call(this, locales ?? "en-US", options);
    };
  }
}
