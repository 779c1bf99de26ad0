"""mkdocs hook: each table of a page in a <div> of its own.

mkdocs-material's script wraps every table (for scrolling it sideways on a phone) when a page starts. A table that is
a child of the lesson itself makes that a change to the lesson's list of children, and material's rules on the order
of those children then restyle the whole lesson, inside material's longest start-up task. Inside a <div> of its own,
the change restyles the table alone. The page looks the same.
"""
from __future__ import annotations

import re

TABLE = re.compile(r"<table>.*?</table>", re.DOTALL)  # as markdown writes them: material wraps only class-less ones


def on_page_content(html, page, config, files):
    return TABLE.sub(lambda match: f'<div class="tt-table">{match.group(0)}</div>', html)
