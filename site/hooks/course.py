"""mkdocs hook: one page per curriculum module, made from its lesson, with the workbench where the lesson asks."""
from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tinytorch_wasm import curriculum  # noqa: E402

WORKBENCH_MARKER = "<!-- workbench -->"


def _page(module: curriculum.Module) -> str:
    lesson = module.lesson_file.read_text()
    if WORKBENCH_MARKER not in lesson:
        raise ValueError(f"{module.lesson_file} has no {WORKBENCH_MARKER} line")
    workbench = f'<div class="tt-workbench" data-module="{module.id}" markdown="0"></div>'
    return lesson.replace(WORKBENCH_MARKER, workbench)


def on_files(files, config):
    for module in curriculum.modules():
        files.append(File.generated(config, f"modules/{module.id}-{module.slug}.md", content=_page(module)))
    return files


def on_page_markdown(markdown, page, config, files):
    """`<!-- module-list -->` on a page becomes the list of modules."""
    if "<!-- module-list -->" not in markdown:
        return markdown
    rows = ["| # | Module | What you build |", "|---|---|---|"]
    rows += [f"| {m.id} | [{m.title}](modules/{m.id}-{m.slug}.md) | {m.summary} |" for m in curriculum.modules()]
    return markdown.replace("<!-- module-list -->", "\n".join(rows))
