// A test run's results as a learner reads them: the summary on top with a link to the first failure, exercises
// with failures first (each shows its first failure in full, the other failures and the passing tests folded with
// their counts), then the exercises that pass, folded. Every test stays in the page (as .tt-test), folded or not.
import { el, seconds } from "./ui.js";

const failed = (t) => t.outcome !== "passed" && t.outcome !== "skipped";

export function testItem(t, { open = false } = {}) {
  const mark = t.outcome === "passed" ? "✓" : t.outcome === "skipped" ? "–" : "✗";
  return el("li", { class: `tt-test tt-outcome-${t.outcome}`, "data-outcome": t.outcome },
    el("span", { class: "tt-test-name" }, `${mark} ${t.id}`),
    el("span", { class: "tt-duration" }, ` ${seconds(t.duration)}`),
    t.message ? el("div", { class: "tt-message" }, t.message) : null,
    t.traceback && failed(t) ? el("details", { open }, el("summary", {}, "Traceback"),
      el("pre", { class: "tt-output" }, t.traceback)) : null);
}

function folded(label, tests, className) {
  if (tests.length === 0) return null;
  return el("details", { class: `tt-folded ${className}` }, el("summary", {}, label),
    el("ul", {}, ...tests.map((t) => testItem(t))));
}

function exerciseSection(exercise, tests) {
  const failures = tests.filter(failed);
  const others = tests.filter((t) => !failed(t));
  const title = `${exercise.id ? exercise.id + " " : ""}${exercise.title}: ${exercise.passed} of ${exercise.total} passed`;
  if (failures.length === 0) {
    return el("details", { class: "tt-exercise tt-exercise-passed", "data-exercise": exercise.id || "" },
      el("summary", {}, el("span", { class: "tt-test-name" }, `✓ ${title}`)), el("ul", {}, ...tests.map((t) => testItem(t))));
  }
  const [first, ...rest] = failures;
  return el("section", { class: "tt-exercise tt-exercise-failed", "data-exercise": exercise.id || "" },
    el("h4", {}, `✗ ${title}`),
    el("ul", {}, testItem(first)),
    folded(`${rest.length} more failing in ${exercise.id || "this group"}`, rest, "tt-more-failures"),
    folded(`✓ ${others.length} passing`, others, "tt-passing"));
}

/** Fill `list` with the run's results; returns the first failure's node (or null). */
export function renderTests(list, result) {
  const sections = [];
  for (const error of result.collection_errors) {
    sections.push(el("div", { class: "tt-collection-error" },
      el("p", {}, "The tests could not load your file:"), el("pre", { class: "tt-output" }, error)));
  }
  const groups = result.exercises.map((exercise) => [exercise, result.tests.filter((t) => t.exercise === exercise.id)])
    .filter(([, tests]) => tests.length > 0);
  const failing = groups.filter(([, tests]) => tests.some(failed));
  const passing = groups.filter(([, tests]) => !tests.some(failed));
  sections.push(...[...failing, ...passing].map(([exercise, tests]) => exerciseSection(exercise, tests)));
  list.replaceChildren(...sections);
  const first = list.querySelector(".tt-collection-error, .tt-exercise-failed .tt-test");
  if (first) first.id = `${list.id || "tt-tests"}-first-failure`;
  return first;
}
