// Where a course withholds a module's reference solution (course.toml), later modules and milestones run on the
// learner's own file for it: a deep link from a slide says which of those to finish first, with links to them.
import { el, notice } from "./ui.js";

/** A notice in `panel` naming the withheld modules among `needed` that the learner has not finished. */
export function finishFirst(panel, needed, { course, state }) {
  const container = panel.querySelector(".tt-notices");
  const open = needed.filter((m) => m.reference === false && !(state.progress().modules[m.id] || {}).passed);
  if (!container || open.length === 0) return;
  const links = open.flatMap((m, i) => [i ? ", " : "", el("a", { href: `${course.root}${m.url}` },
    `${m.id} ${m.title}`), state.code(m.id) ? " (tests not passing yet)" : " (not written yet)"]);
  notice(container, "This builds on modules this course has no reference solution for, so it runs on your own " +
    "files for them. Finish these first: ", "warning", ...links).dataset.finishFirst = open.map((m) => m.id).join(" ");
}
