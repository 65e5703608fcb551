"""LinkedIn's messages.csv (tests/data/chats/linkedin): conversations out of one mixed, newest-first
file, HTML content read as text with links kept, InMail subjects, attachments named, drafts left
out, the person found as the name in every conversation; `preview` and `plan` through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

from bridge.store import Store
from connectors.chats.linkedin import LinkedInConfig, LinkedInConnector
from tests.chat_cli import preview_and_plan, run

CSV = Path(__file__).parent / "data" / "chats" / "linkedin" / "messages.csv"


def linkedin(path: Path = CSV) -> LinkedInConnector:
    return LinkedInConnector("li", LinkedInConfig(type="linkedin", path=path, timezone="Europe/Berlin"))


def test_conversations_read_line_by_line_from_html_with_subjects_files_and_me_found():
    store = Store(":memory:")
    sent = run(linkedin(), store)
    assert [s["text"].split("\n") for s in sent] == [
        ["LinkedIn chat with Anna Schmidt, Sat 15 Mar 2025",
         "Anna Schmidt (09:41): Hi Alex, we're hiring a data engineer & thought of you: the role "
         "(https://jobs.example/42)",
         "Anna Schmidt (09:44): [file: Job_description.pdf]"],  # the draft at 10:00 is left out
        ["LinkedIn chat with Anna Schmidt, Sun 16 Mar 2025",
         "Alex Kim (me, 08:00): Thanks Anna!", "See you Monday."],  # me: the one name in every conversation
        ["LinkedIn chat with Recruiter Bot, Sat 15 Mar 2025",
         "Recruiter Bot (11:00): [subject: Opportunity in Berlin] Dear Alex,", "", "an exciting role…"],
        ["LinkedIn conversation “Berlin meetup”, Sat 15 Mar 2025",
         "Ben Müller (18:00): Who's coming on Thursday?",
         "Alex Kim (me, 18:05): me 🙋"],
    ]
    assert {s["text_source_spec"] for s in sent} == {"linkedin"}
    assert [(r["ref"], r["reason"]) for r in store.rows("SELECT ref, reason FROM skipped")] == [
        ("messages.csv record 6", "no readable DATE ('15/03/2025 11:00')")]


def test_another_csv_is_skipped_and_a_later_download_sends_only_what_is_new(tmp_path):
    (tmp_path / "Connections.csv").write_text("First Name,Last Name,URL\nAnna,Schmidt,https://x\n")
    shutil.copy(CSV, tmp_path / "messages.csv")
    store = Store(":memory:")
    first = run(linkedin(tmp_path), store)
    assert len(first) == 4
    rows = CSV.read_text(encoding="utf-8").split("\n", 1)
    newest = ('2-YjI4ZDU2MDMtMjk5,Berlin meetup,Anna Schmidt,https://www.linkedin.com/in/annaschmidt,'
              '"Alex Kim,Ben Müller",,2025-03-15 18:00:00 UTC,,count me in,INBOX,\r\n')
    (tmp_path / "messages.csv").write_text(rows[0] + "\n" + newest + rows[1], encoding="utf-8")
    sent = run(linkedin(tmp_path), store)
    assert [s["text"].split("\n") for s in sent[len(first):]] == [
        ["LinkedIn conversation “Berlin meetup”, Sat 15 Mar 2025 (continued)", "Anna Schmidt (19:00): count me in"]]
    assert "Connections.csv" not in {r["ref"] for r in store.rows("SELECT ref FROM skipped")}  # not one of ours


def test_preview_and_plan_read_linkedin_through_the_cli(tmp_path, fake_omi):
    table = f'[connectors.li]\ntype = "linkedin"\npath = "{CSV}"\ntimezone = "Europe/Berlin"\n'
    records, [li] = preview_and_plan(tmp_path, fake_omi.url, table)
    assert len([r for r in records if "request" in r]) == 4
    assert (li["items"], li["conversations"]) == (7, 4)  # 6 messages and the row without a date
    assert fake_omi.conversations == []
