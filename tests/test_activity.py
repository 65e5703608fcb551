"""What a source is doing now (bridge/activity.py), as its page shows it: a progress bar's count
reported on a terminal or not, an estimate from the rate so far, and plan's reads kept out."""

from __future__ import annotations

import asyncio
import contextlib
import mailbox
import time

from bridge import activity
from bridge.config import load_config
from bridge.connector import PreviewSink, call
from bridge.plan import plan
from bridge.progress import Bar
from bridge.registry import build_connector
from tests.conftest import API_KEY, write_config


def test_a_bar_reports_its_count_without_a_terminal_and_is_gone_when_closed() -> None:
    with Bar(total=200, desc="archive", disable=True, source="archive", doing="importing the mbox") as bar:
        bar.update(50)
        [now] = activity.doing("archive")
        assert (now.what, now.done, now.total, now.percent) == ("importing the mbox", 50, 200, 25)
    assert activity.doing("archive") == []
    seen = [activity.doing("chat")[0].done for _ in Bar(["a", "b", "c"], disable=True, source="chat")]
    assert seen == [1, 2, 3] and activity.doing("chat") == []


def test_the_estimate_is_what_is_left_at_the_rate_so_far() -> None:
    half = activity.Doing("backfilling INBOX", done=500, total=1000, started=100.0, at=150.0)
    assert half.seconds_left() == 50.0
    assert activity.Doing("syncing a gap in INBOX", done=0, total=10, started=1.0, at=1.0).seconds_left() is None


def test_a_read_for_plan_is_not_the_source_s_activity(tmp_path, monkeypatch) -> None:
    """plan reads sources in the daemon's process (the source page's "Count" button): its
    reads stay out of what the page says the source is doing, unlike the daemon's own."""
    box = mailbox.mbox(tmp_path / "old.mbox")
    for n in range(60):
        box.add(f"From: a@example.org\nSubject: note {n}\nMessage-ID: <n{n}@example.org>\n"
                f"Date: Tue, 01 Dec 2026 09:00:00 +0000\n\nBody {n}\n")
    box.close()
    monkeypatch.setenv("OMI_API_KEY", API_KEY)
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9", connectors=(
        f'[connectors.old]\ntype = "mbox"\npath = "{tmp_path / "old.mbox"}"\n')))

    def read(quiet: bool) -> list[str]:
        seen: list[str] = []
        sink = PreviewSink(None, "old", config.connectors["old"])
        sink.on_items = lambda count: seen.extend(d.what for d in activity.doing("old"))
        with activity.unreported() if quiet else contextlib.nullcontext():
            asyncio.run(call(build_connector(config, "old").poll, sink))
        return seen

    assert "importing the mbox (messages)" in read(quiet=False)  # the daemon's poll shows
    assert read(quiet=True) == []
    assert plan(config, None, {"old": build_connector(config, "old")}, only=["old"])["sources"][0]["items"] == 60


def test_the_source_page_shows_a_backfill_with_its_bar_count_and_estimate(tmp_path, monkeypatch) -> None:
    from aiohttp.test_utils import make_mocked_request

    from bridge.console import Console
    from bridge.store import Store

    monkeypatch.setenv("OMI_API_KEY", API_KEY)
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9", connectors=(
        '[connectors.mail]\ntype = "spool"\npath = "spool"\npoll_interval = 60\n')))
    console = Console(lambda: config, Store(config.state_path), lambda: None)

    def page() -> str:
        context = console._source(make_mocked_request("GET", "/source?name=mail"))
        return " ".join(console.env.get_template(context.pop("template")).render(nav=[], csrf="", **context).split())

    assert "Nothing at this moment: it looks again every" in page()
    activity.report("mail", "poll", "backfilling INBOX (mail since 2026-01-01)", 0, 4000)
    time.sleep(0.05)
    activity.advanced("mail", "poll", 1000)
    shown = page()
    assert '<progress value="1000" max="4000"' in shown
    assert "backfilling INBOX (mail since 2026-01-01): " in shown
    assert "1,000 of 4,000 (25%), less than a minute left" in shown
    activity.clear("mail", "poll")
