"""mkdocs hook: one page per curriculum module, made from its lesson, with the workbench where the lesson asks."""
from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tinytorch_wasm import course as courses  # noqa: E402


def course_of(config):
    """The course this build makes: build.py passes its course.toml (tinytorch_wasm/course.py)."""
    path = ((config.get("extra") or {}).get("tt") or {}).get("course") or None
    return courses.load(Path(path) if path else None)


def _page(source: Path, marker: str, panel: str) -> str:
    """The Markdown with its marker line replaced by the interactive panel (filled in by the page script)."""
    text = source.read_text()
    if marker not in text:
        raise ValueError(f"{source} has no {marker} line")
    return text.replace(marker, panel)


def on_config(config):
    """The navigation follows the course: home, the modules in order, the milestones in history, progress."""
    course = course_of(config)
    config["extra"]["tt_course"] = course  # for the other hooks (instructors.py)
    config["site_name"] = course.title
    config["nav"] = [
        {"Home": "index.md"},
        {"Modules": [{f"{m.id} · {m.title}": f"modules/{m.id}-{m.slug}.md"} for m in course.modules]},
        {"Milestones": [{f"{m.year} · {m.title}": f"milestones/{m.id}-{m.slug}.md"} for m in course.milestones]},
        {"Your progress": "progress.md"},
    ]
    return config


def on_files(files, config):
    course = config["extra"]["tt_course"]
    for m in course.modules:
        page = _page(m.lesson_file, "<!-- workbench -->", f'<div class="tt-workbench" data-module="{m.id}"></div>')
        files.append(File.generated(config, f"modules/{m.id}-{m.slug}.md", content=page))
    for m in course.milestones:
        page = _page(m.story_file, "<!-- milestone -->", f'<div class="tt-milestone" data-milestone="{m.id}"></div>')
        files.append(File.generated(config, f"milestones/{m.id}-{m.slug}.md", content=page))
    return files


def on_page_markdown(markdown, page, config, files):
    """Pages with a workbench or a milestone start Python as early as they can; `<!-- module-list -->` on a page
    becomes the list of the course's modules and milestones."""
    page.meta["python"] = 'class="tt-workbench"' in markdown or 'class="tt-milestone"' in markdown
    if "<!-- module-list -->" not in markdown:
        return markdown
    course = config["extra"]["tt_course"]
    rows = ["| # | Module | What you build |", "|---|---|---|"]
    entries = [(m.id, f"[{m.title}](modules/{m.id}-{m.slug}.md)", m.summary) for m in course.modules]
    rows += [f"| {i} | {title} | {summary} |" for i, title, summary in sorted(entries)]
    rows += ["", "| Year | Milestone | Needs modules |", "|---|---|---|"]
    dated = [(m.year, f"[{m.title}](milestones/{m.id}-{m.slug}.md): {m.summary}", m.requires)
             for m in course.milestones]
    rows += [f"| {year} | {title} | 01-{requires} |" for year, title, requires in sorted(dated)]
    return markdown.replace("<!-- module-list -->", "\n".join(rows))
