"""mkdocs hook: every page carries a Content-Security-Policy in a <meta> tag, so that even a plain static host
(which sends no headers) enforces "no other host, ever": scripts, styles, workers, images, fonts and connections
come from the site itself, WebAssembly may compile, and inline scripts run only if the build put them there (each
allowed by its sha256, computed here from the page as written). An injected <script> or event-handler attribute,
or a fetch to any other host, is refused by the browser.

The Python worker is not governed by its page's policy (a worker gets the policy of its own script's response):
WORKER_POLICY is sent with the worker script by runtime/serve.py and by the service worker (runtime/src/sw.js),
and runtime/src/offline-guard.js refuses other hosts from inside the worker as well, with a message for the learner.
"""
from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

# Styles may be inline: CodeMirror, uPlot and mkdocs-material set style attributes from script, and a style cannot
# reach another host when images, fonts and connections are limited to 'self'.
PAGE_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {hashes}; style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; "
               "manifest-src 'self'; media-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'")
WORKER_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; object-src 'none'; "
                 "base-uri 'none'")

_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>(?:(?!\bsrc=)[^>])*)>(?P<body>.*?)</script>", re.S | re.I)
_TYPE = re.compile(r"""\btype\s*=\s*["']?([^"'\s>]+)""", re.I)


def inline_script_hashes(html: str) -> list[str]:
    """The CSP source of each inline script the browser would run (JSON data blocks are not run, so not listed)."""
    hashes = []
    for match in _INLINE_SCRIPT.finditer(html):
        kind = _TYPE.search(match["attrs"])
        if kind and kind.group(1).lower() not in ("module", "text/javascript", "application/javascript"):
            continue
        digest = hashlib.sha256(match["body"].encode()).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return list(dict.fromkeys(hashes))


def with_policy(html: str) -> str:
    """The page with its policy as the first thing in <head> after the charset (it applies to what follows it)."""
    policy = PAGE_POLICY.format(hashes=" ".join(inline_script_hashes(html)))
    meta = f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
    charset = re.search(r"<meta charset=[^>]*>", html, re.I)
    if charset is None:
        raise ValueError("a page without <meta charset>: cannot place the Content-Security-Policy before its scripts")
    return html[:charset.end()] + "\n    " + meta + html[charset.end():]


WORKER_POLICY_FILE = "assets/tt/worker-policy.txt"  # read by build.py (for sw.js) and runtime/serve.py


def on_post_build(config):
    (Path(config.site_dir) / WORKER_POLICY_FILE).parent.mkdir(parents=True, exist_ok=True)
    (Path(config.site_dir) / WORKER_POLICY_FILE).write_text(WORKER_POLICY)


def on_post_page(output, page, config):
    return with_policy(output)


def on_post_template(output_content, template_name, config):
    return with_policy(output_content) if template_name.endswith(".html") else output_content
