"""Firefox ESR (Marionette, through PyPI's marionette-driver) and WebKitGTK (its WebDriver, through Selenium), driven
the same way: a fresh profile, JavaScript run in the page's own scope, waits by polling. Debian's packages
`firefox-esr` and `webkit2gtk-driver` (with its MiniBrowser); WebKit runs under Xvfb and a real locale.

A trap proxy on 127.0.0.1 stands for every other host: both browsers send it any request that would leave
127.0.0.1, so a test can assert there was none (and, with a canary request, that the trap does see them).
"""
from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

FIREFOX = "/usr/bin/firefox-esr"
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
MINIBROWSER = next(Path("/usr/lib").glob("*/webkit2gtk-4.*/MiniBrowser"), None)
# WebKit under the process locale C reports the language tag "C", which its own Intl then refuses; learners run
# a real locale. (The runtime survives "C" too: runtime/src/locale.js.)
WEBKIT_LOCALE = "en_US.UTF-8"
# Seconds a WebDriver command may go unanswered before it fails (Selenium would wait for ever); longer than the
# page-load and script limits the drivers enforce themselves.
PAGE_LOAD_TIMEOUT, SCRIPT_TIMEOUT, COMMAND_TIMEOUT = 180, 200, 240


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Trap:
    """A proxy that answers every request with 403 and remembers which host it was for."""

    def __init__(self):
        hosts = self.hosts = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def _refuse(self):
                hosts.append(self.path.split("/")[2] if "://" in self.path else self.path)
                self.send_error(403)

            do_GET = do_POST = do_HEAD = do_CONNECT = do_OPTIONS = _refuse

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_port
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# Firefox's own background traffic (updates, telemetry, captive portal, remote settings), off: the trap is for the
# course's requests.
FIREFOX_PREFS = {
    "app.update.disabledForTesting": True, "browser.shell.checkDefaultBrowser": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False, "browser.safebrowsing.update.enabled": False,
    "datareporting.healthreport.uploadEnabled": False, "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False, "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False, "dom.push.connection.enabled": False,
    "extensions.update.enabled": False, "extensions.getAddons.cache.enabled": False,
    "services.settings.server": "http://127.0.0.1:1/", "browser.region.network.url": "",
    "network.dns.disablePrefetch": True, "network.prefetch-next": False, "browser.newtabpage.enabled": False,
    "network.proxy.type": 1, "network.proxy.allow_hijacking_localhost": False, "network.proxy.no_proxies_on": "",
}


class Firefox:
    name = "firefox"

    def __init__(self, trap: Trap, private: bool = False):
        """`private`: every window a private one (no OPFS; storage kept only while the browser runs)."""
        from marionette_driver.marionette import Marionette
        prefs = {**FIREFOX_PREFS, **{f"network.proxy.{kind}": "127.0.0.1" for kind in ("http", "ssl")},
                 **{f"network.proxy.{kind}_port": trap.port for kind in ("http", "ssl")},
                 "browser.privatebrowsing.autostart": private}
        self.client = Marionette(host="127.0.0.1", port=free_port(), bin=FIREFOX, headless=True, prefs=prefs,
                                 startup_timeout=180, socket_timeout=COMMAND_TIMEOUT,
                                 gecko_log=os.path.join(tempfile.gettempdir(), "tt-gecko.log"))
        self.client.start_session()
        self.client.timeout.page_load = PAGE_LOAD_TIMEOUT
        self.client.timeout.script = SCRIPT_TIMEOUT

    def open(self, url):
        self.client.navigate(url)

    def reload(self):
        self.client.refresh()

    def js(self, script, *args):
        """Run `script` (a function body) in the page's own scope, not a sandbox: the page's globals are visible."""
        return self.client.execute_script(script, script_args=list(args), sandbox=None)

    def close(self):
        self.client.cleanup()


class WebKit:
    name = "webkit"

    def __init__(self, trap: Trap):
        from selenium import webdriver
        from selenium.webdriver.common.proxy import Proxy
        from selenium.webdriver.remote.client_config import ClientConfig
        from selenium.webdriver.remote.remote_connection import RemoteConnection
        from selenium.webdriver.webkitgtk.options import Options
        from selenium.webdriver.webkitgtk.service import Service
        self.xvfb = Xvfb()  # always our own display: a DISPLAY or WAYLAND_DISPLAY inherited may lead nowhere
        options = Options()
        options.binary_location = str(MINIBROWSER)
        options.add_argument("--automation")
        options.proxy = Proxy({"proxyType": "manual", "httpProxy": f"127.0.0.1:{trap.port}",
                               "sslProxy": f"127.0.0.1:{trap.port}", "noProxy": ["127.0.0.1"]})
        env = {**{k: v for k, v in os.environ.items() if k != "WAYLAND_DISPLAY"}, "LANG": WEBKIT_LOCALE,
               "LC_ALL": WEBKIT_LOCALE, "DISPLAY": self.xvfb.display, "GDK_BACKEND": "x11"}
        self.log = Path(tempfile.mkstemp(prefix="tt-webkit-", suffix=".log")[1])
        self.service = Service(executable_path=WEBKIT_DRIVER, port=free_port(), env=env, log_output=str(self.log))
        self.service.start()
        try:
            self.driver = webdriver.Remote(RemoteConnection(client_config=ClientConfig(
                self.service.service_url, timeout=COMMAND_TIMEOUT)), options=options)
        except BaseException:
            self._stop_processes()
            raise
        self.driver.set_page_load_timeout(PAGE_LOAD_TIMEOUT)
        self.driver.set_script_timeout(SCRIPT_TIMEOUT)

    def open(self, url):
        self.driver.get(url)

    def reload(self):
        self.driver.refresh()

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def close(self):
        try:
            self.driver.quit()
        finally:
            self._stop_processes()

    def _stop_processes(self):
        self.service.stop()
        self.xvfb.stop()
        # Shown by pytest only when the test failed: what WebKitWebDriver and MiniBrowser said.
        print(f"--- {self.log} (last 60 lines)\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-60:]))


class Xvfb:
    """A virtual display of our own (WebKitGTK's MiniBrowser needs one), on a free display number."""

    def __init__(self):
        self.process = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        number = self.process.stdout.readline().decode().strip()
        if not number:
            raise RuntimeError(f"Xvfb did not start (exit code {self.process.wait(10)})")
        self.display = ":" + number

    def stop(self):
        self.process.terminate()
        self.process.wait(10)


ENGINES = {"firefox": Firefox, "webkit": WebKit}


def missing(name: str) -> str | None:
    """Why this engine cannot run here, or None."""
    if name == "firefox":
        return None if Path(FIREFOX).exists() else f"{FIREFOX} (Debian firefox-esr) is not installed"
    if not (Path(WEBKIT_DRIVER).exists() and MINIBROWSER and shutil.which("Xvfb")):
        return "WebKitWebDriver, MiniBrowser (Debian webkit2gtk-driver) or Xvfb (xvfb) is not installed"
    locales = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.lower().split()
    if WEBKIT_LOCALE.lower().replace("utf-8", "utf8") not in locales:
        return f"the locale {WEBKIT_LOCALE} is not generated (locale-gen {WEBKIT_LOCALE})"
    return None


def wait_for(engine, condition: str, timeout: float = 300, what: str = "") -> object:
    """Poll `condition` (a JavaScript expression) until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = engine.js(f"try {{ return {condition}; }} catch (e) {{ return null; }}")
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{engine.name}: {what or condition} not true after {timeout} s")
        time.sleep(0.2)
