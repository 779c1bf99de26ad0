// A milestone's criteria as the learner reads them: each measured value beside its target, in its own unit
// (an accuracy in percent, a loss in nats per character). Results saved before milestones had several criteria
// carry only `value`: they are read as the one criterion of their milestone. And what a module's saved result (the
// capstone's submission) says of its own budgets.

export function formatValue(criterion, value) {
  if (value === null || value === undefined) return "n/a";
  if (criterion.unit === "percent") return `${(100 * value).toFixed(1)} %`;
  return `${Number(value).toFixed(3)}${criterion.unit ? ` ${criterion.unit}` : ""}`;
}

/** The criteria of a saved or returned result, each {label, metric, goal, target, unit, value, reached}. */
export function criteriaOf(milestone, result) {
  if (Array.isArray(result.criteria) && result.criteria.length) return result.criteria;
  const [only] = milestone.criteria;
  return [{ ...only, value: result.value, reached: result.passed === true }];
}

/** "test_accuracy 95.5 % (target 90.0 %)", or with several criteria each one's label, value and target. */
export function measured(milestone, result) {
  const criteria = criteriaOf(milestone, result);
  return criteria.map((c) => {
    const goal = c.goal === "at_most" ? "at most " : "";
    const name = criteria.length > 1 ? `${c.label || c.metric}: ${c.metric}` : c.metric;
    return `${name} ${formatValue(c, c.value)} (target ${goal}${formatValue(c, c.target)})`;
  }).join(", ");
}

/** A saved module result's own verdict: "every budget met", "not every budget met", or "saved" if it gives none. */
export function resultVerdict(value) {
  if (value && value.passed === true) return "every budget met";
  return value && value.passed === false ? "not every budget met" : "saved";
}
