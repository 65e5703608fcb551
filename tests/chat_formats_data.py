"""tests/chat_data.py's generated family chat, written as Messenger's JSON download and as an
SMS Backup & Restore XML file, for the benchmarks (the same messages as the WhatsApp export:
a longer export of the same chat begins with the shorter one's messages)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr

from tests.chat_data import messages

PER_FILE = 10_000  # Meta writes a chat's messages 10,000 to a file
NUMBERS = {"Anna": "+4915112345678", "Ben": "+4917098765432", "Mum": "+4930123456"}
_ATTACHED = re.compile(r"\u200e<attached: (\d+)-(PHOTO|AUDIO)-.*>")


def _meta(text: str) -> str:
    return text.encode("utf-8").decode("latin-1")  # Meta's way: UTF-8 bytes as Latin-1 code points


def _messenger_message(when: datetime, author: str, text: str) -> dict:
    message: dict = {"sender_name": author, "timestamp_ms": int(when.timestamp() * 1000),
                     "is_geoblocked_for_viewer": False}
    attached = _ATTACHED.fullmatch(text)
    if attached:
        field = "photos" if attached.group(2) == "PHOTO" else "audio_files"
        message[field] = [{"uri": f"messages/inbox/family_1/{field}/{attached.group(1)}.jpg",
                           "creation_timestamp": int(when.timestamp())}]
    elif text == "\u200eThis message was deleted":
        message.update(content=_meta(f"{author} unsent a message"), is_unsent=True)
    else:
        message["content"] = _meta(text.replace(" \u200e<This message was edited>", "") + " \u2014 \u00e4")
    return message


def write_messenger(folder: Path, count: int, seed: int = 11) -> Path:
    """``folder/your_facebook_activity/messages/inbox/family_1/message_N.json``: newest first."""
    chat = folder / "your_facebook_activity" / "messages" / "inbox" / "family_1"
    chat.mkdir(parents=True, exist_ok=True)
    for old in chat.glob("message_*.json"):
        old.unlink()
    head = {"participants": [{"name": n} for n in ("Anna", "Alex", "Ben", "Mum")], "title": "Family",
            "is_still_participant": True, "thread_path": "inbox/family_1", "magic_words": []}
    files = -(-count // PER_FILE)
    block: list[dict] = []
    for when, author, text in messages(count, seed):  # 10,000 at a time: the writer's memory stays small
        block.append(_messenger_message(when, author, text))
        if len(block) == PER_FILE:
            _write_part(chat / f"message_{files}.json", head, block)
            files, block = files - 1, []
    if block:
        _write_part(chat / f"message_{files}.json", head, block)
    return folder


def _write_part(path: Path, head: dict, block: list[dict]) -> None:
    path.write_text(json.dumps({**head, "messages": block[::-1]}, indent=2))  # newest first


def _sms_lines(count: int, seed: int) -> Iterator[str]:
    others = sorted(NUMBERS)
    for n, (when, author, text) in enumerate(messages(count, seed)):
        ms = int(when.timestamp() * 1000)
        who = others[n % len(others)] if author == "Alex" else author
        attached = _ATTACHED.fullmatch(text)
        if attached:
            kind = "image/jpeg" if attached.group(2) == "PHOTO" else "audio/amr"
            sender = "insert-address-token" if author == "Alex" else NUMBERS[who]
            yield (f'  <mms date="{ms}" msg_box="{2 if author == "Alex" else 1}" address="{NUMBERS[who]}" '
                   f'contact_name="{who}" m_type="132" read="1" seen="1" text_only="0">\n    <parts>\n'
                   f'      <part seq="-1" ct="application/smil" name="null" text="&lt;smil&gt;&lt;/smil&gt;" />\n'
                   f'      <part seq="0" ct="{kind}" name="{attached.group(1)}" text="null" '
                   f'data="{"/9j/4AAQSkZJRgABAQAAAQABAAD" * 40}" />\n    </parts>\n    <addrs>\n'
                   f'      <addr address="{sender}" type="137" charset="106" />\n    </addrs>\n  </mms>\n')
            continue
        body = text.replace(" \u200e<This message was edited>", "").replace("\u200e", "") + " \U0001f60a"
        yield (f'  <sms protocol="0" address="{NUMBERS[who]}" date="{ms}" type="{2 if author == "Alex" else 1}" '
               f'subject="null" body={quoteattr(body, {chr(10): "&#10;"})} toa="null" sc_toa="null" '
               f'service_center="null" read="1" status="-1" locked="0" date_sent="0" sub_id="1" '
               f'readable_date="{when:%d %b %Y %H:%M:%S}" contact_name="{who}" />\n')


def write_sms(path: Path, count: int, seed: int = 11) -> Path:
    """One SMS Backup & Restore file of the chat: each person's texts a thread of their own."""
    with path.open("w", encoding="utf-8") as out:
        out.write("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
                  f'<smses count="{count}" backup_set="bench" backup_date="0" type="full">\n')
        for line in _sms_lines(count, seed):
            out.write(line)
        out.write("</smses>\n")
    return path
