"""What instructors use, in Chromium: the links page, the embed view (alone, in another site's slides), the course
under a sub-path of a plain static host, and a site built without a graded module's solution."""
import functools
import http.server
import json
import re
import urllib.request
from pathlib import Path

import pytest

import build
from conftest import (BOOT_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, DIST, ThreadedServer, open_module, run_tests,
                      set_editor)
from tinytorch_wasm import curriculum, milestones

TENSOR = curriculum.module("01")
READY = "window.tinytorch && window.tinytorch.runtime.state === 'ready'"


class PlainServer(ThreadedServer):
    """A static host that sends no special header (no COOP/COEP), serving `folder`: `python -m http.server`."""

    def __init__(self, folder: Path):
        handler = type("Quiet", (http.server.SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
        super().__init__(http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                         functools.partial(handler, directory=str(folder))))


@pytest.fixture
def plain_folder_server(tmp_path):
    servers = []

    def start(folder):
        servers.append(PlainServer(folder))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


# --- the instructors page ---------------------------------------------------------------------------------------
def test_the_instructors_page_links_every_module_exercise_and_milestone(server, browser_profile):
    context = browser_profile()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url.rstrip("/"))
    page = context.new_page()
    page.goto(server.url + "instructors/")
    hrefs = page.eval_on_selector_all("article a[href]", "links => links.map((a) => a.href)")
    for module in curriculum.modules():
        for exercise in module.exercises:
            wanted = f"{server.url}modules/{module.id}-{module.slug}/#exercise-{exercise.id.replace('.', '-')}"
            assert wanted in hrefs, f"no link to {wanted}"
        assert f"{server.url}embed/{module.id}-{module.slug}/" in hrefs
    for m in milestones.milestones():
        assert f"{server.url}milestones/{m.id}-{m.slug}/" in hrefs
    # Every link on the page leads to a page that has the anchor it names.
    pages = {}
    for href in {h for h in hrefs if h.startswith(server.url)}:
        address, _, anchor = href.partition("#")
        pages.setdefault(address, urllib.request.urlopen(address).read().decode())
        assert not anchor or f'id="{anchor}"' in pages[address], f"{href}: no element with that id"
    assert any("#measurement-" in h for h in hrefs)

    page.locator(f"button.tt-copy[data-copy='modules/06-autograd/#exercise-6-2']").click()
    page.wait_for_selector(".tt-copied")
    assert page.evaluate("navigator.clipboard.readText()") == f"{server.url}modules/06-autograd/#exercise-6-2"
    snippet = page.inner_text(".tt-snippet[data-embed='embed/06-autograd/']")
    assert snippet.startswith(f'<iframe src="{server.url}embed/06-autograd/"')
    page.locator("button.tt-copy[data-copy-embed='embed/06-autograd/']").click()
    assert page.evaluate("navigator.clipboard.readText()").startswith(f'<iframe src="{server.url}embed/06-autograd/"')


def test_an_exercise_link_lands_on_the_exercise(server, browser_profile):
    page = browser_profile().new_page()
    page.goto(server.url + "modules/06-autograd/#exercise-6-2")
    page.wait_for_function("document.getElementById('exercise-6-2').getBoundingClientRect().top < 200")
    heading = page.evaluate("document.getElementById('exercise-6-2').nextElementSibling.textContent")
    assert heading.startswith("6.2 The backward pass")


# --- the embed view ---------------------------------------------------------------------------------------------
def test_the_embed_view_is_the_workbench_alone_and_shares_saved_work(server, browser_profile):
    context = browser_profile()
    page = open_module(context, server.url + "embed/01-tensor/")
    assert page.locator(".tt-workbench").is_visible()
    for chrome in (".md-header", ".md-sidebar", ".md-footer", ".tt-scratch"):
        assert not page.locator(chrome).is_visible(), f"{chrome} shows in the embed view"
    assert page.locator("h2").count() == 0, "the lesson is in the embed view"
    set_editor(page, TENSOR.reference_source())
    assert run_tests(page)["state"] == "passed"
    page.evaluate("window.tinytorch.workbench.save()")

    full = open_module(context, server.url + "modules/01-tensor/")
    assert full.evaluate("window.tinytorch.workbench.editor.text") == TENSOR.reference_source()
    assert full.evaluate("window.tinytorch.state.progress().modules['01'].passed") is True

    full.goto(server.url + "modules/01-tensor/?embed=1#exercise-1-2")
    full.wait_for_url(server.url + "embed/01-tensor/#exercise-1-2")
    full.wait_for_function(READY, timeout=BOOT_TIMEOUT_MS)


SLIDES = """<!doctype html><meta charset="utf-8"><title>Lecture 6</title><h1>Lecture 6: tensors</h1>
<iframe id="deck" src="{src}" width="900" height="760" title="01 Tensor"></iframe>"""


def test_an_embed_in_slides_on_another_origin_of_the_same_site(server, browser_profile, plain_folder_server, tmp_path):
    """Slides served from another port (another origin, the same site): the workbench runs in the iframe, and its
    saved work is the learner's own on the course's pages."""
    (tmp_path / "index.html").write_text(SLIDES.format(src=server.url + "embed/01-tensor/"))
    slides = plain_folder_server(tmp_path)
    context = browser_profile()
    page = context.new_page()
    page.goto(slides.url)
    frame = page.frame_locator("#deck")
    frame.locator(".tt-workbench[data-runtime='ready']").wait_for(timeout=BOOT_TIMEOUT_MS)
    inner = next(f for f in page.frames if f.url.startswith(server.url))
    inner.evaluate("code => { window.tinytorch.workbench.editor.text = code; window.tinytorch.workbench.save(); }",
                   TENSOR.reference_source())
    frame.locator(".tt-buttons button", has_text="Run tests").click()
    frame.locator(".tt-workbench[data-tests='passed']").wait_for(timeout=BOOT_TIMEOUT_MS)
    course = open_module(context, server.url + "modules/01-tensor/")
    assert course.evaluate("window.tinytorch.workbench.editor.text") == TENSOR.reference_source()


def test_an_embed_in_slides_on_another_site_works_with_storage_of_its_own(server, playwright, tmp_path,
                                                                         plain_folder_server):
    """Slides on another site (here the host name slides.test): the workbench works, but today's browsers give a
    cross-site iframe storage of its own (partitioned by the top-level site), so work done in the slides is not the
    learner's work on the course's own pages. docs/instructors.md says so."""
    (tmp_path / "index.html").write_text(SLIDES.format(src=server.url + "embed/01-tensor/"))
    slides = plain_folder_server(tmp_path)
    args = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    args.append("--host-resolver-rules=MAP slides.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    context = playwright.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM,
                                                           headless=True, args=args)
    try:
        context.set_default_timeout(BOOT_TIMEOUT_MS)
        page = context.new_page()
        page.goto(slides.url.replace("127.0.0.1", "slides.test"))
        frame = page.frame_locator("#deck")
        frame.locator(".tt-workbench[data-runtime='ready']").wait_for()
        inner = next(f for f in page.frames if f.url.startswith(server.url))
        inner.evaluate("() => { window.tinytorch.workbench.editor.text = '# typed in the slides\\n'; "
                       "window.tinytorch.workbench.save(); }")
        assert inner.evaluate("window.tinytorch.state.code('01').code") == "# typed in the slides\n"
        course = context.new_page()
        course.goto(server.url + "modules/01-tensor/")
        course.wait_for_function(READY)
        assert course.evaluate("window.tinytorch.state.code('01')") is None, "storage was not partitioned"
    finally:
        context.close()


# --- hosting ----------------------------------------------------------------------------------------------------
def test_the_course_under_a_sub_path_of_a_plain_static_host(browser_profile, plain_folder_server, tmp_path):
    """https://host/course/ on a host that sends no header (GitHub Pages, `python -m http.server`): modules run,
    work is saved under the sub-path's name, links are the sub-path's, and the service worker isolates the next
    visit so Stop interrupts."""
    (tmp_path / "course").symlink_to(DIST)
    host = plain_folder_server(tmp_path)
    base = host.url + "course/"
    context = browser_profile()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=host.url.rstrip("/"))
    page = open_module(context, base + "modules/01-tensor/")
    set_editor(page, TENSOR.reference_source())
    assert run_tests(page)["state"] == "passed"
    assert page.evaluate("window.tinytorch.store.prefix") == "tinytorch/v1:/course/:"
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.scope)") == base
    page.reload()
    page.wait_for_function(READY, timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("self.crossOriginIsolated") is True
    links = context.new_page()
    links.goto(base + "instructors/")
    links.locator("button.tt-copy[data-copy='progress/']").click()
    links.wait_for_selector(".tt-copied")
    assert links.evaluate("navigator.clipboard.readText()") == base + "progress/"
    embed = open_module(context, base + "embed/02-activations/")
    assert embed.inner_text(".tt-source-summary") == "01 yours"


# --- a course that withholds a solution -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def withheld_site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("withheld-site")
    (folder / "course.toml").write_text('title = "Graded on autograd"\nsolutions = ["01", "02", "03", "04", "05", '
                                        '"07", "08"]\n')
    build.build(dist=folder / "site", course_file=folder / "course.toml")
    return folder / "site"


def test_a_deep_link_past_a_withheld_module_says_what_to_finish_first(withheld_site, plain_folder_server,
                                                                      browser_profile):
    host = plain_folder_server(withheld_site)
    context = browser_profile()
    page = open_module(context, host.url + "modules/07-optimizers/")
    notice = page.locator("[data-finish-first]")
    assert notice.get_attribute("data-finish-first") == "06"
    assert "06 Autograd (not written yet)" in notice.inner_text()
    assert notice.locator("a").get_attribute("href").endswith("modules/06-autograd/")
    page.click(".tt-sources summary")
    autograd = page.locator("li[data-module='06']")
    assert autograd.get_attribute("data-source") == "missing" and autograd.locator("button").count() == 0
    assert page.locator("li[data-module='05'] button").count() == 1, "a shipped reference keeps its switch"
    set_editor(page, curriculum.module("07").reference_source())
    assert run_tests(page)["state"] == "failed", "07 ran without the learner's 06"

    page.evaluate("code => window.tinytorch.state.saveCode('06', code, 'typed')",
                  curriculum.module("06").reference_source())
    page.evaluate("window.tinytorch.state.updateModule('06', { passed: true })")
    page.reload()
    page.wait_for_function(READY, timeout=BOOT_TIMEOUT_MS)
    assert page.locator("[data-finish-first]").count() == 0
    assert run_tests(page)["state"] == "passed"
    autograd = open_module(context, host.url + "modules/06-autograd/")
    assert "withheld" not in autograd.inner_text(".tt-workbench")
    instructors = context.new_page()
    instructors.goto(host.url + "instructors/")
    assert re.search(r"06 · Autograd¶?\s+Reference solution: withheld", instructors.inner_text("article"))
