"""mkdocs hook: mkdocs-material's script asks V8 to compile all its functions while it downloads.

V8 compiles a function the first time it runs, on the page's main thread. Material's script runs most of its functions
as the page starts (its components mount on DOMContentLoaded), so that compiling sits inside its two longest tasks.
The magic comment `//# allFunctionsCalledOnLoad` (V8's explicit compile hints) has them compiled on a background
thread as the file streams in. Other engines read a comment. Not for the course's own scripts: their chunks (the
editor's, most of all) hold far more functions than a page start runs, and compiling them all took both cores from
Python's restore (a warm visit 1.18x slower, 9 interleaved pairs).
"""
from __future__ import annotations

import json
from pathlib import Path

HINT = "//# allFunctionsCalledOnLoad\n"  # must be the file's first line


def on_post_build(config):
    for script in (Path(config.site_dir) / "assets" / "javascripts").glob("bundle.*.min.js"):
        text = script.read_text()
        if text.startswith(HINT):  # a build into a folder it already wrote, that kept the file
            continue
        script.write_text(HINT + text)
        source_map = script.with_name(script.name + ".map")
        if source_map.exists():  # every generated line moved down by one: an empty line first
            mapping = json.loads(source_map.read_text())
            mapping["mappings"] = ";" + mapping["mappings"]
            source_map.write_text(json.dumps(mapping))
