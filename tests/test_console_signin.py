"""Signing an Outlook-style IMAP account in from the console, in a real browser: the device code
shown on the page, approved at the fake authorization server, the page saying signed in, and the
source (against Dovecot, XOAUTH2) recovering in the running daemon without a restart."""

from __future__ import annotations

import re
import signal

import httpx
import pytest

from tests.conftest import run_cli, start_daemon, wait_until, write_config
from tests.test_console import browser, screenshot  # noqa: F401  (the module's browser fixture)
from tests.test_imap_oauth import auth, mail, oauth_table, server, tokens_of  # noqa: F401  (fixtures)
from tests.test_service import free_port

pytestmark = pytest.mark.slow


def _health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json().get("connectors", {})  # {}: busy


def test_the_device_code_sign_in_completes_in_the_page_and_the_source_recovers(
        tmp_path, server, auth, fake_omi, browser) -> None:  # noqa: F811
    port = free_port()
    connectors = oauth_table(server, auth, name="work-mail", poll_interval=1, folders=["INBOX"])
    config = write_config(tmp_path, fake_omi.url, connectors=connectors, listen=f"127.0.0.1:{port}")
    log = tmp_path / "daemon.log"
    daemon = start_daemon(config, log)
    try:
        assert wait_until(lambda: "listening on" in log.read_text(), 30)
        assert wait_until(lambda: _health(port).get("work-mail", {}).get("state") == "failing", 30)
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
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
