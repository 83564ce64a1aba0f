"""A headless Chromium for tests, driven through chromedriver's W3C WebDriver protocol with the standard library.

No browser download and no Python package: Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``). Without them the tests that ask for the ``browser`` fixture skip and say what to install.
Traffic goes to 127.0.0.1 only (chromedriver's port, and the page under test); every wait is bounded.

    from browser import browser                  # tests/conftest.py puts tests/ on the path

    def test_page(browser):
        browser.get("http://127.0.0.1:8765/")
        browser.type("#step", " 18 minus 1 is 17 .")
        browser.click("#send")
        browser.wait_text("#result", "Recorded", timeout=30)
        browser.screenshot("docs/img/play-turn.png")
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C name of an element reference
CHROME_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
               "--disable-extensions", "--mute-audio"]


def find_binaries() -> tuple[str | None, str | None]:
    chromium = next((p for p in (os.environ.get("CHROMIUM"), shutil.which("chromium"),
                                 shutil.which("chromium-browser")) if p and os.path.exists(p)), None)
    return chromium, os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(RuntimeError):
    pass


class Browser:
    """One chromedriver process and one browser session; ``close`` ends both."""

    def __init__(self, chromium: str, chromedriver: str, *, width: int = 900, height: int = 700, timeout: float = 30):
        self.timeout, self.port = timeout, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.profile = tempfile.TemporaryDirectory(prefix="tandem-chromium-")
        self.proc = subprocess.Popen([chromedriver, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.session = None
        try:
            self._wait_ready()
            caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
                "binary": chromium, "args": CHROME_ARGS + [f"--user-data-dir={self.profile.name}",
                                                           f"--window-size={width},{height}"]}}}}
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise WebDriverError(f"chromedriver exited with code {self.proc.returncode}")
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.1)
        raise WebDriverError(f"chromedriver not ready after {self.timeout} s")

    def _call(self, method: str, path: str, body=None, timeout: float | None = None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as err:
            raise WebDriverError(f"{method} {path}: {err.code} {err.read()[:500]!r}") from None

    def _s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    # -- what tests use -------------------------------------------------------------------------------------------
    def get(self, url: str) -> None:
        self._call("POST", self._s("/url"), {"url": url})

    def find(self, css: str) -> str:
        return self._call("POST", self._s("/element"), {"using": "css selector", "value": css})[ELEMENT]

    def type(self, css: str, text: str) -> None:
        self._call("POST", self._s(f"/element/{self.find(css)}/value"), {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", self._s(f"/element/{self.find(css)}/click"), {})

    def text(self, css: str) -> str:
        return self._call("GET", self._s(f"/element/{self.find(css)}/text"))

    def script(self, js: str, *args):
        return self._call("POST", self._s("/execute/sync"), {"script": js, "args": list(args)})

    def wait(self, js: str, *, timeout: float = 30.0):
        """Poll ``js`` (a function body returning a value) until it is truthy; its value, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(js)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for: {js}")
            time.sleep(0.05)

    def wait_text(self, css: str, needle: str, *, timeout: float = 30.0) -> str:
        js = (f"const e = document.querySelector({json.dumps(css)}); "
              f"return e && e.textContent.includes({json.dumps(needle)}) ? e.textContent : null;")
        return self.wait(js, timeout=timeout)

    def screenshot(self, path: str | os.PathLike) -> None:
        png = base64.b64decode(self._call("GET", self._s("/screenshot")))
        with open(path, "wb") as fh:
            fh.write(png)

    def close(self) -> None:
        try:
            if self.session is not None:
                self._call("DELETE", f"/session/{self.session}", timeout=10)
        except (OSError, WebDriverError):
            pass
        finally:
            self.session = None
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            self.profile.cleanup()


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium (skips, saying what to install, when Chromium or chromedriver is absent)."""
    chromium, driver = find_binaries()
    if not chromium or not driver:
        why = ("headless browser test: Chromium and chromedriver not found (Debian: apt-get install chromium "
               "chromium-driver; or set CHROMIUM / CHROMEDRIVER)")
        if os.environ.get("TANDEM_REQUIRE_BROWSER") == "1":  # CI installed them: a skip would hide a broken install
            pytest.fail(why + "; TANDEM_REQUIRE_BROWSER=1 is set")
        pytest.skip(why)
    b = Browser(chromium, driver)
    try:
        yield b
    finally:
        b.close()
