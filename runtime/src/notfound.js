// The not-found page (site/docs/not-found.md), reached from the 404 page with ?path=<the missing address>: says
// which address does not exist and, when it names a module or milestone, offers the one it most likely meant.
import { el } from "./ui.js";

export class NotFound {
  constructor(root, { course }) {
    const missing = new URLSearchParams(location.search).get("path");
    if (!missing) return;
    const path = missing.split(/[?#]/)[0];
    const all = [...course.modules.map((m) => ({ ...m, name: `module ${m.id} · ${m.title}` })),
      ...course.milestones.map((m) => ({ ...m, name: `milestone ${m.year} · ${m.title}` }))];
    const words = path.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
    // A module's number or slug, or a milestone's year or slug, anywhere in the address.
    const guess = all.find((m) => words.includes(m.slug) || words.includes(String(m.year)) ||
      (m.year === undefined && words.includes(m.id)));
    root.replaceChildren(el("div", { class: "admonition warning" },
      el("p", {}, "There is no page at ", el("code", {}, path), " in this course."),
      guess ? el("p", {}, "Did you mean ", el("a", { href: `${course.root}${guess.url}` }, guess.name), "?") : null));
  }
}
