"""Our line-anchored replay of mail-parser-reply must give exactly what the library gives."""

from __future__ import annotations

import random

import pytest
from mailparser_reply import EmailReplyParser

from connectors.mail.replies import LINE_ANCHORED, latest_reply

PIECES = [
    "Sounds good, see you on Friday at the usual place.",
    "Here is the plan:\n- book the room\n- send the invite",
    "-item without a space",
    "Best regards,\nAnna Example",
    "Kind Regards\nBob",
    "Thanks,\nCarol",
    "Thank you, that helps.",
    "All the best",
    "-- \nAnna Example\nHead of Things, ACME\n+49 30 1234567",
    "--\nSigned",
    "__\nunderscored",
    "Sent from my iPhone",
    "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "On Mon, 2 Nov 2026 at 10:00, Bob <bob@example.org> wrote:",
    "On Mon, 2 Nov 2026 at 10:00 Bob\n<bob@example.org> wrote:",
    "Am Mo., 2. Nov. 2026 um 10:00 Uhr schrieb Bob <bob@example.org>:",
    "Le lun. 2 nov. 2026 à 10:00, Bob <bob@example.org> a écrit :",
    "El lun, 2 nov 2026 a las 10:00, Bob (<bob@example.org>) escribió:",
    "Op ma 2 nov. 2026 om 10:00 schreef Bob <bob@example.org>:",
    "Il giorno lun 2 nov 2026 alle ore 10:00 Bob <bob@example.org> ha scritto:",
    "Den mån 2 nov. 2026 kl 10:00 skrev Bob <bob@example.org>:",
    "From: Bob <bob@example.org>\nSent: Monday, November 2, 2026 10:00 AM\nTo: Anna\nSubject: Plan",
    "*From:* Bob\n*Sent:* Monday\n*To:* Anna",
    "Von: Bob <bob@example.org>\nGesendet: Montag, 2. November 2026 10:00\nAn: Anna\nBetreff: Plan",
    "De : Bob\nEnvoyé : lundi 2 novembre 2026 10:00\nÀ : Anna\nObjet : Plan",
    "-----Original Message-----\nFrom: Bob\nSent: Monday",
    "________________________________\nFrom: Bob\nSent: Monday",
    "CONFIDENTIAL: This e-mail and any attachment are confidential. If you are not the recipient of this mail, delete it.",
    "Disclaimer: this mail is not legal advice.",
    "Important Notice: this email may contain privileged information.",
    "> quoted line one\n> quoted line two",
    ">> deeper quote",
    "",
    "   indented line with trailing spaces   ",
    "Grüße aus Köln\xa0und bis bald.",
    "Meeting at 10:00: room 4, subject: budget.",
    "Subject: not a header block on its own",
]

LANGUAGE_SETS = [("en",), ("en", "de"), ("de",), ("fr",), ("es", "it"), ("nl", "sv", "pl"), ("cs", "ja", "ko", "zh")]


@pytest.mark.parametrize("languages", LANGUAGE_SETS)
def test_fast_replay_equals_the_library(languages):
    rng = random.Random(hash(languages) & 0xFFFF)
    parser = EmailReplyParser(languages=list(languages))
    for _ in range(400):
        parts = [rng.choice(PIECES) for _ in range(rng.randint(1, 9))]
        text = rng.choice(["\n", "\n\n", "\r\n"]).join(parts)
        message = parser.read(text)
        expected = message.replies[0].body if message.replies else None
        assert latest_reply(text, languages) == expected, text


def test_languages_whose_patterns_start_mid_line_use_the_library_itself():
    assert "da" not in LINE_ANCHORED
    text = "Hej.\n\n-----Oprindelig meddelelse-----\nFra: Bob"
    message = EmailReplyParser(languages=["da"]).read(text)
    assert latest_reply(text, ("da",)) == message.replies[0].body
