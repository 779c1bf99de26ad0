"""mkdocs hook: the stable links instructors put on slides, the embed view of each workbench, the instructors page.

The URL scheme (docs/instructors.md), relative to the site's root, whatever host or sub-path serves it:

    modules/06-autograd/                     a module's page
    modules/06-autograd/#exercise-6-2        an exercise: an anchor the build adds where the lesson introduces it
    modules/06-autograd/#measurement-NAME    a lesson measurement: NAME is the slug of the heading above it
    milestones/1986-mlp/                     a milestone
    progress/                                the learner's progress page (export and import)
    embed/06-autograd/                       the workbench alone, for an iframe (also: modules/06-autograd/?embed=1)
    instructors/                             every link above, with copy buttons and embed snippets

Module and milestone ids and slugs are the stable part: they come from module.toml / milestone.toml and never
change once a class has links to them. The anchors are made by the build, so lessons need no markup for them.
"""
from __future__ import annotations

import re

from markdown.extensions.toc import slugify
from mkdocs.structure.files import File

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
EMBED_HEIGHT = 760


def exercise_anchor(exercise_id: str) -> str:
    return "exercise-" + exercise_id.replace(".", "-")


def _anchor(anchor_id: str) -> list[str]:
    return [f'<div id="{anchor_id}" class="tt-anchor"></div>', ""]  # a block: markdown puts it in no paragraph


def _mentions(line: str, exercise_id: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(exercise_id)}(?![\d])", line) is not None


def add_anchors(markdown: str, exercises) -> tuple[str, list[tuple[str, str]]]:
    """The lesson with an anchor before the place each exercise is introduced (its heading, else the paragraph
    that starts with its number, else the workbench) and before each runnable measurement. Returns the text and
    the measurements' (anchor, heading) pairs."""
    lines = markdown.split("\n")
    in_fence, heading, insert, measurements, seen = False, "", {}, [], {}
    places: dict[str, int] = {}
    for index, line in enumerate(lines):
        if FENCE.match(line):
            if not in_fence and ".tt-run" in line:
                base = "measurement-" + (slugify(heading, "-") or "code")
                seen[base] = seen.get(base, 0) + 1
                anchor = base if seen[base] == 1 else f"{base}-{seen[base]}"
                insert.setdefault(index, []).append(anchor)
                measurements.append((anchor, heading))
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        match = HEADING.match(line)
        if match:
            heading = match.group(2)
        for e in exercises:
            if e.id in places:
                continue
            if (match and _mentions(heading, e.id)) or re.match(rf"^\*\*{re.escape(e.id)}\b", line):
                places[e.id] = index
    workbench = next((i for i, line in enumerate(lines) if 'class="tt-workbench"' in line), 0)
    for e in reversed(exercises):
        insert.setdefault(places.get(e.id, workbench), []).insert(0, exercise_anchor(e.id))
    out = []
    for index, line in enumerate(lines):
        for anchor in insert.get(index, []):
            out.extend(_anchor(anchor))
        out.append(line)
    return "\n".join(out), measurements


def _embed_page(m) -> str:
    return (f"---\ntemplate: embed.html\ntitle: \"{m.id} · {m.title}\"\nsearch:\n  exclude: true\n---\n\n"
            f'<div class="tt-embed-view" markdown="0">\n'
            f'<div class="tt-workbench" data-module="{m.id}" data-embed=""></div>\n'
            f'<p class="tt-embed-link"><a href="../../modules/{m.id}-{m.slug}/" target="_blank" rel="noopener">'
            f"Open the full lesson: {m.id} · {m.title}</a></p>\n</div>\n")


def _copy(path: str, label: str = "Copy link") -> str:
    return f'<button type="button" class="md-button tt-copy" data-copy="{path}">{label}</button>'


def _instructors_page(course, measurements: dict) -> str:
    out = ["# For instructors", "",
           "Links for your slides and your LMS, and an embeddable workbench for every module. Every link is relative to "
           "this site, so it works wherever the course is hosted; **Copy link** copies the full address. The scheme, "
           "how to build the course for your class (`course.toml`), grading exported work and hosting are in the "
           "repository's `docs/instructors.md` and `docs/grading.md`.", "",
           "| What | Link |", "|---|---|",
           f"| Course home | [./](index.md) {_copy('')} |",
           f"| Your learners' progress page (export for grading) | [progress/](progress.md) {_copy('progress/')} |", ""]
    for m in course.modules:
        page = f"modules/{m.id}-{m.slug}"
        solution = "ships" if course.ships_solution(m.id) else "**withheld** (learners must write it themselves)"
        out += [f"## {m.id} · {m.title}", "", f"Reference solution: {solution}.", "",
                "| What | Link |", "|---|---|",
                f"| Module page | [{page}/]({page}.md) {_copy(page + '/')} |"]
        for e in m.exercises:
            anchor = exercise_anchor(e.id)
            out.append(f"| Exercise {e.id}: {e.title} | [#{anchor}]({page}.md#{anchor}) {_copy(f'{page}/#{anchor}')} |")
        for anchor, heading in measurements.get(m.id, []):
            out.append(f"| Measurement: {heading or 'code'} | [#{anchor}]({page}.md#{anchor}) "
                       f"{_copy(f'{page}/#{anchor}')} |")
        embed = f"embed/{m.id}-{m.slug}/"
        out.append(f"| Workbench alone, for an iframe | [{embed}](embed/{m.id}-{m.slug}.md) {_copy(embed)} "
                   f"{_copy(embed, 'Copy embed snippet').replace('data-copy=', 'data-copy-embed=')} |")
        out += ["", f'<pre class="tt-snippet" data-embed="{embed}" data-title="{m.id} {m.title}"><code>'
                f'&lt;iframe src="{embed}" title="{m.id} {m.title}" width="100%" height="{EMBED_HEIGHT}" '
                f'loading="lazy"&gt;&lt;/iframe&gt;</code></pre>', ""]
    out += ["## Milestones", "", "| Milestone | Link |", "|---|---|"]
    for m in course.milestones:
        page = f"milestones/{m.id}-{m.slug}"
        out.append(f"| {m.year} · {m.title} | [{page}/]({page}.md) {_copy(page + '/')} |")
    return "\n".join(out) + "\n"


def on_config(config):
    config["nav"].append({"For instructors": "instructors.md"})
    return config


def on_files(files, config):
    course = config["extra"]["tt_course"]  # loaded by site/hooks/course.py
    measurements = {}
    for m in course.modules:
        _, found = add_anchors(m.lesson_file.read_text(), m.exercises)
        measurements[m.id] = found
        files.append(File.generated(config, f"embed/{m.id}-{m.slug}.md", content=_embed_page(m)))
    files.append(File.generated(config, "instructors.md", content=_instructors_page(course, measurements)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Module pages get their exercise and measurement anchors."""
    match = re.fullmatch(r"modules/(\d+)-[\w-]+\.md", page.file.src_uri)
    if not match:
        return markdown
    module = next((m for m in config["extra"]["tt_course"].modules if m.id == match.group(1)), None)
    return add_anchors(markdown, module.exercises)[0] if module else markdown
