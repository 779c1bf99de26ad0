// Links for slides: the instructors page's copy buttons and embed snippets, and the ?embed=1 alias of a module page.
// Every address is made from the site's root as this browser sees it, so it is right on any host and under any
// sub-path (the build cannot know where the course will be served). The pages come from site/hooks/instructors.py.
import { el } from "./ui.js";

const EMBED_HEIGHT = 760;

const iframe = (url, title) => `<iframe src="${url}" title="${title}" width="100%" height="${EMBED_HEIGHT}" ` +
  `loading="lazy" style="border: 0"></iframe>`;

/** modules/<id>-<slug>/?embed=1 shows the same workbench as embed/<id>-<slug>/: go there. True if leaving. */
export function followEmbedAlias(root) {
  const here = new URL(location.href);
  const path = here.pathname.slice(new URL(root).pathname.length);
  if (!here.searchParams.has("embed") || !/^modules\/[^/]+\/$/.test(path)) return false;
  location.replace(`${root}embed/${path.slice("modules/".length)}${here.hash}`);
  return true;
}

async function copy(text) {
  if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
  window.prompt("Copy this:", text); // plain http on another host: no clipboard access, so let the user copy
  return undefined;
}

/** Fill in the instructors page's snippets and make its copy buttons work. */
export function setUpCopyButtons(root) {
  for (const snippet of document.querySelectorAll(".tt-snippet[data-embed]")) {
    snippet.querySelector("code").textContent = iframe(new URL(snippet.dataset.embed, root).href,
      snippet.dataset.title);
  }
  for (const button of document.querySelectorAll(".tt-copy")) {
    const embed = button.dataset.copyEmbed !== undefined;
    const url = new URL(embed ? button.dataset.copyEmbed : button.dataset.copy, root).href;
    button.title = embed ? iframe(url, button.dataset.title || "") : url;
    button.addEventListener("click", async () => {
      const said = el("span", { class: "tt-copied", role: "status" });
      try {
        await copy(button.title);
        said.textContent = " Copied";
      } catch {
        said.textContent = " Could not copy: the address is in this button's tooltip";
      }
      button.after(said);
      setTimeout(() => said.remove(), 2000);
    });
  }
}
