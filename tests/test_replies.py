"""The quote model: every unquoted line the author wrote stays, wherever it stands; quotes, their
headers and the old mail below a history block go; signatures go, lists stay."""

from __future__ import annotations

import random

import pytest

from connectors.mail.replies import author_text

HEADERS = [
    "On Mon, 2 Nov 2026 at 10:00, Bob <bob@example.org> wrote:",
    "On Mon, 2 Nov 2026 at 10:00 Bob Miller <\nbob@example.org> wrote:",
    "Am Mo., 2. Nov. 2026 um 10:00 Uhr schrieb Bob <bob@example.org>:",
    "Le lun. 2 nov. 2026 à 10:00, Bob <bob@example.org> a écrit :",
    "El lun, 2 nov 2026 a las 10:00, Bob (<bob@example.org>) escribió:",
    "Op ma 2 nov. 2026 om 10:00 schreef Bob <bob@example.org>:",
    "Il giorno lun 2 nov 2026 alle ore 10:00 Bob <bob@example.org> ha scritto:",
    "Den mån 2 nov. 2026 kl 10:00 skrev Bob <bob@example.org>:",
    "2026年11月2日周一 10:00，Bob <bob@example.org> 写道：",  # noqa: RUF001
    "Bob Miller wrote:",
    "Dne út 3. 11. 2026 8:01 uživatel Bob <bob@example.org> napsal:",
    "În lun., 2 nov. 2026 la 10:00, Bob <bob@example.org> a scris:",
    "Στις Δευ 2 Νοε 2026 στις 10:00 π.μ., ο/η Bob <bob@example.org> έγραψε:",  # noqa: RUF001
    "Bob <bob@example.org> ezt írta (időpont: 2026. nov. 2., H, 10:00):",
    "Wiadomość napisana przez Bob <bob@example.org> w dniu 02.11.2026, o godz. 10:00:",
    "Bob <bob@example.org> schrieb am Mo., 2. Nov. 2026, 10:00:",
    "---- On Mon, 02 Nov 2026 10:00:00 +0100 Bob <bob@example.org> wrote ----",
    "2026/11/2 Bob via Some List <list@example.org>",
]
PROSE = [
    "Sounds good, see you on Friday at the usual place.",
    "Here is the plan:\n- book the room\n- send the invite",
    "-item without a space",
    "Meeting at 10:00: room 4, subject: budget.",
    "Grüße aus Köln und bis bald.",
    "Yes, 10 works for me.",
    "No, the big room: Dana joins.",
]
QUOTES = ["> Shall we meet Friday?", "> Which room?\n>\n> And who comes?", ">> an older question\n> a newer one"]


def test_inline_answers_stay_between_the_quotes_they_answer():
    body = ("Hi Bob,\n\nOn Mon, 2 Nov 2026 at 10:00, Bob <bob@example.org> wrote:\n> Shall we meet Friday?\n"
            "Yes, 10 works.\n> And the small room?\nNo, the big one.\n\nAlice")
    assert author_text(body, ("en",)).text == "Hi Bob,\n\nYes, 10 works.\nNo, the big one.\n\nAlice"


def test_random_threads_keep_every_line_written_and_no_quoted_one():
    rng = random.Random(2026)
    for _ in range(500):
        written: list[str] = []
        parts: list[str] = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.5:
                header = rng.choice(HEADERS)
                parts.append(f"{header}\n{rng.choice(QUOTES)}")
            else:
                prose = rng.choice(PROSE)
                written.append(prose)
                parts.append(prose)
        text = author_text(rng.choice(["\n", "\n\n"]).join(parts), ("en",)).text
        for prose in written:
            assert prose in text, (parts, text)
        for quote in QUOTES:
            for line in quote.split("\n"):
                assert line.lstrip("> ") == "" or line.lstrip("> ") not in text, (parts, text)
        for header in HEADERS:
            assert header.split("\n")[0] not in text, (parts, text)


@pytest.mark.parametrize("header", HEADERS[:9])
def test_a_quote_header_in_any_language_goes_with_an_english_setup(header):
    body = f"Fine by me.\n\n{header}\n> Is Tuesday fine?"
    assert author_text(body, ("en",)).text == "Fine by me."


def test_a_quote_header_followed_by_plain_text_starts_the_old_mail():
    body = "Fine by me.\n\nOn Mon, 2 Nov 2026 at 10:00, Bob <bob@example.org> wrote:\n\nIs Tuesday fine?\nBob"
    assert author_text(body, ("en",)).text == "Fine by me."


def test_prose_ending_in_wrote_is_kept_when_no_quote_follows():
    body = "Here is what Carol wrote:\nthe budget is final.\nLet's go with it."
    assert author_text(body, ("en",)).text == body


@pytest.mark.parametrize("block", [
    "________________________________\nFrom: Bob <bob@example.org>\nSent: Monday\nTo: Alice\nSubject: Plan\n\nold",
    "-----Original Message-----\nFrom: Bob\nSent: Monday\n\nold",
    "-----Ursprüngliche Nachricht-----\nVon: Bob\nGesendet: Montag\nAn: Alice\n\nold",
    "Von: Bob <bob@example.org>\nGesendet: Montag, 2. November 2026 10:00\nAn: Alice\nBetreff: Plan\n\nold",
    "De : Bob\nEnvoyé : lundi 2 novembre 2026 10:00\nÀ : Anna\nObjet : Plan\n\nold",
    "*From:* Bob\n*Sent:* Monday\n*To:* Anna\n\nold",
    "---------- Forwarded message ---------\nFrom: Bob\nDate: Mon\nSubject: Plan\n\nold",
    "Begin forwarded message:\n\nFrom: Bob\nSubject: Plan\n\nold",
])
def test_history_blocks_end_the_authors_part(block):
    assert author_text(f"New words.\n\n{block}\n> even older", ("en",)).text == "New words."


def test_header_like_prose_is_not_a_history_block():
    # no sender line: "Date:" and "To:" in prose; Polish takes one "Do:" line as a block by itself
    body = "Date: moved to Friday.\nTo: everyone in the team.\nDo: bring the slides.\nData: in the folder."
    assert author_text(body, ("en",)).text == body


def test_forwarded_block_reports_its_subject():
    body = ("FYI.\n\n---------- Forwarded message ---------\nFrom: Shop\nDate: Mon\nSubject: Your order 42\nTo: me"
            "\n\nold")
    authored = author_text(body, ("en",))
    assert (authored.text, authored.history_subject, authored.forward) == ("FYI.", "Your order 42", True)
    outlook = author_text("See below.\n\nFrom: Bob\nSent: Monday\nSubject: Numbers\n\nold", ("en",))
    assert (outlook.history_subject, outlook.forward) == ("Numbers", False)


@pytest.mark.parametrize(("body", "kept"), [
    ("Plan:\n- one\n- two\n- three", "Plan:\n- one\n- two\n- three"),
    ("Todo:\n-renew the passport\n-book the dentist", "Todo:\n-renew the passport\n-book the dentist"),
    ("Good.\n\n-- \nAnna\nHead of Things", "Good."),
    ("Good.\n\nBest regards,\nAnna", "Good."),
    ("Running late.\n\nSent from my iPhone", "Running late."),
    ("Thanks,\nAnna", "Thanks,\nAnna"),  # a mail that is all sign-off keeps its words
])
def test_signatures_are_cut_and_lists_are_not_signatures(body, kept):
    assert author_text(body, ("en",)).text == kept


def test_signature_phrases_are_those_of_the_configured_languages_only():
    # Danish signatures include "Tak" and "Kh", Swedish "/x": English mail must not lose these lines
    body = "Notes:\nTakeaway: ship on Friday.\nKhaled joins us.\n/usr/local is full."
    assert author_text(body, ("en",)).text == body
    assert author_text("Hej.\nTak for sidst.\nMette", ("da",)).text == "Hej."


@pytest.mark.parametrize("header", [
    "2026-11-02 21:14 GMT+01:00 Bob <bob@example.org>:",
    "Bob Miller <bob@example.org> schrieb:",
    "Den 2 november, 2026 21:14:00, Bob (bob@example.org) skrev:",
    "W dniu 2 listopada 2026 21:14 użytkownik Bob <bob@example.org>\nnapisał:",
])
def test_an_attribution_naming_an_address_starts_the_old_mail_even_unquoted(header):
    assert author_text(f"Done.\n\n{header}\n\nOld words.", ("en",)).text == "Done."


def test_a_quote_header_wrapped_over_three_lines_goes_whole():
    body = "Booked.\n\nOn Mon, Nov 2, 2026 at 9:14 PM, Bob Miller\n<bob@example.org>\nwrote:\n> Can you book it?"
    assert author_text(body, ("en",)).text == "Booked."


@pytest.mark.parametrize(("body", "kept"), [
    ("From: Homer\nTo: Support\n\nThe heating is off.", "From: Homer\nTo: Support\n\nThe heating is off."),
    ("from: the start\nsent: on Monday\nto: the board", "from: the start\nsent: on Monday\nto: the board"),
    ("Hi.\n\nFrom: Bob\nReply-To: Team\nDate: Monday\nSubject: x\n\nold", "Hi."),
    ("Hi.\n\nDe : Bob\nEnvoyé le : lundi\nA : Anna\n\nold", "Hi."),
    ("Hi.\n\nDe: Bob\nEnviada em: segunda-feira\nPara: Ana\nAssunto: x\n\nold", "Hi."),
    ("Hi.\n\n*From:* Bob [mailto:\nbob@example.org]\n*Sent:* Monday\n\nold", "Hi."),
    ("Hi.\n\nDate: Mon, 2 Nov 2026 From: Bob <b@x.org> To: Anna Subject: x\n\nold", "Hi."),
])
def test_a_header_block_names_a_sender_and_a_date_in_capitalised_fields(body, kept):
    assert author_text(body, ("en",)).text == kept


@pytest.mark.parametrize(("body", "kept"), [
    ("Paid.\n\nSent from Mail for Windows 10", "Paid."),
    ("Here.\n\nSent from my desk, which is easier.", "Here.\n\nSent from my desk, which is easier."),
    ("How do I reset it?\n\n-Priya Raman", "How do I reset it?"),
    ("Bring:\n\n-Priya's cake", "Bring:\n\n-Priya's cake"),  # not a name: kept
])
def test_app_footers_and_dash_signed_names_are_cut(body, kept):
    assert author_text(body, ("en",)).text == kept


@pytest.mark.parametrize("body", [
    # a forward without a comment: the forwarded mail, its header lines too (its own quotes still go)
    "---------- Forwarded message ---------\nFrom: Shop\nDate: Mon\nSubject: Your order 42\nTo: me\n\nShipped today."
    "\n\nOn Sun, Bob <bob@example.org> wrote:\n> Where is my order?",
    # a header block pasted above the greeting
    "Od: Carol <carol@example.net>\nWysłano: poniedziałek\nTemat: Grafik\n\nDzień dobry,\nShipped today.",
    # an attribution over unquoted lines, nothing written above it
    'On 2 Nov 2026 21:14, "Carol" <carol@example.net> wrote:\n\nShipped today.',
])
def test_what_opens_old_mail_at_the_top_is_the_mail_itself(body):
    text = author_text(body, ("en",)).text
    assert text.splitlines()[0] == body.splitlines()[0]
    assert "Shipped today." in text
    assert "Where is my order" not in text


@pytest.mark.parametrize(("body", "kept"), [
    ("Hej Bob,\n\nTak\n\nJeg kan godt komme på fredag, og jeg tager kagen med.\n\nHilsen\nAlice",
     "Hej Bob,\n\nTak\n\nJeg kan godt komme på fredag, og jeg tager kagen med."),
    ("Hej.\nTak for din mail.\nMødet er flyttet til torsdag i lokale fire.\nMvh\nAlice",
     "Hej.\nTak for din mail.\nMødet er flyttet til torsdag i lokale fire."),
    ("Hej.\nTak\nAlice Jensen\nACME A/S, Vesterbrogade 12.", "Hej."),  # an address line is not writing
])
def test_a_sign_off_word_ends_the_text_only_where_no_writing_follows(body, kept):
    assert author_text(body, ("da",)).text == kept


@pytest.mark.parametrize("history", [
    "From: Carol\nTo: Bob\nSubject: Slides\n\nThe old words.",  # no date: a block under an answered quote
    "Carol Jones wrote:\n\nThe old words.",  # no address: a "wrote:" under an answered quote
    "Le lun. 2 nov. 2026 à 21:14, Carol\n> a écrit :\n\nThe old words.",  # wrapped into the quote
])
def test_older_mail_below_an_answer_to_a_quote_is_cut(history):
    assert author_text(f"> Slides?\n\nSent them.\n\n{history}", ("en",)).text == "Sent them."
