"""What ``status`` and the log say about a state a person must read at a glance: skips counted by
reason (not a log line a newsletter), and a status that fits a 100-column terminal."""

from __future__ import annotations

import json
import mailbox
import re
import sqlite3
import time

from bridge.assemble import QueuedRequest
from bridge.models import PRIORITY_BACKFILL, CreateConversationRequest, Skip
from bridge.store import Store
from tests.conftest import run_cli, write_config
from tests.mail_data import ME, make_year


def test_skips_are_one_info_line_a_poll_and_status_counts_them_by_reason(tmp_path, fake_omi) -> None:
    box = mailbox.mbox(tmp_path / "all.mbox")
    for raw in make_year(377, seed=4).all:  # newsletters (List-Id), CI notices (noreply@), people
        box.add(raw)
    box.close()
    connectors = f'[connectors.mail]\ntype = "mbox"\npath = "all.mbox"\nme = ["{ME}"]\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr

    with sqlite3.connect(tmp_path / "state.db") as conn:
        stored = dict(conn.execute("SELECT reason, count(*) FROM skipped GROUP BY reason").fetchall())
    news, notices = stored.pop("automated: List-Id header"), stored.pop("automated: sender noreply@ci.example.com")
    assert news > 50 and notices > 10
    said = [line for line in result.stderr.splitlines() if "skipped" in line]
    # one line for the poll, at INFO, the most frequent reason first; not one WARNING a mail
    (line,) = said
    counted = sum([news, notices, *stored.values()])
    assert re.search(rf" INFO bridge\.connector: mail: skipped {counted}: automated: List-Id header {news}, "
                     rf"automated: sender <address> {notices}", line), line

    status = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    totals = {s["reason"]: (s["total"], s["today"]) for s in status["skip_totals"] if s["connector"] == "mail"}
    assert totals["automated: List-Id header"] == (news, news)  # all time, and today
    assert totals["automated: sender <address>"] == (notices, notices)
    (mail,) = status["connectors"]
    assert mail["skipped"] == mail["skipped_today"] == counted
    assert len(status["skipped"]) == 10  # the last ones, each with its own reason
    text = run_cli("status", "-c", str(config)).stdout
    assert re.search(rf"mail\s+automated: List-Id header\s+{news}\s+{news}\n", text)
    assert re.search(rf"mail\s+automated: sender <address>\s+{notices}\s+{notices}\n", text)


def _busy_state(path) -> None:
    """What a year of use leaves: failing sources with long errors, dead rows with Message-IDs
    for keys, skips with long reasons, Omi refusing the key."""
    store = Store(path)
    store.submit("work-mail-at-the-office", [
        QueuedRequest(f"mid:<CAF{'x' * 40}{i}@mail.gmail.com>",
                      CreateConversationRequest(text=f"mail {i}", started_at="2026-01-05T09:00:00Z"), PRIORITY_BACKFILL)
        for i in range(3)
    ], skips=[Skip(f"mid:<n{i}@news.example.net>", f"excluded: from weekly-digest-{i}@news.example.net (exclude_from "
                   f"'*@news.example.net', '*@marketing.example.com', '*@notifications.example.org')",
                   f"“This week in the garden, issue {i}” from weekly-digest@news.example.net")
              for i in range(12)])
    for row in store.claim_due(time.time() + 10, 3):
        store.mark_dead(row.id, "422: " + json.dumps({"detail": [{"loc": ["body", "text"], "msg": "String should "
                        "have at most 100000 characters", "type": "string_too_long"}] * 3}))
    store.submit("notes", [QueuedRequest(f"n{i}", CreateConversationRequest(text=f"note {i}", started_at="2026-12-01"
                           "T09:00:00Z"), PRIORITY_BACKFILL) for i in range(5)])  # waiting for the key
    store.source_failed("work-mail-at-the-office", "imap.mail.example.com refused the login for "
                        "alice.longname@example.com: [AUTHENTICATIONFAILED] Invalid credentials (Failure) " * 4)
    store.source_failed("family-matrix", "https://matrix.example.org refused the access token "
                        "(M_UNKNOWN_TOKEN: Invalid access token passed.): set a new access_token or run "
                        "omi-bridge login family-matrix")
    store.source_ok("notes")
    store.set_meta("omi_state", json.dumps({
        "state": "failing", "since": time.time() - 600,
        "error": "Omi refused the API key (401: {\"detail\": \"Invalid API key\"}): the key is missing, wrong or "
                 "revoked; sending paused, trying again every 300s"}))
    store.close()


def test_status_fits_100_columns_and_keeps_what_matters(tmp_path, fake_omi) -> None:
    connectors = "".join(
        f'[connectors.{name}]\ntype = "spool"\npath = "spool"\n\n'
        for name in ("work-mail-at-the-office", "family-matrix", "notes", "telegram-export-of-2019-to-2024"))
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    _busy_state(tmp_path / "state.db")
    result = run_cli("status", "-c", str(config))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    too_wide = [line for line in text.splitlines() if len(line) > 100]
    assert too_wide == []
    # each failing source's error is under the table, from its start; a very long one says where it is whole
    assert "    https://matrix.example.org refused the access token (M_UNKNOWN_TOKEN: Invalid access token" in text
    assert "    imap.mail.example.com refused the login for alice.longname@example.com:" in text
    assert "(whole in status --json)" in text
    assert "delivered not while Omi refuses the key" in " ".join(text.split())
    assert "    Omi refused the API key (401:" in text
    assert re.search(r"work-mail-at-the-office\s+excluded: from <address> \(exclude_from '\*@news[^\n]*\s12\s+12\n",
                     text)
    assert re.search(r"\n\d+\s+work-mail-at-the-office\s+mid:<CAFx+…\s+422: ", text)  # a dead row, cut
    assert "telegram-export-of…" in text or "telegram-export-of-2019-to-2024" in text


def test_a_paused_source_is_marked_paused_in_status_and_its_json(tmp_path, fake_omi) -> None:
    connectors = ('[connectors.notes]\ntype = "spool"\npath = "spool"\n\n'
                  '[connectors.old-phone]\ntype = "spool"\npath = "spool"\npaused = true\n')
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    Store(tmp_path / "state.db").close()  # a state, as after the first run
    text = run_cli("status", "-c", str(config)).stdout
    assert re.search(r"\nold-phone\s+spool\s+paused\s", text), text
    assert re.search(r"\nnotes\s+spool\s+not polled yet\s", text), text
    found = {c["name"]: c for c in json.loads(run_cli("status", "--json", "-c", str(config)).stdout)["connectors"]}
    assert (found["old-phone"]["paused"], found["notes"]["paused"]) == (True, False)
