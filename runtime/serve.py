#!/usr/bin/env python3
"""Serve the built course on 127.0.0.1 (standard library only; also shipped inside the offline bundle).

    python serve.py [--port 8000] [--dir SITE] [--no-isolation]

Workers and service workers do not run from file://, so the course needs a local server. It sends the
cross-origin isolation headers (COOP/COEP) that let Stop interrupt Python at once, the Python worker's
Content-Security-Policy (pages carry theirs in a <meta> tag), long-lived caching for versioned runtime files, the
build's brotli or gzip copy of a file to a browser that accepts it, and the site's own 404 page for a missing
address.
"""
from __future__ import annotations

import argparse
import email.utils
import functools
import http.server
import os
import re
import sys
import urllib.parse
from pathlib import Path

# The compressed copies the build writes beside each file, best first.
ENCODINGS = {"br": ".br", "gzip": ".gz"}
# Paths whose content never changes under the same name: the versioned Pyodide folder, hashed theme assets.
IMMUTABLE = re.compile(r"^/pyodide/[\d.]+/|\.[0-9a-f]{8,}\.min\.(js|css)$")
# The Python worker's Content-Security-Policy, written by the build (site/hooks/security.py); pages carry theirs.
WORKER_SCRIPT, WORKER_POLICY = "/assets/tt/worker.js", "assets/tt/worker-policy.txt"


class CourseHandler(http.server.SimpleHTTPRequestHandler):
    isolation = True
    precompressed = True  # send the build's .br/.gz copies; False: every file as it is, like a plain host
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                      ".whl": "application/octet-stream", ".zip": "application/zip", ".json": "application/json"}

    def send_head(self):
        """The file, or its brotli or gzip copy (written by the build) when the browser accepts that encoding."""
        path = self.translate_path(self.path)
        if os.path.isdir(path) and self.path.split("?", 1)[0].endswith("/"):
            path = os.path.join(path, "index.html")
        accepted = {part.split(";")[0].strip() for part in self.headers.get("Accept-Encoding", "").split(",")}
        encoding = next((e for e in ENCODINGS if e in accepted and os.path.isfile(path + ENCODINGS[e])
                         and self.precompressed), None)
        if encoding is None or not os.path.isfile(path):
            return super().send_head()
        modified = os.stat(path).st_mtime
        if self._unchanged_since_asked(modified):
            self.send_response(304)
            self.end_headers()
            return None
        try:
            f = open(path + ENCODINGS[encoding], "rb")
        except OSError:
            return super().send_head()
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
        self.send_header("Last-Modified", self.date_time_string(modified))
        self.end_headers()
        return f

    def _unchanged_since_asked(self, modified: float) -> bool:
        """If-Modified-Since, as the standard handler answers it for uncompressed files."""
        asked = self.headers.get("If-Modified-Since")
        if not asked or "If-None-Match" in self.headers:
            return False
        try:
            return int(modified) <= email.utils.parsedate_to_datetime(asked).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False

    def end_headers(self):
        self.send_header("Vary", "Accept-Encoding")
        path, _, query = self.path.partition("?")
        # An address with ?v= names its content's version (build.py), so what it holds never changes either.
        immutable = IMMUTABLE.search(path) or "v" in urllib.parse.parse_qs(query)
        self.send_header("Cache-Control", "public, max-age=31536000, immutable" if immutable else "no-cache")
        if self.isolation:
            if path.endswith(WORKER_SCRIPT):  # a worker has its own response's policy, not its page's
                policy = Path(self.directory, WORKER_POLICY)
                if policy.exists():
                    self.send_header("Content-Security-Policy", policy.read_text().strip())
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        super().end_headers()

    def send_error(self, code, message=None, explain=None):
        """A missing address gets the site's own 404 page, as static hosts serve it (it finds the course from there)."""
        page = Path(self.directory, "404.html")
        if code != 404 or not page.exists():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404, message)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):  # quiet: one line per error only
        if args and str(args[1]).startswith(("4", "5")):
            super().log_message(format, *args)


class CourseServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A browser closing a connection mid-response (a cancelled download, a closed tab) is no error of ours.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def make_server(directory: Path, port: int = 8000, isolation: bool = True,
                precompressed: bool = True) -> CourseServer:
    handler = functools.partial(type("Handler", (CourseHandler,), {"isolation": isolation,
                                                                  "precompressed": precompressed}),
                                directory=str(directory))
    return CourseServer(("127.0.0.1", port), handler)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent / "site")
    parser.add_argument("--no-isolation", action="store_true",
                        help="send no COOP/COEP headers and no worker Content-Security-Policy, like a plain static host")
    args = parser.parse_args(argv)
    if not (args.dir / "index.html").exists():
        sys.exit(f"no built site in {args.dir}")
    server = make_server(args.dir, args.port, not args.no_isolation)
    print(f"Serving the course at http://127.0.0.1:{server.server_port}/  (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
