"""axe-core (npm, pinned in package-lock.json) in a Playwright page: accessibility violations as data.

The script is added with `context.add_init_script`, which (like `page.evaluate`) is not subject to the page's
Content-Security-Policy: an inline <script> added to the page would be refused, as it should be.
"""
from __future__ import annotations

from conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SEVERE = ("serious", "critical")


def install(context) -> None:
    """Make axe available in every page the context opens from now on."""
    context.add_init_script(path=str(AXE))


def violations(page, impacts=SEVERE) -> list[dict]:
    """axe's violations on the page as it is now (WCAG 2.x A/AA and best practices), of the given impacts:
    [{id, impact, help, nodes: [{target, summary}]}]."""
    found = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ["violations"] });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })) }));
    }""")
    return [v for v in found if v["impact"] in impacts]


def count_nodes(found: list[dict]) -> int:
    return sum(len(v["nodes"]) for v in found)


def describe(found: list[dict]) -> str:
    return "\n".join(f"{v['impact']} {v['id']} ({v['help']}): " + "; ".join(n["target"] for n in v["nodes"][:6])
                     for v in found)
