"""The web console in a real browser (Debian's Chromium driven by Playwright) against the real
daemon, the fake Omi, a spool and a folder of .eml files. One daemon and one browser serve the
module; each test drops its own files. Each page's screenshot is saved (in docs/, for the README,
with OMI_BRIDGE_SCREENSHOTS=docs)."""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.console.auth import token_file
from bridge.store import Store
from tests.conftest import API_KEY, drop_files, run_cli, serving, wait_until, write_config
from tests.fake_omi import FakeOmi
from tests.test_service import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# the pictures the README shows: written to docs/ when OMI_BRIDGE_SCREENSHOTS=docs (refreshing them
# is a choice, not a side effect of every run), else beside the test run's other temporary files
DOCS = (Path(__file__).parent.parent / "docs" if os.environ.get("OMI_BRIDGE_SCREENSHOTS") == "docs"
        else Path(tempfile.gettempdir()) / "omi-bridge-screenshots")
PAGES = {"overview": "/", "activity": "/activity", "skipped": "/skipped", "problems": "/problems",
         "source": "/source?name=drop", "conversation": "/conversation?id=1", "signin": "/signin"}

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - only where the test extra is not installed
    sync_playwright = None

if sync_playwright is None or not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("the console's browser tests need Playwright (pip) and Chromium (apt-get install chromium)"
                           " under CI")
    pytest.skip("Chromium or Playwright is not installed (apt-get install chromium; pip install playwright)",
                allow_module_level=True)

pytestmark = pytest.mark.slow

NEWSLETTER = (b"From: Weekly Deals <deals@shop.example>\r\nTo: me@example.org\r\nSubject: This week's offers\r\n"
              b"Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <deals-1@shop.example>\r\n"
              b"List-Unsubscribe: <mailto:unsubscribe@shop.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
              b"\r\nEverything half price this week.\r\n")


class Bridge:
    """The daemon under test: its folder, its console's address, its state."""

    def __init__(self, folder: Path, omi: FakeOmi) -> None:
        self.folder = folder
        self.omi = omi
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        connectors = ('[connectors.drop]\ntype = "spool"\npath = "spool"\npoll_interval = 0.5\nsettle_seconds = 0\n\n'
                      '[connectors.letters]\ntype = "eml"\npath = "letters"\npoll_interval = 0.5\n')
        (folder / "letters").mkdir()
        (folder / "spool").mkdir()
        self.config = write_config(folder, omi.url, connectors=connectors, listen=f"127.0.0.1:{self.port}")
        self.log = folder / "daemon.log"
        self.store = Store(folder / "state.db")

    def link(self) -> str:
        result = run_cli("console", "-c", str(self.config))
        assert result.returncode == 0, result.stderr
        return result.stdout.split()[-1]

    def status(self) -> dict:
        result = run_cli("status", "--json", "-c", str(self.config))
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def sent_with(self, text: str) -> int:
        return sum(text in t for t in self.omi.texts())


@pytest.fixture(scope="module")
def bridge(tmp_path_factory) -> Iterator[Bridge]:
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as omi:
        running = Bridge(tmp_path_factory.mktemp("console"), omi)
        with serving(running.config, running.log):
            yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def link(bridge: Bridge) -> str:
    return bridge.link()


@pytest.fixture
def page(browser: Browser, bridge: Bridge, link: str) -> Iterator[Page]:
    """A browser tab signed in by the printed link."""
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.goto(link)
    assert tab.url == bridge.url + "/"  # the token traded for a cookie, and gone from the address
    yield tab
    context.close()


def screenshot(tab: Page, name: str) -> None:
    DOCS.mkdir(exist_ok=True)
    tab.screenshot(path=str(DOCS / f"console-{name}.png"), full_page=True)


def test_a_dropped_file_appears_in_activity_without_a_reload(bridge, page) -> None:
    page.goto(bridge.url + "/activity")
    page.evaluate("window.notReloaded = true")
    words = f"Picked up the bicycle from the repair shop {time.time():.0f}"
    drop_files(bridge.folder / "spool", [f"{words}\nThe chain was replaced and the brakes adjusted."])
    expect(page.get_by_text(words)).to_be_visible(timeout=5000)
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "activity")
    page.get_by_role("link", name=re.compile(r"^file ")).first.click()
    expect(page.locator("pre.text")).to_contain_text("The chain was replaced and the brakes adjusted.")
    screenshot(page, "conversation")
    page.goto(bridge.url + "/activity?q=" + "bicycle brakes")  # every word, anywhere in the text
    expect(page.get_by_text(words)).to_be_visible()
    page.goto(bridge.url + "/activity?q=" + "bicycle unicycle")
    expect(page.get_by_text("Nothing sent with those words")).to_be_visible()


def test_a_skipped_newsletter_shows_under_its_reason_and_the_totals_match_status(bridge, page) -> None:
    (bridge.folder / "letters" / "deals.eml").write_bytes(NEWSLETTER)
    (bridge.folder / "spool" / "photo.bin").write_bytes(b"\x89PNG\r\n")
    assert wait_until(lambda: bridge.store.rows("SELECT count(*) AS n FROM skipped")[0]["n"] == 2, 30)
    page.goto(bridge.url + "/skipped")
    reason = page.get_by_role("link", name="automated: List-Unsubscribe header")
    expect(reason).to_be_visible()
    reason.click()
    expect(page.locator("#skipped-live")).to_contain_text("deals.eml")
    page.goto(bridge.url + "/skipped")
    rows = page.locator("#skipped-live table").first.locator("tbody tr").all()
    shown = {(cells[0], cells[1]): (int(cells[2]), int(cells[3]))
             for cells in (row.locator("td").all_inner_texts() for row in rows)}
    status = bridge.status()
    assert shown == {(s["connector"], s["reason"]): (s["total"], s["today"]) for s in status["skip_totals"]}
    assert len(shown) == 2
    screenshot(page, "skipped")
    page.goto(bridge.url + "/")
    cards = page.locator(".card .big").all_inner_texts()
    assert cards[1] == str(status["outbox"]["sent"])
    assert cards[3] == str(status["outbox"]["dead"])


def test_a_dead_row_shows_under_problems_and_retry_delivers_it_once(bridge, page) -> None:
    assert wait_until(lambda: bridge.store.counts()["pending"] + bridge.store.counts()["inflight"] == 0, 30)
    bridge.omi.script.append("422")
    words = f"Dentist appointment moved to Thursday {time.time():.0f}"
    drop_files(bridge.folder / "spool", [words])
    assert wait_until(lambda: bridge.store.counts()["dead"] == 1, 30), bridge.log.read_text()
    page.goto(bridge.url + "/problems")
    expect(page.locator("#problems-live")).to_contain_text("injected 422")
    screenshot(page, "problems")
    page.get_by_role("button", name=re.compile(r"^Retry row")).click()
    expect(page.get_by_role("status")).to_contain_text("1 row(s) back in the queue")
    assert wait_until(lambda: bridge.sent_with(words) == 1, 30)
    assert wait_until(lambda: bridge.store.counts()["dead"] == 0, 10)
    time.sleep(1)  # a second delivery would have come by now
    assert bridge.sent_with(words) == 1
    expect(page.locator("#problems-live")).to_contain_text("Not delivered (0)", timeout=5000)


def test_without_the_token_every_page_and_action_is_refused(bridge, browser, page) -> None:
    for path in PAGES.values():
        answer = httpx.get(bridge.url + path)
        assert answer.status_code == 401 and "omi-bridge console -c" in answer.text, path
    assert httpx.get(bridge.url + "/login?token=guessed").status_code == 401
    assert httpx.post(bridge.url + "/problems/retry", data={"all": "1"}).status_code == 401
    # signed in, but the POST comes from elsewhere or without the form's token
    cookies = page.context.cookies()
    jar = {c["name"]: c["value"] for c in cookies}
    own = {"Origin": bridge.url}
    assert httpx.post(bridge.url + "/problems/retry", data={"all": "1"}, cookies=jar,
                      headers={"Origin": "http://evil.example"}).status_code == 403
    assert httpx.post(bridge.url + "/problems/retry", data={"all": "1"}, cookies=jar, headers=own).status_code == 403
    assert all(c["httpOnly"] and c["sameSite"] == "Strict" for c in cookies)
    # a page of another site posting to the console from the signed-in browser: refused
    bridge.omi.script.append("422")
    drop_files(bridge.folder / "spool", [f"Another note for the dead letters {time.time()}"])
    assert wait_until(lambda: bridge.store.counts()["dead"] == 1, 30)
    page.route("http://elsewhere.example/", lambda route: route.fulfill(content_type="text/html", body=(
        f'<form method="post" action="{bridge.url}/problems/retry"><input name="all" value="1">'
        '<button>go</button></form>')))
    page.goto("http://elsewhere.example/")
    with page.expect_navigation():
        page.get_by_role("button", name="go").click()
    assert "Sign in to the console" in page.content()
    assert bridge.store.counts()["dead"] == 1
    anonymous = browser.new_context(viewport={"width": 1200, "height": 600})
    tab = anonymous.new_page()
    tab.goto(bridge.url + "/problems")
    expect(tab.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    screenshot(tab, "signed-out")
    anonymous.close()


def _a_week_of_history(store: Store) -> None:
    """Sent rows over the last 7 days (a day's rhythm) and a backlog the daemon leaves for tomorrow:
    what the Overview looks like after a while, for its picture and its numbers."""
    now = time.time()
    sent = "INSERT INTO outbox (connector, source_key, priority, state, body, created_at, next_attempt_at, sent_at," \
           " omi_id, label) VALUES ('letters', ?, 10, 'sent', ?, ?, ?, ?, ?, ?)"
    waiting = "INSERT INTO outbox (connector, source_key, priority, body, created_at, next_attempt_at, label)" \
              " VALUES ('letters', ?, 10, ?, ?, ?, ?)"
    with store.transaction() as conn:
        for hour in range(1, 168):
            for n in range(max(0, 6 - abs(hour % 24 - 12) // 2) + hour % 3):
                at = now - hour * 3600 + n * 60
                body = json.dumps({"text": f"Earlier note {hour}-{n}", "text_source": "other_text"})
                conn.execute(sent, (f"old-{hour}-{n}", body, at, at, at, f"omi-{hour}-{n}", f"thread 'Week {hour}'"))
        for n in range(40):
            conn.execute(waiting, (f"later-{n}", json.dumps({"text": f"later {n}"}), now, now + 86400,
                                   f"email thread 'Later {n}'"))


def test_no_secret_appears_in_any_page_and_the_overview_counts_as_status_does(bridge, page) -> None:
    _a_week_of_history(bridge.store)
    token = token_file(bridge.folder / "state.db").read()["token"]
    for name, path in PAGES.items():
        page.goto(bridge.url + path)
        html = page.content()
        assert API_KEY not in html and token not in html, name
        if name in ("overview", "source"):
            screenshot(page, name)
    page.goto(bridge.url + "/")
    status = bridge.status()
    cards = page.locator(".card .big").all_inner_texts()
    assert cards[1:] == [str(status["outbox"]["sent"]), str(status["backlog"]["live"] + status["backlog"]["backfill"]),
                         str(status["outbox"]["dead"])]
    assert status["backlog"]["backfill"] == 40


def test_the_source_page_says_what_it_does_now_and_counts_its_cost_as_plan_does(bridge, page) -> None:
    page.goto(bridge.url + "/source?name=letters")
    expect(page.locator("ul.doing")).to_contain_text("Nothing at this moment: it looks again every")
    page.get_by_role("button", name="Count what letters costs").click()
    expect(page.get_by_text("Counted by plan at")).to_be_visible(timeout=30000)
    result = run_cli("plan", "--json", "-c", str(bridge.config))
    assert result.returncode == 0, result.stderr
    planned = json.loads(result.stdout)
    letters = next(s for s in planned["sources"] if s["connector"] == "letters")
    shown = " ".join(page.locator("#source-live").inner_text().split())
    assert (f"{letters['items']:,} item(s) not sent yet -> {letters['conversations']:,} conversation(s), "
            f"{letters['writes']:,} write(s) (live {letters['writes_live']:,}") in shown
    if planned["writes"]["total"]:
        queued = planned["already_queued"]
        assert f"queued already ({queued['live'] + queued['backfill']:,} write(s))" in shown
    else:
        assert "Nothing waits to be delivered." in shown
    screenshot(page, "source-cost")


def test_activity_and_its_search_page_past_the_newest_fifty(bridge, page) -> None:
    word = f"heron{int(time.time())}"
    with bridge.store.transaction() as conn:
        ids = [conn.execute("INSERT INTO outbox (connector, source_key, body, created_at, next_attempt_at, label)"
                            " VALUES ('drop', ?, ?, 1, 1, ?)", (f"{word}-{n}", json.dumps({"text": f"{word} seen"}),
                                                                f"{word} note {n}")).lastrowid for n in range(60)]
    for row in ids:
        bridge.store.mark_sent(row, f"omi-{row}", None)
    page.goto(f"{bridge.url}/activity?q={word}")
    first = page.locator("ol.items h2").all_inner_texts()
    page.get_by_role("link", name="Older").click()
    second = page.locator("ol.items h2").all_inner_texts()
    assert (len(first), len(second)) == (50, 10) and not set(first) & set(second)
    assert f"q={word}" in page.url and not page.get_by_role("link", name="Older").count()
    page.get_by_role("link", name="Newest").click()
    assert page.locator("ol.items h2").all_inner_texts() == first
