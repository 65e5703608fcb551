"""A generated year of one person's mail, in the shapes mail clients write, for tests and benchmarks.

Alice (``alice@example.com``) corresponds with a few dozen people: threads of one to fifteen
mails over hours and days (most answers within hours), with two to four people in them, a
third of them threads she writes in herself; replies carry In-Reply-To and
References and quote the mail they answer ("On ... wrote:" and ``>`` lines), some clients drop
the references; her own mails are in the Sent folder. Besides: newsletters (List-Id,
List-Unsubscribe), notifications from no-reply senders, and mail to lists she is on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

__all__ = ["ME", "Mailbox", "make_year"]

ME = "alice@example.com"
_PEOPLE = [(f"Person {n}", f"p{n}@example.org") for n in range(40)]
_WORDS = (
    "budget", "offsite", "contract", "invoice", "schedule", "draft", "review", "plan", "meeting", "report",
    "travel", "hiring", "launch", "deadline", "numbers", "slides", "feedback", "agenda", "summary", "notes",
)


@dataclass
class Mailbox:
    inbox: list[bytes] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    @property
    def all(self) -> list[bytes]:
        return [*self.inbox, *self.sent]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def _mail(*, mid: str, sender: tuple[str, str], to: list[tuple[str, str]], subject: str, at: datetime, body: str,
          refs: list[str] = (), extra: str = "") -> bytes:
    def who(person: tuple[str, str]) -> str:
        return f"{person[0]} <{person[1]}>"

    head = [f"From: {who(sender)}", f"To: {', '.join(who(p) for p in to)}", f"Subject: {subject}",
            f"Date: {format_datetime(at)}", f"Message-ID: <{mid}>"]
    if refs:
        head += [f"In-Reply-To: <{refs[-1]}>", "References: " + " ".join(f"<{r}>" for r in refs)]
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(head) + extra + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


def make_year(messages: int, *, seed: int = 3, start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> Mailbox:
    """About ``messages`` mails over a year: a third bulk, the rest threads among people."""
    rng = random.Random(seed)
    box = Mailbox()
    me = ("Alice", ME)
    count = 0
    thread_no = 0
    while count < messages:
        at = start + timedelta(seconds=rng.uniform(0, 365 * 86400))
        roll = rng.random()
        if roll < 0.3:  # a newsletter
            box.inbox.append(_mail(
                mid=f"news{count}@news.example.net", sender=("Weekly", "weekly@news.example.net"), to=[me],
                subject=f"This week: {_sentence(rng, 3)}", at=at, body=_sentence(rng, 40),
                extra="\r\nList-Id: <weekly.news.example.net>\r\nList-Unsubscribe: <mailto:u@news.example.net>"))
            count += 1
            continue
        if roll < 0.42:  # a notification
            box.inbox.append(_mail(
                mid=f"note{count}@ci.example.com", sender=("CI", "noreply@ci.example.com"), to=[me],
                subject=f"Build {count} passed", at=at, body="All checks passed."))
            count += 1
            continue
        thread_no += 1
        others = rng.sample(_PEOPLE, rng.randint(1, 3))
        to_me = rng.random() < 0.8  # else mail to a list Alice is on, not to her
        answers = to_me and rng.random() < 0.35  # she writes in about a third of the threads she gets
        people = [me, *others] if to_me else [*others, ("Team", "team@example.com")]
        size = min(15, max(1, int(rng.expovariate(1 / 3.0)) + 1), messages - count)
        subject = f"{_sentence(rng, 2)[:-1]} #{thread_no}"
        ids: list[str] = []
        bodies: list[str] = []
        writer = rng.choice(others)
        for n in range(size):
            sender = writer if n == 0 else rng.choice([p for p in people if p != writer] or people)
            if sender == me and not answers:
                sender = next(p for p in others if p != writer) if len(others) > 1 else others[0]
            writer = sender
            mid = f"t{thread_no}.{n}@{sender[1].split('@')[1]}"
            body = _sentence(rng, rng.randint(5, 30))
            if bodies:
                quoted = "\n".join(f"> {line}" for line in bodies[-1].splitlines())
                body += f"\n\nOn {format_datetime(at)}, someone wrote:\n{quoted}"
            refs = ids if rng.random() > 0.05 else []  # a few clients drop the references
            raw = _mail(mid=mid, sender=sender, to=[p for p in people if p != sender], subject=(
                subject if n == 0 else f"Re: {subject}"), at=at, body=body, refs=list(refs),
                extra="" if to_me else "\r\nList-Id: <team.example.com>")  # a list server adds it
            (box.sent if sender == me else box.inbox).append(raw)
            ids.append(mid)
            bodies.append(body.split("\n\nOn ")[0])
            # most answers come within hours; some the next days
            at += timedelta(seconds=rng.expovariate(1 / (3600 if rng.random() < 0.7 else 20 * 3600)))
            count += 1
    return box
