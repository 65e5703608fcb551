"""Signing an IMAP account in from the console, in a real browser: the device code shown on the
page and approved at the fake authorization server, or the browser sent to the fake's authorize
endpoint and back to the console's callback (PKCE); the page saying signed in, and the source
(against Dovecot, XOAUTH2) recovering in the running daemon without a restart."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli, serving, wait_until, write_config
from tests.test_console import browser, expect, screenshot  # noqa: F401  (the module's browser fixture)
from tests.test_imap_oauth import auth, mail, oauth_table, server, tokens_of  # noqa: F401  (fixtures)
from tests.test_service import free_port

pytestmark = pytest.mark.slow


def _health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get("connectors", {})  # {}: busy


@contextlib.contextmanager
def signed_out(tmp_path: Path, server, auth, fake_omi, **options) -> Iterator[tuple[int, Path, Path]]:  # noqa: F811
    """The daemon with one OAuth2 IMAP source, work-mail, failing for want of a sign-in:
    (the console's port, the config, the daemon's log)."""
    port = free_port()
    connectors = oauth_table(server, auth, name="work-mail", poll_interval=1, folders=["INBOX"], **options)
    config = write_config(tmp_path, fake_omi.url, connectors=connectors, listen=f"127.0.0.1:{port}")
    log = tmp_path / "daemon.log"
    with serving(config, log):
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "failing", 30)
        yield port, config, log


def test_the_device_code_sign_in_completes_in_the_page_and_the_source_recovers(
        tmp_path, server, auth, fake_omi, browser) -> None:  # noqa: F811
    with signed_out(tmp_path, server, auth, fake_omi) as (port, config, _):
        link = run_cli("console", "-c", str(config)).stdout.split()[-1]
        context = browser.new_context(viewport={"width": 1200, "height": 700})
        page = context.new_page()
        page.goto(link)
        page.goto(f"http://127.0.0.1:{port}/problems")
        page.get_by_role("link", name="Sign in from this console").click()
        page.get_by_role("button", name="Sign work-mail in").click()
        said = page.locator(".said").first
        said.wait_for(timeout=10000)
        code = re.search(r"enter the code (\S+)", said.inner_text())
        assert code, page.content()
        assert f"open {auth.url}/device" in said.inner_text()
        screenshot(page, "sign-in-code")
        auth.approve(code.group(1), "alice")
        page.get_by_role("status").filter(has_text="work-mail: signed in").wait_for(timeout=30000)
        assert "alice@127.0.0.1" in page.get_by_role("status").inner_text()
        html = page.content()
        assert tokens_of(config, "work-mail").exists()
        assert not [t for t in auth.issued_tokens() if t in html]  # the tokens never reach the page
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "ok", 40)  # no restart
        server.append("alice", mail(3))
        assert wait_until(lambda: "Body of message 3" in " ".join(fake_omi.texts()), 30)
        context.close()


def test_the_browser_sign_in_goes_to_the_provider_and_back_and_the_source_recovers(
        tmp_path, server, auth, fake_omi, browser) -> None:  # noqa: F811
    with signed_out(tmp_path, server, auth, fake_omi, oauth2_flow="browser", idle=True,
                    oauth2_authorize_url=f"{auth.url}/authorize") as (port, config, log):
        context = browser.new_context(viewport={"width": 1200, "height": 700})
        page = context.new_page()
        page.goto(run_cli("console", "-c", str(config)).stdout.split()[-1])
        # an answer no sign-in here started (an old tab, a forged link) ends nothing
        page.goto(f"http://127.0.0.1:{port}/signin/callback?code=stolen&state=guessed")
        expect(page.get_by_role("alert")).to_contain_text("belongs to no sign-in under way here")
        page.goto(f"http://127.0.0.1:{port}/signin")
        expect(page.get_by_text(f"http://127.0.0.1:{port}/signin/callback")).to_be_visible()  # to register
        button = page.get_by_role("button", name=f"Sign work-mail in at {auth.url.removeprefix('http://')}")
        auth.consenting_user = None  # the person declines at the provider
        button.click()
        expect(page.get_by_role("status")).to_contain_text("work-mail: failed (access_denied: the sign-in was "
                                                           "declined at the provider)")
        assert not tokens_of(config, "work-mail").exists()
        auth.consenting_user = "alice"
        page.goto(f"http://127.0.0.1:{port}/signin")
        page.get_by_role("button", name=f"Sign work-mail in at {auth.url.removeprefix('http://')}").click()
        expect(page.get_by_role("status")).to_contain_text("work-mail: signed in (alice@127.0.0.1", timeout=30000)
        screenshot(page, "sign-in-browser")
        asked = [path for method, path, _, _ in auth.requests if path.startswith("/authorize")][-1]
        assert "code_challenge_method=S256" in asked and "state=" in asked
        assert ("/token", "authorization_code", "ok") in auth.calls  # the fake checked the PKCE verifier
        assert tokens_of(config, "work-mail").exists()
        assert not [t for t in auth.issued_tokens() if t in page.content()]
        page.get_by_role("link", name="Back to the Sign in page").click()
        expect(page.get_by_role("status")).to_contain_text("work-mail: signed in")
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "ok", 40)  # no restart
        page.goto(f"http://127.0.0.1:{port}/source?name=work-mail")  # what it does now, updating itself
        expect(page.locator("ul.doing")).to_contain_text("IDLE connected on INBOX", timeout=20000)
        server.append("alice", mail(4))
        assert wait_until(lambda: "Body of message 4" in " ".join(fake_omi.texts()), 30)
        assert not [t for t in auth.issued_tokens() if t in log.read_text()]
        context.close()
