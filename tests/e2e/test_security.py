"""The promise "no other host, ever", enforced by the browser: every page carries a Content-Security-Policy, the
Python worker one of its own (serve.py, the service worker) and a guard that tells the learner what happened.
An injected inline script does not run; a request to another origin from the page, the worker or Python is
refused and never arrives. (The rest of the e2e suite runs with the policy on: everything the course does works.)"""
import http.server
import re
import time

import pytest

from conftest import DIST, ThreadedServer, open_module

PAGE = "modules/01-tensor/"


class OtherHost(ThreadedServer):
    """Another origin on this machine (127.0.0.1, another port) that counts the requests reaching it."""

    def __init__(self):
        self.hits = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(b"secret")

            def log_message(self, *args):
                pass

        super().__init__(http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture
def other_host():
    host = OtherHost()
    yield host
    host.stop()


def test_every_page_has_a_policy_before_its_scripts(built_site):
    pages = sorted(DIST.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        html = path.read_text()
        meta = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
        assert meta, f"{path} has no Content-Security-Policy"
        policy = meta.group(1)
        assert "connect-src 'self'" in policy and "default-src 'self'" in policy and "'unsafe-eval'" not in policy
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], f"{path}: inline scripts allowed"
        first_script = html.find("<script")
        assert first_script == -1 or meta.start() < first_script, f"{path}: a script comes before the policy"


def run_python(page, code):
    """Run `code` in the tab's Python; returns its output and error text."""
    return page.evaluate("""async (code) => {
        let out = "";
        const reply = await window.tinytorch.runtime.request("run", { module: "01", learner: {}, code },
            { onOutput: (chunks) => chunks.forEach((c) => { out += c.text; }) });
        return out + (reply.error || (reply.result && reply.result.error) || ""); }""", code)


def test_injected_scripts_do_not_run_and_the_page_reaches_no_other_host(server, browser_profile, other_host):
    page = open_module(browser_profile(), server.url + PAGE)
    page.evaluate("""() => { window.__violations = [];
        document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective));
        const script = document.createElement('script');
        script.textContent = 'window.__injected = "script"';
        document.body.append(script);
        const box = document.createElement('div');
        box.innerHTML = '<img src="data:," onload="window.__injected = \\'handler\\'">';
        document.body.append(box); }""")
    refused = page.evaluate("url => fetch(url).then(() => 'fetched', (e) => 'refused: ' + e.message)", other_host.url)
    time.sleep(0.5)
    assert page.evaluate("window.__injected") is None
    assert refused.startswith("refused")
    assert {"script-src-elem", "script-src-attr", "connect-src"} <= set(page.evaluate("window.__violations"))
    assert other_host.hits == []


@pytest.mark.parametrize("how", ["open_url", "js.fetch", "pyfetch"])
def test_python_reaching_another_host_is_refused_with_a_message(server, browser_profile, other_host, how):
    page = open_module(browser_profile(), server.url + PAGE)
    code = {"open_url": f"from pyodide.http import open_url\nprint(open_url({other_host.url!r}).read())\n",
            "js.fetch": f"import js\njs.fetch({other_host.url!r})\n",
            "pyfetch": f"from pyodide.http import pyfetch\npyfetch({other_host.url!r}).send(None)\n"}[how]
    said = run_python(page, code)
    assert f"Refused: your code tried to reach {other_host.url.rstrip('/')}" in said, said
    assert "never contacts another host" in said and "secret" not in said
    time.sleep(0.3)
    assert other_host.hits == []


WORKER_HAS_A_POLICY = """import js
from pyodide.code import run_js
try:
    run_js("1 + 1")
    print("eval allowed")
except Exception as error:
    print("eval refused:", type(error).__name__)
try:
    js.WebSocket.new(URL)  # Chromium refuses it after the constructor returns: only the other host can tell
    print("websocket created")
except Exception as error:
    print("websocket refused:", type(error).__name__)
"""


def test_the_worker_runs_under_its_own_policy(server, browser_profile, other_host):
    """Beyond the guard: the worker script's Content-Security-Policy (sent by serve.py) refuses eval and a
    WebSocket to another host, which the guard does not wrap."""
    page = open_module(browser_profile(), server.url + PAGE)
    said = run_python(page, WORKER_HAS_A_POLICY.replace("URL", repr("ws" + other_host.url[4:])))
    assert "eval refused" in said, said
    time.sleep(1)
    assert other_host.hits == []


def test_on_a_plain_host_the_service_worker_gives_the_worker_its_policy(plain_server, browser_profile, other_host):
    """A host that sends no headers: on the first visit only the guard stands in the worker (fetch and
    XMLHttpRequest refused with the message); from the next load the service worker adds the policy."""
    page = open_module(browser_profile(), plain_server.url + PAGE)
    assert "Refused: your code tried to reach" in run_python(page, f"import js\njs.fetch({other_host.url!r})\n")
    first = run_python(page, "from pyodide.code import run_js\nprint(run_js('1 + 1'))\n")
    assert first.strip() == "2", first  # no policy in the worker yet: what a first visit to a plain host gets
    page.wait_for_function("navigator.serviceWorker.controller !== null || "
                           "navigator.serviceWorker.ready.then((r) => !!r.active)")
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    later = run_python(page, WORKER_HAS_A_POLICY.replace("URL", repr("ws" + other_host.url[4:])))
    assert "eval refused" in later, later
    time.sleep(1)
    assert other_host.hits == []
