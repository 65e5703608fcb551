"""``omi-bridge plan``: counts what every source will cost before anything is sent, and the
counts are what a run then sends."""

from __future__ import annotations

import json
import mailbox
import sqlite3

from tests.conftest import run_cli, write_config
from tests.mail_data import ME, make_year
from tests.slack_data import make_export


def sources(tmp_path) -> str:
    make_export(tmp_path / "export.zip", 600, seed=5)
    box = mailbox.mbox(tmp_path / "all.mbox")
    for raw in make_year(400, seed=9).all:
        box.add(raw)
    box.close()
    return ('[connectors.chat]\ntype = "slack-export"\npath = "export.zip"\ntimezone = "UTC"\n\n'
            f'[connectors.mail]\ntype = "mbox"\npath = "all.mbox"\nme = ["{ME}"]\nbackfill = "replied"\n'
            'exclude_from = ["*@news.example.net"]\n')


def test_plan_counts_what_a_run_then_sends_and_changes_nothing(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url, connectors=sources(tmp_path))
    result = run_cli("plan", "-c", str(config), "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert not (tmp_path / "state.db").exists() and fake_omi.requests == []  # nothing stored, nothing sent
    chat, mail = found["sources"]
    assert chat["items"] == 600 and chat["skipped"] == {}
    assert mail["items"] == 400
    assert mail["skipped"]["excluded: from <address> (exclude_from '*@news.example.net')"] > 0
    assert mail["skipped"]['backfill = "replied": a thread you did not write in'] > 0
    assert found["limit"] == {"count": 25, "window": 3600.0, "source": "default", "live_reserve": 5}
    total = found["writes"]["total"]
    assert total == chat["writes"] + mail["writes"] == found["writes"]["backfill"]
    assert found["seconds"]["total"] == round(total / 20 * 3600)  # backfill gets 20 of every 25 an hour

    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert len(fake_omi.texts()) == total  # the plan was right
    with sqlite3.connect(tmp_path / "state.db") as conn:
        [(stored,)] = conn.execute("SELECT count(*) FROM skipped WHERE connector = 'mail'").fetchall()
    assert stored == sum(mail["skipped"].values())

    text = run_cli("plan", "-c", str(config))  # with everything read and sent: nothing left to cost
    assert text.returncode == 0
    assert "chat: 0 item(s) read -> 0 conversation(s), 0 write(s)" in text.stdout
    assert "total: 0 write(s)" in text.stdout
