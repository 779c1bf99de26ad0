// mkdocs-material's search worker, with its index built only once Python is ready or the learner reaches for search
// (search-later.js says why).
// Material's page script sends its setup message (the documents to index) at once, and no query before the worker
// has answered it, so only that message is held. `?material=` is the address of material's own worker script.
import { SEARCH_CHANNEL, SEARCH_LATEST_MS } from "./search-later.js";

let held = null;
let released = false;
addEventListener("message", (event) => { // added before material's own listener, so it runs first
  if (released || !event.data || event.data.type !== 0) return;
  event.stopImmediatePropagation();
  held = event.data;
});

const channel = new BroadcastChannel(SEARCH_CHANNEL);
function release() {
  if (released) return;
  released = true;
  channel.close();
  if (held) dispatchEvent(new MessageEvent("message", { data: held }));
}
channel.onmessage = ({ data }) => data === "now" && release();
channel.postMessage("held"); // a page whose learner already reached for search answers "now"
setTimeout(release, SEARCH_LATEST_MS);

importScripts(new URL(location.href).searchParams.get("material"));
