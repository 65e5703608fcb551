"""The web console in Firefox (Debian's firefox-esr over WebDriver BiDi, tests/firefox.py) against
the real daemon and the fake Omi: the console must work in current Chromium and Firefox, and the
other console tests cover Chromium. One test walks what a Firefox user meets first: signing in by
the printed link, the live Activity page, an action's form, and being refused without the cookie."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.conftest import drop_files, wait_until
from tests.firefox import FIREFOX, Firefox
from tests.test_console import bridge  # noqa: F401  (the daemon with its console, the fake Omi and a spool)

if FIREFOX is None:
    if os.environ.get("CI"):
        raise RuntimeError("the console's Firefox test needs Firefox under CI (apt-get install firefox-esr)")
    pytest.skip("Firefox is not installed (apt-get install firefox-esr)", allow_module_level=True)

pytestmark = pytest.mark.slow


def shows(words: str, seconds: float = 10) -> str:
    """A script that waits, in the page, until its text holds ``words``; true if it came in time."""
    return (f"new Promise(done => {{ const until = Date.now() + {seconds * 1000};"
            f" (function look() {{ if (document.body.innerText.includes({json.dumps(words)})) done(true);"
            " else if (Date.now() > until) done(false); else setTimeout(look, 100); })(); })")


async def test_firefox_signs_in_by_the_link_sees_activity_live_posts_a_form_and_is_refused_without_the_cookie(
        bridge) -> None:  # noqa: F811
    async with Firefox() as firefox:
        tab = await firefox.new_tab()
        assert await firefox.navigate(tab, bridge.link()) == bridge.url + "/"  # the token is gone from the address
        assert await firefox.evaluate(tab, "document.querySelector('h1').textContent") == "Overview"
        [cookie] = await firefox.cookies(tab)
        assert cookie["httpOnly"] and cookie["sameSite"] == "strict"
        assert await firefox.evaluate(tab, "document.cookie") == ""  # out of the page scripts' reach

        # the live part's script (fetch, DOMParser, replaceWith) brings a new delivery in, no reload
        assert await firefox.navigate(tab, bridge.url + "/activity") == bridge.url + "/activity"
        await firefox.evaluate(tab, "window.notReloaded = true")
        words = f"Firefox picked up the parcel from the post office {time.time():.0f}"
        drop_files(bridge.folder / "spool", [f"{words}\nIt was the new kettle."])
        assert wait_until(lambda: bridge.sent_with(words) == 1, 30), bridge.log.read_text()
        assert await firefox.evaluate(tab, shows(words)), await firefox.evaluate(tab, "document.body.innerText")
        assert await firefox.evaluate(tab, "window.notReloaded") is True

        # an action: the form's POST carries what the console's guard asks of it (Origin, form token)
        await firefox.navigate(tab, bridge.url + "/source?name=drop")
        assert await firefox.submit(tab, "form[action='/source/plan'] button") == bridge.url + "/source?name=drop"
        assert await firefox.evaluate(tab, shows("Counted by plan at", 20)), \
            await firefox.evaluate(tab, "document.body.innerText")

        # a tab with its own (empty) cookie jar: the sign-in page, nothing of what was sent
        stranger = await firefox.new_tab(own_cookies=True)
        await firefox.navigate(stranger, bridge.url + "/activity")
        assert await firefox.evaluate(stranger, "document.querySelector('h1').textContent") == "Sign in to the console"
        text = await firefox.evaluate(stranger, "document.body.innerText")
        assert words not in text and "omi-bridge console -c" in text
        assert await firefox.cookies(stranger) == []
