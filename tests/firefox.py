"""Debian's Firefox ESR driven over WebDriver BiDi, the W3C protocol Firefox speaks natively: no
geckodriver (Debian 12 has none) and no patched browser build (Playwright's Firefox needs one, and
these machines cannot download it). Firefox is started headless with a fresh profile and
``--remote-debugging-port=0``; it writes the port it chose into the profile's
WebDriverBiDiServer.json, and the client talks JSON commands over aiohttp's websocket.

Only what the console's tests need: open tabs (optionally in a user context of their own, which
has its own cookies), navigate, submit a form, evaluate a script, read cookies. The protocol:
https://w3c.github.io/webdriver-bidi/"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")

# no first-run pages or default-browser question; BiDi only (the old CDP endpoint is deprecated).
# Firefox applies the rest of its automation prefs itself when remote control is on.
PREFS = {
    "remote.active-protocols": 1,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
}


class BiDiError(RuntimeError):
    """A command Firefox answered with an error, or a script that threw."""


class Firefox:
    """A headless Firefox and its one BiDi session; use as ``async with Firefox() as firefox``."""

    def __init__(self, binary: str | None = FIREFOX, start_timeout: float = 30) -> None:
        if binary is None:
            raise FileNotFoundError("Firefox is not installed (apt-get install firefox-esr)")
        self.binary = binary
        self.start_timeout = start_timeout
        self.profile = Path(tempfile.mkdtemp(prefix="omi-bridge-firefox-"))
        self.log = self.profile / "firefox.log"
        self.process: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)
        self.version = ""
        self.loaded: set[str] = set()

    async def __aenter__(self) -> Firefox:
        try:
            port = await self._launch()
            self.http = aiohttp.ClientSession()
            self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}/session", max_msg_size=0)
            session = await self.command("session.new", capabilities={})
            self.version = session["capabilities"]["browserVersion"]
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _launch(self) -> int:
        """Start Firefox; return the port of its BiDi server once it listens."""
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        self.process = subprocess.Popen(
            [self.binary, "--headless", "--no-remote", "--profile", str(self.profile),
             "--remote-debugging-port=0"],
            stdin=subprocess.DEVNULL, stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        server = self.profile / "WebDriverBiDiServer.json"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Firefox exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            if server.exists():
                try:
                    return int(json.loads(server.read_text())["ws_port"])
                except (ValueError, KeyError):
                    pass  # being written
            await asyncio.sleep(0.05)
        raise TimeoutError(f"Firefox's BiDi server did not start in {self.start_timeout} s:"
                           f" {self.log.read_text()[-2000:]}")

    async def command(self, method: str, **params: Any) -> dict:
        """Send one command and return its result."""
        assert self.ws is not None
        number = next(self.ids)
        await self.ws.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self._receive()
            if message.get("id") != number:
                continue
            if message["type"] == "error":
                raise BiDiError(f"{method}: {message['error']}: {message['message']}")
            return message["result"]

    async def _receive(self) -> dict:
        """The next message; of the events only page loads are kept (the tabs they happened in)."""
        assert self.ws is not None
        message = await self.ws.receive_json()
        if message.get("method") == "browsingContext.load":
            self.loaded.add(message["params"]["context"])
        return message

    async def new_tab(self, *, own_cookies: bool = False) -> str:
        """Open a tab and return its context id; with ``own_cookies`` it shares no cookies with the
        other tabs (a new user context, as a private window would be)."""
        params: dict[str, Any] = {"type": "tab"}
        if own_cookies:
            params["userContext"] = (await self.command("browser.createUserContext"))["userContext"]
        return (await self.command("browsingContext.create", **params))["context"]

    async def navigate(self, tab: str, url: str) -> str:
        """Load ``url`` in ``tab``, wait until the page has loaded, return the address it ended at."""
        await self.command("browsingContext.navigate", context=tab, url=url, wait="complete")
        return await self.evaluate(tab, "window.location.href")

    async def submit(self, tab: str, button: str, timeout: float = 30) -> str:
        """Press the form button the CSS selector ``button`` finds, as a person would, and wait
        until the page the form's POST leads to has loaded; return its address."""
        await self.command("session.subscribe", events=["browsingContext.load"], contexts=[tab])
        self.loaded.discard(tab)
        await self.evaluate(tab, f"document.querySelector({json.dumps(button)}).click()")
        async with asyncio.timeout(timeout):
            while tab not in self.loaded:
                await self._receive()
        return await self.evaluate(tab, "window.location.href")

    async def evaluate(self, tab: str, expression: str) -> Any:
        """The value of a script in the page (awaited if it is a promise), passed as JSON."""
        result = await self.command("script.evaluate", target={"context": tab}, awaitPromise=True,
                                    expression=f"(async () => JSON.stringify(await ({expression})))()")
        if result["type"] == "exception":
            raise BiDiError(result["exceptionDetails"]["text"])
        value = result["result"]
        return json.loads(value["value"]) if value["type"] == "string" else None

    async def cookies(self, tab: str) -> list[dict]:
        """The cookies the browser holds for ``tab``'s user context and site."""
        result = await self.command("storage.getCookies", partition={"type": "context", "context": tab})
        return result["cookies"]

    async def close(self) -> None:
        """Ask Firefox to quit (it ends the session), then make sure it has; remove the profile."""
        if self.ws is not None and not self.ws.closed:
            # the socket may close before the answer arrives
            with contextlib.suppress(BiDiError, TimeoutError, aiohttp.ClientError, TypeError):
                await asyncio.wait_for(self.command("browser.close"), 10)
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        if self.process is not None:
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.profile, ignore_errors=True)
