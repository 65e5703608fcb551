"""What a source costs in Omi writes, per grouping mode.

    python -m benchmarks.writes [--messages 20000] [--mails 10000]

Omi takes about 25 conversation writes an hour per key, so the number of conversations a
source becomes is how long it takes to arrive.

- Slack: a generated export (tests/slack_data.py: bursts, threads from one reply to hundreds,
  replies hours and days later) imported by the real ``slack-export`` connector, once per
  ``group`` mode. Printed: messages, conversations, writes (outbox rows: a conversation over
  100,000 characters is several), writes per 1,000 messages, the share of one-line
  conversations, how often a thread's replies of one day were split over several
  conversations, and the days the writes take at 25 an hour.
- Mail: a generated year of one person's mail (tests/mail_data.py: threads of 1 to 15 mails,
  replies that quote, a Sent folder, newsletters, notifications, list mail) as one mbox (the
  shape of a Google Takeout), imported by the real ``mbox`` connector per mode: one
  conversation per mail (``group = "message"``), the default (a thread's mails of a day), and
  the default with ``backfill = "direct"`` and ``"replied"``. Printed: mails, writes, writes
  per 1,000 mails, mails skipped, days at 25 writes an hour.
"""

from __future__ import annotations

import argparse
import json
import logging
import mailbox
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.connector import Sink  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.mail.archive import MboxConfig, MboxConnector  # noqa: E402
from connectors.slack.export import SlackExportConfig, SlackExportConnector  # noqa: E402
from tests.mail_data import ME, make_year  # noqa: E402
from tests.slack_data import make_export  # noqa: E402

WRITES_PER_HOUR = 25


def slack(zip_path: Path, group: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "state.db")
        config = SlackExportConfig(type="slack-export", path=zip_path, timezone="UTC", group=group)
        SlackExportConnector("team", config).poll(Sink(store, "team", config, lambda: None))
        writes = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        items = store.conn.execute("SELECT item_key, thread, at, group_id FROM items WHERE NOT deleted").fetchall()
        store.close()
    per_group: dict[int, int] = defaultdict(int)
    thread_days: dict[tuple[str, str], set[int]] = defaultdict(set)
    for _, thread, at, group_id in items:
        per_group[group_id] += 1
        if thread is not None:
            day = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")
            thread_days[(thread, day)].add(group_id)
    messages = len(items)
    conversations = len(per_group)
    return {
        "source": "slack-export", "group": group, "messages": messages, "conversations": conversations,
        "writes": writes, "writes_per_1000": round(writes / messages * 1000, 1),
        "one_line_share": round(sum(1 for n in per_group.values() if n == 1) / conversations, 3),
        "thread_days_split": sum(1 for groups in thread_days.values() if len(groups) > 1),
        "days_at_25_per_hour": round(writes / WRITES_PER_HOUR / 24, 1),
    }


def mail(mbox_path: Path, mails: int, mode: str) -> dict:
    options = {"message": {"group": "message"}, "default": {}, "direct": {"backfill": "direct", "me": [ME]},
               "replied": {"backfill": "replied", "me": [ME]}}[mode]
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "state.db")
        config = MboxConfig(type="mbox", path=mbox_path, progress=False, **options)
        MboxConnector("mail", config).poll(Sink(store, "mail", config, lambda: None))
        writes = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        skipped = store.conn.execute("SELECT count(*) FROM skipped").fetchone()[0]
        store.close()
    return {"source": "mbox", "mode": mode, "mails": mails, "writes": writes,
            "writes_per_1000": round(writes / mails * 1000, 1), "skipped": skipped,
            "days_at_25_per_hour": round(writes / WRITES_PER_HOUR / 24, 1)}


def main() -> None:
    logging.disable(logging.WARNING)  # every skipped newsletter would be a line
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--mails", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        zip_path = Path(folder) / "export.zip"
        make_export(zip_path, args.messages)
        for group in ("burst", "day"):
            print(json.dumps(slack(zip_path, group)), flush=True)
        box = make_year(args.mails)
        mbox_path = Path(folder) / "all.mbox"
        archive = mailbox.mbox(mbox_path)
        for raw in box.all:
            archive.add(raw)
        archive.close()
        for mode in ("message", "default", "direct", "replied"):
            print(json.dumps(mail(mbox_path, len(box.all), mode)), flush=True)


if __name__ == "__main__":
    main()
