"""mkdocs hook: one page per curriculum module, made from its lesson, with the workbench where the lesson asks."""
from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tinytorch_wasm import curriculum, milestones  # noqa: E402


def _page(source: Path, marker: str, panel: str) -> str:
    """The Markdown with its marker line replaced by the interactive panel (filled in by the page script)."""
    text = source.read_text()
    if marker not in text:
        raise ValueError(f"{source} has no {marker} line")
    return text.replace(marker, panel)


def on_config(config):
    """The navigation follows the course: home, the modules in order, the milestones in history, progress."""
    config["nav"] = [
        {"Home": "index.md"},
        {"Modules": [{f"{m.id} · {m.title}": f"modules/{m.id}-{m.slug}.md"} for m in curriculum.modules()]},
        {"Milestones": [{f"{m.year} · {m.title}": f"milestones/{m.id}-{m.slug}.md"} for m in milestones.milestones()]},
        {"Your progress": "progress.md"},
    ]
    return config


def on_files(files, config):
    for m in curriculum.modules():
        page = _page(m.lesson_file, "<!-- workbench -->", f'<div class="tt-workbench" data-module="{m.id}"></div>')
        files.append(File.generated(config, f"modules/{m.id}-{m.slug}.md", content=page))
    for m in milestones.milestones():
        page = _page(m.story_file, "<!-- milestone -->", f'<div class="tt-milestone" data-milestone="{m.id}"></div>')
        files.append(File.generated(config, f"milestones/{m.id}-{m.slug}.md", content=page))
    return files


def on_page_markdown(markdown, page, config, files):
    """Pages with a workbench or a milestone start Python as early as they can; `<!-- module-list -->` on a page
    becomes the list of modules and milestones."""
    page.meta["python"] = 'class="tt-workbench"' in markdown or 'class="tt-milestone"' in markdown
    if "<!-- module-list -->" not in markdown:
        return markdown
    rows = ["| # | Module | What you build |", "|---|---|---|"]
    rows += [f"| {m.id} | [{m.title}](modules/{m.id}-{m.slug}.md) | {m.summary} |" for m in curriculum.modules()]
    rows += ["", "| Year | Milestone | Needs modules |", "|---|---|---|"]
    rows += [f"| {m.year} | [{m.title}](milestones/{m.id}-{m.slug}.md): {m.summary} | 01-{m.requires} |"
             for m in milestones.milestones()]
    return markdown.replace("<!-- module-list -->", "\n".join(rows))
