"""An Outlook.com source added in the console from start to end, in a real browser: the form's
preset carries Microsoft's endpoints, which its Advanced part (the documented ``host``, ``port``,
``security``, ``oauth2_device_url`` and ``oauth2_token_url`` options) points at the loopback
servers: the fake authorization server and a Dovecot that checks each XOAUTH2 token there. Saving
writes the table, the daemon reloads, the page shows the device code, and once it is approved the
source reads mail into the fake Omi with no restart and no terminal."""

from __future__ import annotations

import re

import pytest

from tests.conftest import run_cli, serving, wait_until, write_config
from tests.test_console import browser, screenshot  # noqa: F401  (the module's browser fixture)
from tests.test_imap_oauth import auth, mail, server, tokens_of  # noqa: F401  (fixtures)
from tests.test_service import free_port

pytestmark = pytest.mark.slow


def test_an_outlook_source_is_added_signed_in_and_read_from_the_console(
        tmp_path, server, auth, fake_omi, browser) -> None:  # noqa: F811
    port = free_port()
    config = write_config(tmp_path, fake_omi.url, listen=f"127.0.0.1:{port}")
    log = tmp_path / "daemon.log"
    with serving(config, log):
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(run_cli("console", "-c", str(config)).stdout.split()[-1])
        page.goto(f"http://127.0.0.1:{port}/sources")
        page.get_by_role("link", name="Outlook.com").click()
        page.get_by_label("Source name").fill("outlook")
        page.get_by_label("Address").fill("alice")
        page.get_by_label("Application (client) id").fill("test-client")
        # the preset's real endpoints are what the Advanced part shows until changed
        assert "login.microsoftonline.com/consumers" in page.get_by_label("Token endpoint").get_attribute("placeholder")
        page.get_by_text("Advanced: the provider's settings").click()
        page.get_by_label("Server").fill("127.0.0.1")
        page.get_by_label("Port").fill(str(server.port))
        page.get_by_label("Security").select_option("none")
        page.get_by_label("Device code endpoint").fill(f"{auth.url}/devicecode")
        page.get_by_label("Token endpoint").fill(f"{auth.url}/token")
        page.get_by_role("button", name="Test").click()
        expect_status = page.get_by_role("status").filter(has_text="not signed in")
        expect_status.wait_for(timeout=15000)  # nothing to read before the sign-in, and the test says why
        page.get_by_role("button", name="Save").click()
        said = page.locator(".said").first  # the Sign in page, the code already asked for
        said.wait_for(timeout=30000)
        code = re.search(r"enter the code (\S+)", said.inner_text())
        assert code, page.content()
        assert f"open {auth.url}/device" in said.inner_text()
        table = config.read_text().split("[connectors.outlook]\n", 1)[1]
        assert table == (f'type = "imap"\nprovider = "outlook"\nusername = "alice"\noauth2_client_id = "test-client"\n'
                         f'backfill = "all"\ngroup = "auto"\nhost = "127.0.0.1"\nport = {server.port}\n'
                         f'security = "none"\noauth2_device_url = "{auth.url}/devicecode"\n'
                         f'oauth2_token_url = "{auth.url}/token"\n')
        auth.approve(code.group(1), "alice")
        page.get_by_role("status").filter(has_text="outlook: signed in").wait_for(timeout=30000)
        screenshot(page, "outlook-signed-in")
        assert tokens_of(config, "outlook").exists()
        assert not [t for t in auth.issued_tokens() if t in page.content() + config.read_text()]
        server.append("alice", mail(7))
        assert wait_until(lambda: "Body of message 7" in " ".join(fake_omi.texts()), 60), log.read_text()
        assert "already there" not in " ".join(fake_omi.texts())  # no since: only mail from the first start on
        context.close()
