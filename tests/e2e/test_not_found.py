"""The 404 page under a sub-path (https://host/course/...), as a static host serves it for any missing address:
it finds the course root and shows the not-found page with the site's styles, menu and links, and a guess of what
was meant. No request fails on the way (only the missing address itself)."""
import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from conftest import DIST
from serve import CourseHandler, CourseServer


class SubPathHandler(CourseHandler):
    """dist/ served under /course/, with /course/404.html for any missing address under it (a host configured
    like GitHub Pages for a project site, or nginx's error_page)."""

    def send_error(self, code, message=None, explain=None):
        page = Path(self.directory, "course", "404.html")
        if code != 404:
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def sub_path_server(built_site, tmp_path):
    os.symlink(DIST, tmp_path / "course")
    httpd = CourseServer(("127.0.0.1", 0), functools.partial(SubPathHandler, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}/course/"
    httpd.shutdown()
    httpd.server_close()


def test_a_missing_page_under_a_sub_path_leads_back_into_the_course(sub_path_server, browser_profile):
    context = browser_profile()
    page = context.pages[0] if context.pages else context.new_page()
    failed = []
    page.on("response", lambda r: r.status >= 400 and failed.append((r.status, r.url)))
    page.goto(sub_path_server + "modules/03-layer/")  # a typo in a lecture slide's link
    page.wait_for_url("**/course/not-found/**")
    page.wait_for_selector(".tt-not-found .admonition")
    text = page.inner_text(".tt-not-found")
    assert "/course/modules/03-layer/" in text
    guess = page.get_by_role("link", name="module 03 · Layers")
    assert guess.get_attribute("href").endswith("/course/modules/03-layers/")
    # Styled by the site's own stylesheet (the header in the course colour), with menu links under /course/.
    assert page.evaluate("getComputedStyle(document.querySelector('.md-header')).backgroundColor") == "rgb(191, 54, 12)"
    hrefs = page.evaluate("[...document.querySelectorAll('.md-nav a')].map((a) => a.href)")
    assert hrefs and all(h.startswith(sub_path_server) for h in hrefs), hrefs[:5]
    assert failed == [(404, sub_path_server + "modules/03-layer/")], failed
    guess.click()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
