"""Writes the text-quality corpus beside this file: ``python -m tests.data.mail.quality.make_quality``.

Every message is written here, in the shapes mail clients produce (Gmail, Outlook, Apple Mail and
Thunderbird quoting; bottom posts and inline answers; quote headers in a dozen languages; legacy
charsets; raw 8-bit headers), after reading the fixtures reply-parser projects publish. Each case
names its category, the fragments the conversation text must keep (what a person wrote) and the
fragments that must be gone (quotes, quote headers, separators, signatures), or, for what is not
mail, the start of the reason it is skipped with. ``expected.json`` holds them for the tests and
for ``python -m benchmarks.mail_quality``; the .eml files and expected.json are committed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).parent


@dataclass
class Case:
    name: str
    category: str
    raw: bytes = field(repr=False)
    keep: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    skip: str | None = None
    languages: list[str] | None = None  # reply_languages, when not the connector's default ["en"]


def mail(subject: str, body: str, *, sender: str = "Bob Miller <bob@example.org>", ctype: str = "text/plain",
         charset: str = "utf-8", extra: str = "", n: int = 0) -> bytes:
    head = (f"From: {sender}\nTo: Alice Example <alice@example.com>\nDate: Tue, 03 Nov 2026 10:{n % 60:02d}:00 +0100\n"
            f"Subject: {subject}\nMessage-ID: <q{n}@example.org>\nMIME-Version: 1.0\n{extra}"
            f"Content-Type: {ctype}; charset={charset}\n\n")
    return head.encode() + body.encode(charset)  # raw UTF-8 where a header holds non-ASCII (RFC 6532)


CASES: list[Case] = []


def case(category: str, name: str, raw: bytes, keep: list[str], gone: list[str] = (), skip: str | None = None,
         languages: list[str] | None = None) -> None:
    CASES.append(Case(f"{len(CASES) + 1:02d}_{name}", category, raw, list(keep), list(gone), skip, languages))


def q(text: str, level: int = 1) -> str:
    """Quote the way clients do: "> " per level, a bare ">" on empty lines."""
    prefix = "> " * level
    return "\n".join((prefix + line).rstrip() for line in text.split("\n"))


# -- bottom-posted: the answer under the quote ---------------------------------------------------

case("bottom-posted", "gmail_bottom", mail("Re: Cabin weekend", "Hi Bob,\n\n"
     "On Mon, Nov 2, 2026 at 9:14 PM Bob Miller <bob@example.org> wrote:\n"
     + q("Are we still on for the cabin this weekend?\nI can drive if you bring food.") +
     "\n\nYes, still on. I'll bring the food and the board games.\n\nAlice\n", n=1),
     ["Hi Bob,", "Yes, still on. I'll bring the food and the board games."],
     ["Are we still on for the cabin", "wrote:", "I can drive if"])
case("bottom-posted", "thunderbird_bottom", mail("Re: Printer", "On 11/2/26 18:03, Bob Miller wrote:\n"
     + q("The printer on the second floor is jammed again.") +
     "\n\nI called the technician, he comes tomorrow at 9.\n", n=2),
     ["I called the technician, he comes tomorrow at 9."], ["printer on the second floor", "Bob Miller wrote"])
case("bottom-posted", "mutt_bottom_nested", mail("Re: Re: Release", "* Bob Miller <bob@example.org> [2026-11-02 10:00]:\n"
     + q("Carol wrote:\n" + q("Can we ship on Thursday?") + "\nI think Friday is safer.") +
     "\n\nFriday it is. I'll tag the release Friday morning.\n", n=3),
     ["Friday it is. I'll tag the release Friday morning."], ["Can we ship on Thursday", "I think Friday is safer"])
case("bottom-posted", "bottom_de", mail("Re: Abendessen", "Am Mo., 2. Nov. 2026 um 19:30 Uhr schrieb Bob Miller <\n"
     "bob@example.org>:\n" + q("Kommst du am Samstag zum Abendessen?") +
     "\n\nJa, gerne! Ich bringe einen Nachtisch mit.\n", n=4),
     ["Ja, gerne! Ich bringe einen Nachtisch mit."], ["Kommst du am Samstag", "schrieb Bob"])
case("bottom-posted", "bottom_fr", mail("Re: Réunion", "Le lun. 2 nov. 2026 à 19:30, Bob Miller <bob@example.org> a écrit :\n"
     + q("Peux-tu déplacer la réunion à jeudi ?") + "\n\nOui, jeudi 14 h me convient parfaitement.\n", n=5),
     ["Oui, jeudi 14 h me convient parfaitement."], ["Peux-tu déplacer", "a écrit"])
case("bottom-posted", "bottom_after_signature_like_list", mail("Re: Shopping", "On Mon, 2 Nov 2026 at 17:00, Bob Miller <bob@example.org> wrote:\n"
     + q("What do we still need?") + "\n\nWe still need:\n- eggs\n- flour\n- two lemons\n", n=6),
     ["We still need:", "- eggs", "- flour", "- two lemons"], ["What do we still need"])

# -- inline answers between quoted lines ---------------------------------------------------------

case("inline", "inline_two_questions", mail("Re: Friday", "On Mon, Nov 2, 2026 at 8:00 AM Bob Miller <bob@example.org> wrote:\n"
     "> Shall we meet Friday?\n\nYes, 10 works.\n\n> And should I book the small room?\n\n"
     "No, the big one: Dana is joining.\n", n=7),
     ["Yes, 10 works.", "No, the big one: Dana is joining."], ["Shall we meet Friday", "should I book the small room"])
case("inline", "inline_with_greeting_and_sign_off", mail("Re: Contract", "Hi Bob,\n\nanswers inline.\n\n"
     "On Mon, Nov 2, 2026 at 8:00 AM Bob Miller <bob@example.org> wrote:\n> 1. Is the price final?\n"
     "Yes, it is final.\n> 2. When do they need it signed?\nBy the 15th.\n>\n> Thanks\n\nCheers,\nAlice\n", n=8),
     ["answers inline.", "Yes, it is final.", "By the 15th."], ["Is the price final", "When do they need it signed"])
case("inline", "inline_nested_levels", mail("Re: Re: Plan", "> > Can you review the draft?\n> Sure, by when?\nTomorrow noon "
     "would be ideal.\n>> Also the budget sheet.\nThe budget sheet is in the shared folder now.\n", n=9),
     ["Tomorrow noon would be ideal.", "The budget sheet is in the shared folder now."],
     ["Can you review the draft", "Sure, by when", "Also the budget sheet"])
case("inline", "inline_de", mail("AW: Umzug", "Am 02.11.2026 um 09:00 schrieb Bob Miller:\n> Brauchst du Hilfe beim Umzug?\n"
     "Ja, am Samstag ab 8 Uhr.\n> Soll ich den Transporter mieten?\nDas wäre super, danke!\n", n=10),
     ["Ja, am Samstag ab 8 Uhr.", "Das wäre super, danke!"], ["Brauchst du Hilfe", "Transporter mieten"])
case("inline", "inline_no_blank_lines_outlook_style_prefix", mail("RE: Budget", "Bob Miller wrote:\n>The invoice is 1,200 EUR.\n"
     "That matches the offer.\n>Pay by card?\nBank transfer, please.\n", n=11),
     ["That matches the offer.", "Bank transfer, please."], ["The invoice is 1,200 EUR", "Pay by card", "Bob Miller wrote"])
case("inline", "inline_answer_after_last_quote_with_signature", mail("Re: Keys", "On Tue, Nov 3, 2026 at 7:00 AM Bob Miller "
     "<bob@example.org> wrote:\n> Where did you leave the keys?\nUnder the blue flower pot.\n\n-- \nAlice Example\n"
     "+49 30 1234567\n", n=12),
     ["Under the blue flower pot."], ["Where did you leave the keys", "+49 30 1234567"])

# -- quote first ---------------------------------------------------------------------------------

case("quote-first", "quote_first_answer_below", mail("Re: Dinner", "> Pizza or sushi tonight?\n\nSushi, definitely.\n", n=13),
     ["Sushi, definitely."], ["Pizza or sushi tonight"])
case("quote-first", "quote_first_several_answers", mail("Re: Trip", "> Train or car?\nTrain.\n> Which day?\nSunday morning.\n", n=14),
     ["Train.", "Sunday morning."], ["Train or car", "Which day"])
case("quote-first", "quote_first_only_quote_has_subject", mail("Call me about the lease", "> On Monday you said\n"
     "> the lease ends in March.\n", n=15),
     ["Call me about the lease", "the lease ends in March"])  # nothing else written: the quote is kept (issue 26)

# -- top-posted replies, client by client and language by language -------------------------------

TOP = "Thanks, that works for me. See you at the station at 8."


def top(name: str, header: str, quote: str, n: int, *, gone: list[str] | None = None, keep: str = TOP) -> None:
    case("top-posted", name, mail("Re: Station", f"{keep}\n\n{header}\n{quote}\n", n=n), [keep],
         gone if gone is not None else ["Meet at the station", header.split("\n")[0][:25]])


top("gmail_en_wrapped", "On Mon, Nov 2, 2026 at 9:14 PM Bob Miller <\nbob@example.org> wrote:", q("Meet at the station at 8?"), 16)
top("apple_mail_en", "On 2 Nov 2026, at 21:14, Bob Miller <bob@example.org> wrote:\n", q("Meet at the station at 8?"), 17)
top("thunderbird_en", "On 02.11.26 21:14, Bob Miller wrote:", q("Meet at the station at 8?"), 18)
top("gmail_de", "Am Mo., 2. Nov. 2026 um 21:14 Uhr schrieb Bob Miller <bob@example.org>:", q("Meet at the station at 8?"), 19)
top("gmail_fr", "Le lun. 2 nov. 2026 à 21:14, Bob Miller <bob@example.org> a écrit :", q("Meet at the station at 8?"), 20)
top("gmail_es", "El lun, 2 nov 2026 a las 21:14, Bob Miller (<bob@example.org>) escribió:", q("Meet at the station at 8?"), 21)
top("gmail_it", "Il giorno lun 2 nov 2026 alle ore 21:14 Bob Miller <bob@example.org> ha scritto:", q("Meet at the station at 8?"), 22)
top("gmail_nl", "Op ma 2 nov. 2026 om 21:14 schreef Bob Miller <bob@example.org>:", q("Meet at the station at 8?"), 23)
top("gmail_sv", "Den mån 2 nov. 2026 kl 21:14 skrev Bob Miller <bob@example.org>:", q("Meet at the station at 8?"), 24)
top("gmail_pl", "Dnia 2 listopada 2026 21:14 Bob Miller <bob@example.org> napisał(a):", q("Meet at the station at 8?"), 25)
top("gmail_cs", "Dne po 2. 11. 2026 21:14 uživatel Bob Miller <bob@example.org> napsal(a):", q("Meet at the station at 8?"), 26)
top("gmail_da", "Den man. 2. nov. 2026 kl. 21.14 skrev Bob Miller <bob@example.org>:", q("Meet at the station at 8?"), 27)
top("gmail_ja", "2026年11月2日(月) 21:14 Bob Miller <bob@example.org>:", q("Meet at the station at 8?"), 28)
top("gmail_zh", "2026年11月2日周一 21:14，Bob Miller <bob@example.org> 写道：", q("Meet at the station at 8?"), 29)
top("gmail_ko", "2026년 11월 2일 (월) 오후 9:14, Bob Miller <bob@example.org>님이 작성하였습니다:", q("Meet at the station at 8?"), 30)

OUTLOOK_EN = ("________________________________\nFrom: Bob Miller <bob@example.org>\nSent: Monday, November 2, 2026 "
              "9:14 PM\nTo: Alice Example <alice@example.com>\nSubject: Station\n\nMeet at the station at 8?\n\nBob")
top("outlook_en_underscores", OUTLOOK_EN, "", 31, gone=["Meet at the station", "________", "Sent: Monday"])
top("outlook_en_original_message", "-----Original Message-----\nFrom: Bob Miller [mailto:bob@example.org]\n"
    "Sent: Monday, November 2, 2026 9:14 PM\nTo: Alice Example\nSubject: Station\n\nMeet at the station at 8?", "", 32,
    gone=["Meet at the station", "Original Message", "mailto:bob"])
top("outlook_de", "-----Ursprüngliche Nachricht-----\nVon: Bob Miller <bob@example.org>\nGesendet: Montag, 2. November "
    "2026 21:14\nAn: Alice Example\nBetreff: Bahnhof\n\nMeet at the station at 8?", "", 33,
    gone=["Meet at the station", "Ursprüngliche Nachricht", "Gesendet:"])
top("outlook_fr", "________________________________\nDe : Bob Miller <bob@example.org>\nEnvoyé : lundi 2 novembre 2026 "
    "21:14\nÀ : Alice Example\nObjet : Gare\n\nMeet at the station at 8?", "", 34,
    gone=["Meet at the station", "Envoyé :", "________"])
top("outlook_es", "________________________________\nDe: Bob Miller <bob@example.org>\nEnviado: lunes, 2 de noviembre "
    "de 2026 21:14\nPara: Alice Example\nAsunto: Estación\n\nMeet at the station at 8?", "", 35,
    gone=["Meet at the station", "Enviado:", "________"])
top("outlook_nl", "-----Oorspronkelijk bericht-----\nVan: Bob Miller <bob@example.org>\nVerzonden: maandag 2 november "
    "2026 21:14\nAan: Alice Example\nOnderwerp: Station\n\nMeet at the station at 8?", "", 36,
    gone=["Meet at the station", "Oorspronkelijk bericht", "Verzonden:"])
top("outlook_bold_headers", "*From:* Bob Miller <bob@example.org>\n*Sent:* Monday, November 2, 2026 9:14 PM\n"
    "*To:* Alice Example\n*Subject:* Station\n\nMeet at the station at 8?", "", 37,
    gone=["Meet at the station", "*Sent:*"])
top("outlook_it", "-----Messaggio originale-----\nDa: Bob Miller <bob@example.org>\nInviato: lunedì 2 novembre 2026 "
    "21:14\nA: Alice Example\nOggetto: Stazione\n\nMeet at the station at 8?", "", 38,
    gone=["Meet at the station", "Messaggio originale", "Inviato:"])
top("unquoted_gmail_history", "On Mon, Nov 2, 2026 at 9:14 PM Bob Miller <bob@example.org> wrote:\n\nMeet at the station at 8?",
    "", 39, gone=["Meet at the station", "wrote:"])

# -- forwarded ---------------------------------------------------------------------------------

case("forwarded", "gmail_forward_with_comment", mail("Fwd: Invoice 2026-118", "Can you pay this one by Friday?\n\n"
     "---------- Forwarded message ---------\nFrom: Billing <billing@vendor.example>\nDate: Mon, Nov 2, 2026 at 8:00 AM\n"
     "Subject: Invoice 2026-118\nTo: <bob@example.org>\n\nPlease find the invoice attached. Amount due: 300 EUR.\n", n=40),
     ["Can you pay this one by Friday?"], ["Please find the invoice attached", "Forwarded message", "billing@vendor"])
case("forwarded", "apple_forward_renamed_subject", mail("for the trip", "Begin forwarded message:\n\n"
     "From: Airline <noreply@airline.example>\nSubject: Your booking ABC123\nDate: 2 November 2026 at 08:00:00 CET\n"
     "To: Bob Miller <bob@example.org>\n\nYour flight leaves at 06:40 from gate B12.\n", n=41),
     ["Subject: Your booking ABC123", "From: Airline", "Your flight leaves at 06:40 from gate B12."])
case("forwarded", "outlook_forward", mail("FW: Quarterly numbers", "See the numbers below, we need to talk.\n\n"
     "________________________________\nFrom: Carol <carol@example.net>\nSent: Monday, November 2, 2026 8:00 AM\n"
     "To: Bob Miller <bob@example.org>\nSubject: Quarterly numbers\n\nRevenue is down 4%.\n", n=42),
     ["See the numbers below, we need to talk."], ["Revenue is down 4%", "Sent: Monday", "________"])
case("forwarded", "forward_de_no_comment", mail("WG: Termin", "-------- Weitergeleitete Nachricht --------\n"
     "Betreff: Zahnarzttermin am Donnerstag\nDatum: Mon, 2 Nov 2026 08:00:00 +0100\nVon: Praxis <praxis@example.de>\n"
     "An: Bob Miller <bob@example.org>\n\nIhr Termin ist am Donnerstag um 9 Uhr.\n", n=43),
     ["Betreff: Zahnarzttermin am Donnerstag", "Von: Praxis", "Ihr Termin ist am Donnerstag um 9 Uhr."])

# -- signatures are cut; lists are not signatures -------------------------------------------------

case("signatures-and-lists", "hyphen_list_after_first_line", mail("Packing list", "For the hike we need:\n- water\n"
     "- sandwiches\n- a map\n- rain jackets\n", n=44),
     ["- water", "- sandwiches", "- a map", "- rain jackets"])
case("signatures-and-lists", "list_without_space", mail("Todo", "Before Monday:\n-renew the passport\n-book the dentist\n", n=45),
     ["-renew the passport", "-book the dentist"])
case("signatures-and-lists", "dash_dash_signature", mail("Hello", "Good to hear from you, let's talk Friday.\n\n-- \n"
     "Bob Miller\nSenior Plumber, Pipes & Co\n+1 555 0100\n", n=46),
     ["Good to hear from you, let's talk Friday."], ["Senior Plumber", "+1 555 0100"])
case("signatures-and-lists", "sent_from_iphone", mail("Running late", "Running 10 minutes late, sorry!\n\nSent from my iPhone\n", n=47),
     ["Running 10 minutes late, sorry!"], ["Sent from my iPhone"])
case("signatures-and-lists", "best_regards", mail("Offer", "The offer is attached, valid until the end of the month.\n\n"
     "Best regards,\nBob Miller\nSales | ACME\n", n=48),
     ["The offer is attached, valid until the end of the month."], ["Sales | ACME"])
case("signatures-and-lists", "numbered_and_bullets", mail("Agenda", "Agenda for Monday:\n1. budget\n2. hiring\n"
     "• office move\n• parking\n", n=49), ["1. budget", "2. hiring", "• office move", "• parking"])

# -- subject only ----------------------------------------------------------------------------------

case("subject-only", "empty_body", mail("Call me about the lease", "", n=50), ["Call me about the lease"])
case("subject-only", "whitespace_body", mail("Dentist moved to 4pm", "\n   \n\n", n=51), ["Dentist moved to 4pm"])
case("subject-only", "html_empty_body", mail("Pick up the kids at 3", "<html><body><br></body></html>", ctype="text/html", n=52),
     ["Pick up the kids at 3"])

# -- charsets: 7-bit encodings, raw 8-bit headers ------------------------------------------------

case("charsets", "iso2022jp_body", mail("=?ISO-2022-JP?B?" + base64.b64encode("会議の件".encode("iso-2022-jp")).decode() + "?=",
     "明日の会議は十時からです。よろしくお願いします。\n", charset="iso-2022-jp", n=53),
     ["会議の件", "明日の会議は十時からです。"], ["\x1b$B", "$B"])
case("charsets", "iso2022jp_raw_subject", mail("会議の件について".encode("iso-2022-jp").decode("ascii"),
     "資料を送ります。\n", charset="iso-2022-jp", n=54), ["会議の件について", "資料を送ります。"], ["\x1b"])
case("charsets", "utf7_body", mail("Grüße", "Schöne Grüße aus Köln und bis Freitag.\n", charset="utf-7", n=55),
     ["Schöne Grüße aus Köln und bis Freitag."], ["+AOQ", "+APY"])
case("charsets", "hz_body", mail("=?utf-8?b?" + base64.b64encode("你好".encode()).decode() + "?=",
     "明天下午三点开会，请准时参加。\n", charset="hz-gb-2312", n=56), ["明天下午三点开会，请准时参加。"], ["~{"])
case("charsets", "raw_utf8_headers", mail("Überweisung für März", "Die Überweisung ist raus.\n",
     sender="Jürgen Müller <jm@example.de>", n=57),
     ["From: Jürgen Müller", "Subject: Überweisung für März", "Die Überweisung ist raus."], ["\ufffd"])
case("charsets", "latin1_headers", b"From: J\xfcrgen M\xfcller <jm@example.de>\nTo: alice@example.com\n"
     b"Date: Tue, 03 Nov 2026 10:58:00 +0100\nSubject: \xdcberweisung f\xfcr M\xe4rz\nMessage-ID: <q58@example.org>\n"
     b"Content-Type: text/plain; charset=iso-8859-1\n\nDie \xdcberweisung ist raus.\n",
     ["From: Jürgen Müller", "Subject: Überweisung für März", "Die Überweisung ist raus."], ["\ufffd"])
case("charsets", "latin1_attachment_name", b"From: Bob Miller <bob@example.org>\nTo: alice@example.com\n"
     b"Date: Tue, 03 Nov 2026 10:59:00 +0100\nSubject: Beleg\nMessage-ID: <q59@example.org>\nMIME-Version: 1.0\n"
     b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\nDer Beleg.\n'
     b'--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="\xdcberweisung.pdf"\n'
     b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n",
     ["Der Beleg.", "Überweisung.pdf"], ["\ufffd"])
case("charsets", "raw_utf8_sender_cjk", "From: 山田太郎 <yamada@example.jp>\nTo: alice@example.com\n"
     "Date: Tue, 03 Nov 2026 11:00:00 +0900\nSubject: 来週の予定\nMessage-ID: <q60@example.jp>\n"
     "Content-Type: text/plain; charset=utf-8\n\n来週は火曜日が空いています。\n".encode(),
     ["From: 山田太郎", "Subject: 来週の予定", "来週は火曜日が空いています。"], ["\ufffd"])

# -- text parts that are not plain or HTML -------------------------------------------------------

case("other-text-parts", "enriched", mail("Minutes", "<bold>Decision:</bold> we move the launch to\n<italic>December 1st</italic>."
     "\n\nEveryone agreed <<finally>.\n", ctype="text/enriched", n=61),
     ["Decision: we move the launch to December 1st.", "Everyone agreed <finally>."], ["<bold>", "<italic>"])
case("other-text-parts", "richtext", mail("Note", "<bold>Remember</bold> the keys<nl>and the <italic>passports</italic>"
     "<nl>1 <lt> 2\n", ctype="text/richtext", n=62),
     ["Remember the keys", "and the passports", "1 < 2"], ["<nl>", "<bold>"])

# -- not mail at all ------------------------------------------------------------------------------

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 64
case("not-mail", "outlook_msg_file", OLE, [], skip="an Outlook .msg")
case("not-mail", "binary_blob", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 32, [], skip="binary data")

# -- residue: separators and headers that used to stay behind --------------------------------------

case("residue", "separator_only_left", mail("Re: Budget", "Approved.\n\n________________________________\n", n=65),
     ["Approved."], ["________"])
case("residue", "wrote_line_at_the_end", mail("Re: Parking", "Use the garage on Elm Street.\n\n"
     "On Mon, Nov 2, 2026 at 9:14 PM Bob Miller <bob@example.org> wrote:\n", n=66),
     ["Use the garage on Elm Street."], ["wrote:"])
case("residue", "german_header_in_english_setup", mail("AW: Miete", "Die Miete ist überwiesen.\n\n"
     "Am 02.11.2026 um 21:14 schrieb Bob Miller <bob@example.org>:\n" + q("Hast du die Miete schon überwiesen?") + "\n", n=67),
     ["Die Miete ist überwiesen."], ["Hast du die Miete", "schrieb Bob"])
case("residue", "prose_with_colons_kept", mail("Notes", "Date: moved to Friday.\nTo: everyone in the team.\n"
     "Meeting at 10:00: room 4.\n", n=68),
     ["Date: moved to Friday.", "To: everyone in the team.", "Meeting at 10:00: room 4."])

# -- shapes learned from the reply parsers' public fixtures (written here, not copied) -------------

case("top-posted", "iso_date_header_unquoted_history", mail("Re: Keys", "Thanks, found them.\n\n"
     "2026-11-02 21:14 GMT+01:00 Bob Miller <bob@example.org>:\n\nDid you find the spare keys?\n", n=69),
     ["Thanks, found them."], ["Did you find the spare keys", "GMT+01:00"])
case("top-posted", "name_address_schrieb_unquoted", mail("AW: Keller", "Erledigt.\n\n"
     "Bob Miller <bob@example.org> schrieb:\n\nKannst du den Keller aufräumen?\n", n=70),
     ["Erledigt."], ["Kannst du den Keller", "schrieb:"])
case("top-posted", "catalan_ha_escrit", mail("Re: Sopar", "Perfecte, fins dijous.\n\n"
     "El 02/11/2026 21:14, Bob Miller <bob@example.org> ha escrit:\n\nSopem dijous?\n", n=71),
     ["Perfecte, fins dijous."], ["Sopem dijous", "ha escrit"])
case("top-posted", "gmail_header_wrapped_over_three_lines", mail("Re: Boat", "The boat is booked for Sunday.\n\n"
     "On Mon, Nov 2, 2026 at 9:14 PM, Bob Miller\n<bob@example.org>\nwrote:\n" + q("Can you book the boat?"), n=72),
     ["The boat is booked for Sunday."], ["Can you book the boat", "9:14 PM", "wrote:"])
top("outlook_block_with_reply_to", "From: Bob Miller <bob@example.org>\nReply-To: Team <team@example.org>\n"
    "Date: Monday, November 2, 2026 9:14 PM\nTo: Alice Example\nSubject: Station\n\nMeet at the station at 8?", "", 73,
    gone=["Meet at the station", "Reply-To:"])
top("outlook_fr_envoye_le", "De : Bob Miller [mailto:bob@example.org]\nEnvoyé le : lundi 2 novembre 2026 21:14\n"
    "A : Alice Example\nObjet : Gare\n\nMeet at the station at 8?", "", 74, gone=["Meet at the station", "Envoyé le"])
top("outlook_pt", "De: Bob Miller <bob@example.org>\nEnviada em: segunda-feira, 2 de novembro de 2026 21:14\n"
    "Para: Alice Example\nAssunto: Estação\n\nMeet at the station at 8?", "", 75, gone=["Meet at the station", "Enviada em"])
top("outlook_bold_from_wrapped", "*From:* Bob Miller [mailto:\nbob@example.org]\n*Sent:* Monday, November 2, 2026 "
    "9:14 PM\n*To:* Alice Example\n\nMeet at the station at 8?", "", 76, gone=["Meet at the station", "*Sent:*"])
top("header_flattened_on_one_line", "Date: Mon, 2 Nov 2026 21:14 From: Bob Miller <bob@example.org> To: Alice "
    "Subject: Station\n\nMeet at the station at 8?", "", 77, gone=["Meet at the station", "Subject: Station", "21:14"])
case("residue", "from_and_to_lines_at_the_top_are_the_authors", mail("Ticket 4411", "From: Homer, flat 3\n"
     "To: the building support team\n\nThe heating in flat 3 has been off since Sunday.\n", n=78),
     ["From: Homer, flat 3", "To: the building support team", "The heating in flat 3 has been off since Sunday."])
case("residue", "lowercase_field_words_in_prose", mail("Plan", "from: the start we agreed on three phases.\n"
     "sent: the first draft went out Monday.\nto: the board, next week.\n", n=79),
     ["from: the start we agreed on three phases.", "sent: the first draft went out Monday.", "to: the board, next week."])
case("signatures-and-lists", "sent_from_mail_for_windows", mail("Invoice", "Paid this morning.\n\n"
     "Sent from Mail for Windows 10\n", n=80), ["Paid this morning."], ["Sent from Mail for Windows"])
case("signatures-and-lists", "sent_from_my_desk_is_prose", mail("Phones", "Here is the number.\n\n"
     "Sent from my desk, which is easier than from my phone.\n", n=81),
     ["Sent from my desk, which is easier than from my phone."])
case("signatures-and-lists", "dash_name_sign_off", mail("Question", "How do I reset the router?\n\n-Priya Raman\n", n=82),
     ["How do I reset the router?"], ["-Priya Raman"])

# -- mail the project had never seen (issue 26): written here in the shapes clients produce -------
# 1. a forward without a comment: what was shared is the forwarded mail, headers and text

case("forward-no-comment", "thunderbird_forward_folded_subject", mail("Fwd: Boiler service",
     "\n-------- Forwarded Message --------\nSubject: \tBoiler service on Thursday and the key for the cellar, please\n"
     " read before Wednesday\nDate: \tMon, 2 Nov 2026 09:14:00 +0100\nFrom: \tCarol Jones <carol@example.net>\n"
     "To: \tBob Miller <bob@example.org>\n\n\n\nThe technician comes Thursday between 8 and 10. Leave the cellar key "
     "with the neighbour.\n", n=83),
     ["Subject: Boiler service on Thursday", "read before Wednesday", "From: Carol Jones", "Date: Mon, 2 Nov 2026",
      "The technician comes Thursday between 8 and 10."])
THUNDERBIRD_HTML_FORWARD = (
    '<html>\n  <head>\n    <meta http-equiv="content-type" content="text/html; charset=UTF-8">\n  </head>\n  <body>\n'
    '    <p><br>\n    </p>\n    <div class="moz-forward-container"><br>\n      <br>\n'
    '      -------- Forwarded Message --------\n'
    '      <table class="moz-email-headers-table" cellspacing="0" cellpadding="0" border="0">\n        <tbody>\n'
    '          <tr>\n            <th valign="BASELINE" nowrap="nowrap" align="RIGHT">Subject:\n            </th>\n'
    '            <td>Re: Parking permits for the new office</td>\n          </tr>\n'
    '          <tr>\n            <th valign="BASELINE" nowrap="nowrap" align="RIGHT">Date: </th>\n'
    '            <td>Mon, 2 Nov 2026 09:14:00 +0100</td>\n          </tr>\n'
    '          <tr>\n            <th valign="BASELINE" nowrap="nowrap" align="RIGHT">From: </th>\n'
    '            <td>Carol Jones <a class="moz-txt-link-rfc2396E" href="mailto:carol@example.net">'
    '&lt;carol@example.net&gt;</a></td>\n          </tr>\n'
    '          <tr>\n            <th valign="BASELINE" nowrap="nowrap" align="RIGHT">To: </th>\n'
    '            <td>Bob Miller <a class="moz-txt-link-rfc2396E" href="mailto:bob@example.org">'
    '&lt;bob@example.org&gt;</a></td>\n          </tr>\n        </tbody>\n      </table>\n      <br>\n      <br>\n'
    '      <p>Six permits are approved; pick them up at reception from Monday.</p>\n    </div>\n  </body>\n</html>\n')
case("forward-no-comment", "thunderbird_html_forward", mail("Fwd: Re: Parking permits for the new office",
     THUNDERBIRD_HTML_FORWARD, ctype="text/html", n=84),
     ["Six permits are approved; pick them up at reception from Monday.", "Carol Jones", "Mon, 2 Nov 2026"])
case("forward-no-comment", "gmail_forward_of_a_reply", mail("Fwd: Venue", "---------- Forwarded message ---------\n"
     "From: Carol Jones <carol@example.net>\nDate: Mon, Nov 2, 2026 at 9:14 AM\nSubject: Re: Venue\n"
     "To: Bob Miller <bob@example.org>\n\n\nThe hall is free on the 12th, 200 EUR for the evening.\n\n"
     "On Sun, Nov 1, 2026 at 6:00 PM Bob Miller <bob@example.org> wrote:\n> Is the hall free on the 12th?\n", n=85),
     ["From: Carol Jones", "Subject: Re: Venue", "The hall is free on the 12th, 200 EUR for the evening."],
     ["Is the hall free on the 12th?"])

case("forward-no-comment", "outlook_forward_no_comment", mail("FW: Quarterly numbers", "\n\n"
     "________________________________\nFrom: Carol Jones <carol@example.net>\nSent: Monday, November 2, 2026 8:00 AM\n"
     "To: Bob Miller <bob@example.org>\nSubject: Quarterly numbers\n\nRevenue is down 4%, costs are flat.\n", n=129),
     ["From: Carol Jones <carol@example.net>", "Sent: Monday, November 2, 2026 8:00 AM", "Revenue is down 4%, costs are flat."],
     ["________"])

# 2. a mail that opens with an attribution, unquoted lines under it

case("attribution-at-top", "attribution_then_unquoted_lines", mail("Re: Shifts", 'On 2 Nov 2026 21:14, "Carol Jones" '
     "<carol@example.net> wrote:\n\nI can take the early shift on Saturday, and Dana takes the late one.\n", n=86),
     ["I can take the early shift on Saturday, and Dana takes the late one."])
case("attribution-at-top", "attribution_wrapped_then_unquoted_lines", mail("Re: Shifts", "On Mon, Nov 2, 2026 at 9:14 PM "
     "Carol Jones <\ncarol@example.net> wrote:\nThe rota for December is in the shared folder.\n", n=87),
     ["The rota for December is in the shared folder."])

# 3. a header block pasted at the very top, before the greeting

case("header-block-at-top", "pasted_polish_block_before_greeting", mail("Grafik", "Od: Carol Jones <carol@example.net>\n"
     "Wysłano: poniedziałek, 2 listopada 2026 21:14\nDo: Bob Miller\nTemat: Grafik\n\nDzień dobry,\n\n"
     "przesyłam grafik na grudzień. Proszę o potwierdzenie do piątku.\n\nPozdrawiam\nCarol\n", n=88),
     ["Dzień dobry,", "przesyłam grafik na grudzień. Proszę o potwierdzenie do piątku."])
case("header-block-at-top", "pasted_block_then_reply_then_quote", mail("Re: Offer", "From: Carol Jones <carol@example.net>\n"
     "Sent: Monday, November 2, 2026 9:14 PM\nTo: Bob Miller\nSubject: Offer\n\nHi Bob, this is the offer we got, "
     "what do you think?\n\nOn Sun, Nov 1, 2026 at 6:00 PM Bob Miller <bob@example.org> wrote:\n"
     "> Did the supplier answer yet?\n", n=89),
     ["Hi Bob, this is the offer we got, what do you think?"], ["Did the supplier answer yet?"])

# 4. a broken Content-Type: read as clients do (sniff text or HTML)

case("broken-content-type", "text_plain_with_stray_bracket", mail("Minutes", "The board approved the budget.\n",
     ctype="text/plain>", n=90), ["The board approved the budget."])
case("broken-content-type", "html_tag_as_content_type", mail("Newsletter draft", "<html><body><p>The draft is "
     "<b>ready</b> for review.</p></body></html>\n", ctype="<html>", n=91),
     ["The draft is ready for review."], ["<p>", "<b>"])
case("broken-content-type", "html_body_without_type", b"From: Bob Miller <bob@example.org>\nTo: alice@example.com\n"
     b"Date: Tue, 03 Nov 2026 10:32:00 +0100\nSubject: Agenda\nMessage-ID: <q92@example.org>\nMIME-Version: 1.0\n"
     b"Content-Type: text\n\n<!DOCTYPE html><html><body><div>Agenda: budget, then hiring.</div></body></html>\n",
     ["Agenda: budget, then hiring."], ["<div>", "DOCTYPE"])

# 6. sign-off words end the text only at its end

case("sign-off-words", "danish_tak_before_the_answer", mail("Re: Fredag", "Hej Bob,\n\nTak\n\nJeg kan godt komme på "
     "fredag kl. 10, og jeg tager kagen med.\n\nHilsen\nAlice\n", n=93),
     ["Hej Bob,", "Jeg kan godt komme på fredag kl. 10, og jeg tager kagen med."], ["Hilsen\nAlice"], languages=["da"])
case("sign-off-words", "danish_tak_for_sentence", mail("Re: Møde", "Hej Bob,\n\nTak for din mail.\n"
     "Mødet er flyttet til torsdag, lokale 4.\n\nMvh\nAlice\n", n=94),
     ["Tak for din mail.", "Mødet er flyttet til torsdag, lokale 4."], languages=["da"])
case("sign-off-words", "english_thanks_before_more", mail("Re: Numbers", "Hi Bob,\n\nThanks,\n\nthe numbers look right; "
     "please send them to Dana before noon.\n\nBest regards,\nAlice\n", n=95),
     ["the numbers look right; please send them to Dana before noon."])

# 8. attribution lines in more languages and clients

TOPLINE = "Agreed, let's do that."
ANSWER_OLD = "Shall we move the review to Thursday?"


def unseen(name: str, header: str, quoted: bool, n: int, *, under: bool = False) -> None:
    history = q(ANSWER_OLD) if quoted else ANSWER_OLD
    gap = "\n" if under else "\n\n"
    case("attribution-languages", name, mail("Re: Review", f"{TOPLINE}\n{gap}{header}\n{'' if quoted else chr(10)}"
         f"{history}\n", n=n), [TOPLINE], [ANSWER_OLD, header[-25:]])


unseen("czech_gmail_napsal", "Dne út 3. 11. 2026 8:01 uživatel Bob Miller <bob@example.org> napsal:", False, 96)
unseen("romanian_a_scris", "În lun., 2 nov. 2026 la 21:14, Bob Miller <bob@example.org> a scris:", False, 97)
unseen("greek_egrapse", "Στις Δευ 2 Νοε 2026 στις 9:14 μ.μ., ο/η Bob Miller <bob@example.org> έγραψε:", False, 98)
unseen("arabic_kataba", "في 2/11/2026 9:14 م، Bob Miller كتب:", True, 99)
unseen("polish_apple_mail", "Wiadomość napisana przez Bob Miller <bob@example.org> w dniu 02.11.2026, o godz. 21:14:",
       False, 100)
unseen("ukrainian_napysav", "02.11.2026 21:14, Bob Miller написав:", True, 101)
unseen("hungarian_irta", "Bob Miller <bob@example.org> ezt írta (időpont: 2026. nov. 2., H, 21:14):", False, 102)
unseen("german_gmail_schrieb_am", "Bob Miller <bob@example.org> schrieb am Mo., 2. Nov. 2026 um 21:14:", False, 103)
unseen("german_gmail_schrieb_am_entities_under_text",
       "Bob Miller &lt;bob@example.org&gt; schrieb am Mo., 2. Nov. 2026, 21:14:", False, 104, under=True)
unseen("zimbra_le_a_ecrit", "- Le 2026-11-02 21:14, Bob Miller a écrit :", False, 105)
unseen("list_digest_via", "2026/11/2 Bob Miller via Review Group <review@example.org>", True, 106)
unseen("zoho_dashes_wrote", "---- On Mon, 02 Nov 2026 21:14:00 +0100 Bob Miller <bob@example.org> wrote ----", False, 107)

# 9. an attribution wrapped over two lines whose last line was quoted, older mail unquoted below

case("attribution-wrapped", "wrapped_attribution_quoted_tail", mail("Re: Boat", "Booked for Sunday.\n\n"
     "Le lun. 2 nov. 2026 à 21:14, Bob Miller\n> a écrit :\n\nCan you book the boat for Sunday?\n\n"
     "Bob\n", n=108), ["Booked for Sunday."], ["Can you book the boat", "a écrit"])

# 10. separators: Danish, header blocks wrapped onto two lines, an HTML rule

case("separators", "danish_oprindelig_besked", mail("SV: Station", "Det passer fint.\n\n-------- Oprindelig besked --------\n"
     "Fra: Bob Miller <bob@example.org>\nDato: 02.11.2026 21.14\nTil: Alice Example\nEmne: Station\n\n"
     "Meet at the station at 8?\n", n=109), ["Det passer fint."], ["Meet at the station", "Oprindelig besked"])
case("separators", "norwegian_block_on_two_lines", mail("SV: Station", "Det passer bra.\n\n"
     "Fra: Bob Miller <bob@example.org> Sendt: mandag 2. november 2026 21:14\nTil: Alice Example Emne: Stasjon\n\n"
     "Meet at the station at 8?\n", n=110), ["Det passer bra."], ["Meet at the station", "Sendt: mandag"])
case("separators", "finnish_block_on_two_lines", mail("VS: Asema", "Sopii hyvin.\n\n"
     "Lähettäjä: Bob Miller <bob@example.org> Lähetetty: maanantai 2. marraskuuta 2026 21.14\n"
     "Vastaanottaja: Alice Example Aihe: Asema\n\nMeet at the station at 8?\n", n=111),
     ["Sopii hyvin."], ["Meet at the station", "Lähetetty:"])
case("separators", "html_rule_between_reply_and_history", mail("RE: Station", '<html><body><div dir="ltr">'
     "Thanks, that works for me.</div>\n<hr style=\"display:inline-block;width:98%\" tabindex=\"-1\">\n"
     '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt"><b>From:</b> '
     "Bob Miller &lt;bob@example.org&gt;<br><b>To:</b> Alice Example<br><b>Subject:</b> Station</font>"
     "<div>&nbsp;</div></div><div>Meet at the station at 8?</div></body></html>\n", ctype="text/html", n=112),
     ["Thanks, that works for me."], ["Meet at the station", "Subject: Station"])

# 11. unquoted history below a bottom-quoted part

case("history-below-bottom-quote", "bottom_answer_then_unquoted_block", mail("Re: Slides", "Bob Miller wrote:\n"
     "> Can you send the slides?\n\nSent them just now.\n\nFrom: Carol Jones\nTo: Bob Miller\n"
     "Subject: Slides for Monday\n\nThe slides need the new logo.\n", n=113),
     ["Sent them just now."], ["Can you send the slides", "The slides need the new logo", "Subject: Slides for"])
case("history-below-bottom-quote", "bottom_answer_then_unquoted_attribution", mail("Re: Slides", "> Can you send the slides?"
     "\n\nSent them just now.\n\nCarol Jones <carol@example.net> schrieb am So., 1. Nov. 2026, 18:00:\n\n"
     "The slides need the new logo.\n", n=114),
     ["Sent them just now."], ["Can you send the slides", "The slides need the new logo"])
case("history-below-bottom-quote", "bottom_answer_then_name_wrote", mail("Re: Slides", "> Can you send the slides?\n\n"
     "Sent them just now.\n\nCarol Jones wrote:\n\nThe slides need the new logo.\n", n=115),
     ["Sent them just now."], ["Can you send the slides", "The slides need the new logo", "Carol Jones wrote"])

# 5. invitations: the event rendered into the text (text/calendar inline, or an .ics attachment)


def ics(method: str, event: str, *, zone: str = "") -> str:
    """An iCalendar file as calendar servers write it: CRLF lines, a PRODID, one VEVENT."""
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Example Corp//Calendar 2.1//EN", "VERSION:2.0", "CALSCALE:GREGORIAN",
             f"METHOD:{method}", *([zone] if zone else []), "BEGIN:VEVENT", *event.strip().split("\n"), "END:VEVENT",
             "END:VCALENDAR"]
    return "\r\n".join(lines) + "\r\n"


def invitation(subject: str, n: int, calendar: str, method: str, *, plain: str = "", html: str = "",
               attach: bool = False) -> bytes:
    """An invitation as Gmail and Outlook send it: text and HTML (often next to empty), the
    calendar as an alternative, and in Gmail's case the same calendar again as invite.ics."""
    calendar_b64 = base64.encodebytes(calendar.encode()).decode()
    body = ("--alt\nContent-Type: text/plain; charset=\"UTF-8\"\n\n" + plain + "\n"
            "--alt\nContent-Type: text/html; charset=\"UTF-8\"\n\n" + (html or "<div></div>") + "\n"
            f"--alt\nContent-Type: text/calendar; charset=\"UTF-8\"; method={method}\nContent-Transfer-Encoding: 7bit\n\n"
            + calendar + "\n--alt--\n")
    if attach:
        body = ("--mixed\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n" + body + "\n"
                "--mixed\nContent-Type: application/ics; name=\"invite.ics\"\n"
                "Content-Disposition: attachment; filename=\"invite.ics\"\nContent-Transfer-Encoding: base64\n\n"
                + calendar_b64 + "--mixed--\n")
        ctype = 'multipart/mixed; boundary="mixed"'
    else:
        ctype = 'multipart/alternative; boundary="alt"'
    head = (f"From: Carol Jones <carol@example.net>\nTo: Bob Miller <bob@example.org>, Alice Example <alice@example.com>\n"
            f"Date: Tue, 03 Nov 2026 10:{n % 60:02d}:00 +0100\nSubject: {subject}\nMessage-ID: <q{n}@example.net>\n"
            f"MIME-Version: 1.0\nContent-Type: {ctype}\n\n")
    return (head + body).encode()


GMAIL_EVENT = """DTSTART:20261110T130000Z
DTEND:20261110T143000Z
DTSTAMP:20261103T090000Z
ORGANIZER;CN=Carol Jones:mailto:carol@example.net
UID:4kq8s0pl1example@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=Bob Miller;X-NUM-GUESTS=0:mailto:bob@example.org
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=TRUE;CN=Carol Jones;X-NUM-GUESTS=0:mailto:carol@example.net
CREATED:20261103T090000Z
DESCRIPTION:
LAST-MODIFIED:20261103T090000Z
LOCATION:Room 4.12
SEQUENCE:0
STATUS:CONFIRMED
SUMMARY:Quarterly planning
TRANSP:OPAQUE"""
case("invitation", "gmail_invitation_empty_text", invitation("Invitation: Quarterly planning @ Tue Nov 10, 2026 2pm - "
     "3:30pm (CET) (bob@example.org)", 117, ics("REQUEST", GMAIL_EVENT), "REQUEST", attach=True),
     ["Invitation: Quarterly planning", "10 Nov 2026", "Where: Room 4.12", "Organizer: Carol Jones <carol@example.net>",
      "Bob Miller <bob@example.org>", "invite.ics"], ["BEGIN:VEVENT", "mailto:"])
OUTLOOK_ZONE = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE"""
OUTLOOK_CANCEL = """ORGANIZER;CN=Carol Jones:mailto:carol@example.net
ATTENDEE;ROLE=REQ-PARTICIPANT;RSVP=TRUE;CN=Bob Miller:mailto:bob@example.org
DESCRIPTION;LANGUAGE=en-US:The supplier moved their visit\\; we will find a new date.\\n
UID:040000008200E00074C5B7101A82E00800000000C0FFEE0000000000000000001000000
SUMMARY;LANGUAGE=en-US:Canceled: Supplier review
DTSTART;TZID=W. Europe Standard Time:20261112T100000
DTEND;TZID=W. Europe Standard Time:20261112T110000
CLASS:PUBLIC
PRIORITY:1
DTSTAMP:20261103T091500Z
TRANSP:TRANSPARENT
STATUS:CANCELLED
SEQUENCE:1
LOCATION;LANGUAGE=en-US:Meeting room Oslo
X-MICROSOFT-CDO-BUSYSTATUS:FREE
X-MICROSOFT-CDO-IMPORTANCE:2"""
case("invitation", "outlook_cancellation_with_text", invitation("Canceled: Supplier review", 118,
     ics("CANCEL", OUTLOOK_CANCEL, zone=OUTLOOK_ZONE), "CANCEL",
     plain="The supplier moved their visit; we will find a new date.\n"),
     ["The supplier moved their visit; we will find a new date.", "Cancelled event: Canceled: Supplier review",
      "12 Nov 2026", "Where: Meeting room Oslo"], ["BEGIN:VCALENDAR", "X-MICROSOFT"])
UPDATED = GMAIL_EVENT.replace("SEQUENCE:0", "SEQUENCE:2").replace("Room 4.12", "Room 2.01 (ground floor)")
case("invitation", "updated_invitation_with_html_text", invitation("Updated invitation: Quarterly planning", 119,
     ics("REQUEST", UPDATED), "REQUEST", html="<p>The room changed, see below.</p>"),
     ["The room changed, see below.", "Updated invitation: Quarterly planning", "Where: Room 2.01 (ground floor)"])
ALL_DAY = """UID:20261103-offsite@example.org
DTSTAMP:20261103T090000Z
DTSTART;VALUE=DATE:20261201
DTEND;VALUE=DATE:20261203
SUMMARY:Team offsite
LOCATION:Lakeside Lodge\\, Hall B
ORGANIZER;CN="Dana Lee":mailto:dana@example.org"""
case("invitation", "ics_attachment_only_all_day", (
     "From: Dana Lee <dana@example.org>\nTo: Alice Example <alice@example.com>\nDate: Tue, 03 Nov 2026 11:20:00 +0100\n"
     "Subject: Offsite\nMessage-ID: <q120@example.org>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"m\"\n\n"
     "--m\nContent-Type: text/plain; charset=utf-8\n\n\n--m\nContent-Type: text/calendar; charset=utf-8; name=\"offsite.ics\"\n"
     "Content-Disposition: attachment; filename=\"offsite.ics\"\n\n" + ics("PUBLISH", ALL_DAY) + "\n--m--\n").encode(),
     ["Event: Team offsite", "Tue 1 Dec 2026 to Wed 2 Dec 2026 (all day)", "Where: Lakeside Lodge, Hall B",
      "Organizer: Dana Lee <dana@example.org>"])
REPLY = """DTSTART:20261110T130000Z
DTEND:20261110T143000Z
DTSTAMP:20261103T100000Z
ORGANIZER;CN=Carol Jones:mailto:carol@example.net
UID:4kq8s0pl1example@google.com
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Bob Miller;X-NUM-GUESTS=0:mailto:bob@example.org
SEQUENCE:0
SUMMARY:Quarterly planning"""
case("invitation", "accepted_reply", invitation("Accepted: Quarterly planning @ Tue Nov 10, 2026 2pm - 3:30pm (CET)", 121,
     ics("REPLY", REPLY), "REPLY", plain="Bob Miller has accepted this invitation.\n"),
     ["Answer to the invitation: Quarterly planning", "Answer: Bob Miller <bob@example.org> accepted"])

# 12. a header folded without a leading space or tab: read as clients do, not as the end of headers

case("folded-headers", "subject_folded_without_space", b"From: Bob Miller <bob@example.org>\n"
     b"To: Alice Example <alice@example.com>\nSubject: Quarterly report for the board meeting and the notes from\n"
     b"the call on Monday\nDate: Tue, 03 Nov 2026 10:22:00 +0100\nMessage-ID: <q121@example.org>\nMIME-Version: 1.0\n"
     b'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\nContent-Type: text/plain; charset=utf-8\n\n'
     b"The report is in the board folder.\n\n--b1\nContent-Type: text/html; charset=utf-8\n"
     b"Content-Transfer-Encoding: quoted-printable\n\n<html><body><p style=3D\"margin:0\">The report is in the board "
     b"folder.</p></body></html>\n\n--b1--\n",
     ["Subject: Quarterly report for the board meeting and the notes from the call on Monday",
      "The report is in the board folder."], ["--b1", "Content-Type", "style=3D", "MIME-Version"])
case("folded-headers", "to_list_folded_without_space", b"From: Bob Miller <bob@example.org>\n"
     b"To: Alice Example <alice@example.com>, Carol Jones <carol@example.net>,\nDana Lee <dana@example.org>\n"
     b"Subject: Rota\nDate: Tue, 03 Nov 2026 10:23:00 +0100\nMessage-ID: <q122@example.org>\n"
     b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
     + base64.encodebytes(b"Dana takes Saturday, Carol Sunday.\n"),
     ["Dana Lee <dana@example.org>", "Dana takes Saturday, Carol Sunday."], ["Content-Transfer-Encoding", "RGFuYS"])

# 13. names and charsets: encoded words where parsers leave them, undeclared legacy charsets, odd encodings


def attachment_mail(n: int, disposition: bytes) -> bytes:
    return (b"From: Bob Miller <bob@example.org>\nTo: alice@example.com\nDate: Tue, 03 Nov 2026 10:30:00 +0100\n"
            b"Subject: Files\nMessage-ID: <q" + str(n).encode() + b"@example.org>\nMIME-Version: 1.0\n"
            b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset=utf-8\n\n'
            b"The files for Monday.\n--b\n" + disposition + b"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--b--\n")


NAME_B64 = base64.b64encode("Отчёт за ноябрь.pdf".encode()).decode()
case("names-and-charsets", "unquoted_encoded_word_file_name", attachment_mail(123, (
     f"Content-Type: application/pdf; name==?utf-8?B?{NAME_B64}?=\n"
     f"Content-Disposition: attachment; filename==?utf-8?B?{NAME_B64}?=").encode()),
     ["The files for Monday.", "Отчёт за ноябрь.pdf"], ["=?utf-8?"])
case("names-and-charsets", "undeclared_big5_header_and_body", "From: 陳大文 <chan@example.com.tw>\n".encode("big5")
     + b"To: alice@example.com\nDate: Tue, 03 Nov 2026 10:31:00 +0800\nMessage-ID: <q124@example.com.tw>\n"
     + "Subject: 會議記錄與下週的安排\n".encode("big5") + b"Content-Type: text/plain\n\n"
     + "明天下午三點開會，請大家準時參加，謝謝。\n".encode("big5"),
     ["From: 陳大文", "Subject: 會議記錄與下週的安排", "明天下午三點開會，請大家準時參加"], ["\ufffd"])
case("names-and-charsets", "shift_jis_sender_in_multipart", "From: 佐々木 <sasaki@example.jp>\n".encode("shift_jis")
     + b"To: alice@example.com\nDate: Tue, 03 Nov 2026 10:32:00 +0900\nMessage-ID: <q125@example.jp>\nSubject: Meeting\n"
     + b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n--b\n'
     + b"Content-Type: text/plain; charset=Shift_JIS\n\n" + "明日の会議は十時からです。\n".encode("shift_jis") + b"--b--\n",
     ["From: 佐々木", "明日の会議は十時からです。"], ["\ufffd"])
for n, encoding in ((126, b" Base64 "), (127, b'"base64"'), (128, b"base-64")):
    case("names-and-charsets", f"transfer_encoding_{n - 125}_written_oddly", b"From: Bob Miller <bob@example.org>\n"
         b"To: alice@example.com\nDate: Tue, 03 Nov 2026 10:33:00 +0100\nSubject: Transfer\nMessage-ID: <q"
         + str(n).encode() + b"@example.org>\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
         + encoding + b"\n\n" + base64.encodebytes("Die Überweisung ist raus, danke.\n".encode()),
         ["Die Überweisung ist raus, danke."], ["RGllIM"])


def main() -> None:
    for old in HERE.glob("*.eml"):
        old.unlink()
    expected = []
    for item in CASES:
        (HERE / f"{item.name}.eml").write_bytes(item.raw)
        record = asdict(item)
        del record["raw"]
        expected.append(record)
    (HERE / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(CASES)} messages written to {HERE}")


if __name__ == "__main__":
    main()
