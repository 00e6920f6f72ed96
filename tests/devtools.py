"""Debian's Chromium, headless, driven over the DevTools protocol with `websockets`, for the
browser tests: the review page (server-rendered forms: wait for page loads) and the Airflow
UI (a single-page app: type like a person, wait for page content)."""
from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from websockets.sync.client import connect

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--remote-debugging-port=0"]


class Browser:
    """One Chromium page in a fresh profile."""

    def __init__(self, width: int = 1600, height: int = 1000):
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self.proc = subprocess.Popen(["chromium", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
                                      *CHROMIUM_FLAGS, "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file, deadline = self.profile / "DevToolsActivePort", time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        page = next(t for t in requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
                    if t["type"] == "page")
        self.ws = connect(page["webSocketDebuggerUrl"], max_size=None)
        self._ids = itertools.count(1)
        self._loads = 0  # page loads seen and not yet waited for
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _receive(self) -> dict:
        message = json.loads(self.ws.recv(timeout=60))
        if message.get("method") == "Page.loadEventFired":
            self._loads += 1
        return message

    def send(self, method: str, **params) -> dict:
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = self._receive()
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def open(self, url: str) -> None:
        """Start loading `url` (a single-page app: then wait_for what should appear)."""
        self.send("Page.navigate", url=url)

    def navigate(self, action) -> None:
        """Run `action` (which makes the page navigate) and wait for the new page's load."""
        self._loads = 0
        action()
        while not self._loads:
            self._receive()

    def load(self, url: str) -> None:
        """Open `url` and wait until it has loaded."""
        self.navigate(lambda: self.send("Page.navigate", url=url))

    def click_and_load(self, selector: str) -> None:
        """Click like a person (the browser builds and sends the form itself) and wait for the next page."""
        self.navigate(lambda: self.js(f"document.querySelector({json.dumps(selector)}).click()"))

    def fill(self, selector: str, value: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).value = {json.dumps(value)}")

    def js(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, what: str | None = None):
        """Until the JavaScript expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.js(expression)
            except RuntimeError:  # the page is navigating
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout:.0f}s for {what or expression}; at {self.js('location.href')}: "
                                   f"{self.text()[:500]!r}")
            time.sleep(0.25)

    def type_into(self, selector: str, text: str) -> None:
        """Focus the field and type, as keyboard input (frameworks see their input events)."""
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def text(self) -> str:
        return self.js("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)
