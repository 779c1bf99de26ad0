#!/usr/bin/env python3
"""Serve the built course on 127.0.0.1 (standard library only; also shipped inside the offline bundle).

    python serve.py [--port 8000] [--dir SITE] [--no-isolation]

Workers and service workers do not run from file://, so the course needs a local server. It sends the
cross-origin isolation headers (COOP/COEP) that let Stop interrupt Python at once, the Python worker's
Content-Security-Policy (pages carry theirs in a <meta> tag), long-lived caching for versioned runtime files, and
the site's own 404 page for a missing address.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import re
import sys
from pathlib import Path

# Paths whose content never changes under the same name: the versioned Pyodide folder, hashed theme assets.
IMMUTABLE = re.compile(r"^/pyodide/[\d.]+/|\.[0-9a-f]{8,}\.min\.(js|css)$")
# The Python worker's Content-Security-Policy, written by the build (site/hooks/security.py); pages carry theirs.
WORKER_SCRIPT, WORKER_POLICY = "/assets/tt/worker.js", "assets/tt/worker-policy.txt"


class CourseHandler(http.server.SimpleHTTPRequestHandler):
    isolation = True
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm",
                      ".whl": "application/octet-stream", ".zip": "application/zip", ".json": "application/json"}

    def end_headers(self):
        path = self.path.split("?", 1)[0]
        self.send_header("Cache-Control", "public, max-age=31536000, immutable" if IMMUTABLE.search(path)
                         else "no-cache")
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


def make_server(directory: Path, port: int = 8000, isolation: bool = True) -> CourseServer:
    handler = functools.partial(type("Handler", (CourseHandler,), {"isolation": isolation}), directory=str(directory))
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
