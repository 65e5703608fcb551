"""A generated WhatsApp chat export, as phones write them, for tests and benchmarks.

Family and friends: four people (one of them the user), days of very different activity
(quiet days, busy evenings, a trip), answers minutes apart, some messages on several lines,
photos and voice messages, now and then a deleted or an edited message, and the app's own
lines (the encryption notice, someone added). The same seed and start give the same messages,
so a longer export of the same chat begins with the shorter one's lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

PEOPLE = ["Anna", "Alex", "Ben", "Mum"]
WORDS = ("dinner tonight photos train late okay call tomorrow weekend garden cake birthday present "
         "doctor school football rain sunny holiday tickets book film coffee work meeting home").split()
START = datetime(2023, 1, 1, 8, 0)


def messages(count: int, seed: int = 11) -> Iterator[tuple[datetime, str, str]]:
    """(when, author, text) in time order; text may hold newlines and media markers."""
    rng = random.Random(seed)
    when = START
    made = 0
    while made < count:
        day_activity = rng.choice((0, 2, 5, 10, 30, 80, 200))  # messages that day
        day_start = when.replace(hour=7, minute=0, second=0) + timedelta(days=1)
        when = day_start + timedelta(minutes=rng.randint(0, 120))
        for _ in range(day_activity):
            if made >= count:
                return
            when += timedelta(seconds=rng.choice((5, 20, 60, 180, 600, 2400)))
            author = rng.choice(PEOPLE)
            roll = rng.random()
            if roll < 0.06:
                text = f"\u200e<attached: {made:08d}-PHOTO-{when:%Y-%m-%d-%H-%M-%S}.jpg>"
            elif roll < 0.09:
                text = f"\u200e<attached: {made:08d}-AUDIO-{when:%Y-%m-%d-%H-%M-%S}.opus>"
            elif roll < 0.10:
                text = "\u200eThis message was deleted"
            elif roll < 0.12:
                text = " ".join(rng.choices(WORDS, k=rng.randint(2, 12))) + " \u200e<This message was edited>"
            elif roll < 0.22:
                text = "\n".join(" ".join(rng.choices(WORDS, k=rng.randint(1, 9))) for _ in range(rng.randint(2, 4)))
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(1, 16)))
            made += 1
            yield when, author, text


def write_ios(path: Path, count: int, seed: int = 11, group: str = "Family") -> int:
    """``_chat.txt`` as iOS writes it (``[dd/mm/yyyy, HH:MM:SS] Name: text``); returns lines written."""
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(f"[01/01/2023, 08:00:00] {group}: \u200eMessages and calls are end-to-end encrypted. "
                  "No one outside of this chat, not even WhatsApp, can read or listen to them.\n")
        for when, author, text in messages(count, seed):
            out.write(f"[{when:%d/%m/%Y, %H:%M:%S}] {author}: {text}\n")
            lines += 1
    return lines
