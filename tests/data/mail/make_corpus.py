"""Writes the awkward-mail corpus beside this file. Run it to regenerate; the .eml files are committed.

Each file is built byte by byte the way a real mailer (or a broken one) would write it. Its
expected outcome is in EXPECTED: ("sent", substrings the text must hold, substrings it must not)
or ("skipped", the start of the reason).
"""

from __future__ import annotations

import base64
from pathlib import Path

HERE = Path(__file__).parent
HEAD = "From: Alice Example <alice@example.com>\nTo: Bob <bob@example.org>\nDate: Mon, 02 Nov 2026 09:15:00 +0100\n"


def _b(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


CASES: dict[str, bytes] = {
    "plain_utf8.eml": _b(HEAD + "Subject: Lunch on Friday?\nMessage-ID: <plain-1@example.com>\n"
                         "Content-Type: text/plain; charset=utf-8\n\nAre you free for lunch on Friday? ☕\n"),
    "rfc2047_headers.eml": _b(
        "From: =?ISO-8859-1?Q?J=FCrgen_M=FCller?= <jm@example.de>\nTo: bob@example.org\n"
        "Subject: =?UTF-8?B?w5xiZXJzaWNodA==?= =?UTF-8?Q?_f=C3=BCr_M=C3=A4rz?= and plain words\n"
        "Date: Tue, 03 Nov 2026 10:00:00 +0100\nMessage-ID: <rfc2047@example.de>\n"
        "Content-Type: text/plain; charset=utf-8\n\nDie Übersicht ist fertig.\n"),
    "html_only.eml": _b(HEAD + "Subject: Agenda\nMessage-ID: <html-only@example.com>\nMIME-Version: 1.0\n"
                        "Content-Type: text/html; charset=utf-8\n\n<html><head><style>p { color: red }</style>"
                        "<script>track()</script></head><body><p>Hi <b>Bob</b>,</p><p>the agenda:</p>"
                        "<ul><li>budget</li><li>hiring</li></ul><p>Thanks &amp; bye</p></body></html>\n"),
    "alternative.eml": _b(HEAD + "Subject: Both parts\nMessage-ID: <alt@example.com>\nMIME-Version: 1.0\n"
                          'Content-Type: multipart/alternative; boundary="b1"\n\n--b1\n'
                          "Content-Type: text/plain; charset=utf-8\n\nThe plain version wins.\n--b1\n"
                          "Content-Type: text/html; charset=utf-8\n\n<p>The HTML version.</p>\n--b1--\n"),
    "wrong_charset.eml": _b(HEAD + "Subject: Declared ASCII, sent UTF-8\nMessage-ID: <wrong-cs@example.com>\n"
                            "Content-Type: text/plain; charset=us-ascii\n\n") + "Café crème à 8 h.\n".encode(),
    "latin1_declared_utf8.eml": _b(HEAD + "Subject: Declared UTF-8, sent Latin-1\nMessage-ID: <l1@example.com>\n"
                                   "Content-Type: text/plain; charset=utf-8\n\n")
    + "Grüße aus Köln, schöne Tage und viel Spaß beim Lesen.\n".encode("latin-1"),
    "unknown_charset.eml": _b(HEAD + "Subject: Made-up charset\nMessage-ID: <x-cs@example.com>\n"
                              'Content-Type: text/plain; charset="x-made-up-8"\n\nPlain ASCII words survive.\n'),
    "gb2312.eml": _b(HEAD + "Subject: =?gb2312?B?xOO6wyDKwL3n?=\nMessage-ID: <gb@example.cn>\n"
                     "Content-Type: text/plain; charset=gb2312\n\n") + "你好，世界。明天见。\n".encode("gb18030"),
    "missing_headers.eml": b"Content-Type: text/plain\n\nA note with no sender, no date, no subject, no id.\n",
    "broken_mime.eml": _b(HEAD + "Subject: Broken MIME\nMessage-ID: <broken@example.com>\nMIME-Version: 1.0\n"
                          'Content-Type: multipart/mixed; boundary="never-closed"\n\n--never-closed\n'
                          "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
                          "VGhpcyBib2R5IGlzIGZpbmU=!!!not base64###\n--never-closed\n"
                          "Content-Type: text/plain\n\nsecond part, the boundary is never closed\n"),
    "bounce.eml": _b("From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\nTo: alice@example.com\n"
                     "Subject: Undelivered Mail Returned to Sender\nDate: Mon, 02 Nov 2026 09:20:00 +0100\n"
                     "Message-ID: <bounce@mx.example.com>\nMIME-Version: 1.0\n"
                     'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\n\n--r\n'
                     "Content-Type: text/plain\n\nThis is the mail system. Your message could not be delivered.\n"
                     "--r\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--r--\n"),
    "auto_reply.eml": _b(HEAD + "Subject: Out of office\nMessage-ID: <ooo@example.com>\nAuto-Submitted: auto-replied\n"
                         "Content-Type: text/plain\n\nI am away until Monday.\n"),
    "newsletter.eml": _b("From: Deals <news@shop.example>\nTo: bob@example.org\nSubject: 50% off\n"
                         "Date: Mon, 02 Nov 2026 07:00:00 +0000\nMessage-ID: <nl-1@shop.example>\n"
                         "List-Unsubscribe: <mailto:unsub@shop.example>\nPrecedence: bulk\n"
                         "Content-Type: text/html\n\n<h1>Sale!</h1>\n"),
    "noreply.eml": _b("From: Service <no-reply@bank.example>\nTo: bob@example.org\nSubject: Your statement\n"
                      "Date: Mon, 02 Nov 2026 07:00:00 +0000\nMessage-ID: <stmt@bank.example>\n"
                      "Content-Type: text/plain\n\nYour statement is ready.\n"),
    "attachment.eml": _b(HEAD + "Subject: Report attached\nMessage-ID: <att@example.com>\nMIME-Version: 1.0\n"
                         'Content-Type: multipart/mixed; boundary="m"\n\n--m\nContent-Type: text/plain; charset=utf-8\n\n'
                         "The report is attached.\n--m\nContent-Type: application/pdf\n"
                         "Content-Disposition: attachment; filename*=UTF-8''Bericht-%C3%9Cbersicht.pdf\n"
                         "Content-Transfer-Encoding: base64\n\n"
                         + base64.b64encode(b"%PDF-1.4 fake pdf body " * 20).decode() + "\n--m--\n"),
    "reply_en.eml": _b(HEAD + "Subject: Re: Lunch on Friday?\nMessage-ID: <reply-en@example.com>\n"
                       "In-Reply-To: <plain-1@example.com>\nContent-Type: text/plain; charset=utf-8\n\n"
                       "Friday works, 12:30 at the usual place.\n\n-- \nAlice Example\nHead of Things, ACME\n\n"
                       "On Sun, Nov 1, 2026 at 8:00 PM Bob <bob@example.org> wrote:\n> Are you free for lunch on Friday?\n"
                       "> Bob\n"),
    "reply_de.eml": _b(HEAD + "Subject: AW: Termin\nMessage-ID: <reply-de@example.de>\n"
                       "Content-Type: text/plain; charset=utf-8\n\nDienstag passt mir gut.\n\n"
                       "Am So., 1. Nov. 2026 um 20:00 Uhr schrieb Bob <bob@example.org>:\n> Wann hast du Zeit?\n"),
    "empty_body.eml": _b(HEAD + "Subject: \nMessage-ID: <empty@example.com>\nContent-Type: text/plain\n\n   \n"),
    "forwarded.eml": _b(HEAD + "Subject: Fwd: the original\nMessage-ID: <fwd@example.com>\nMIME-Version: 1.0\n"
                        'Content-Type: multipart/mixed; boundary="f"\n\n--f\nContent-Type: text/plain\n\n'
                        "See below.\n--f\nContent-Type: message/rfc822\n\nFrom: carol@example.net\n"
                        "Subject: the original\n\nOriginal words from Carol.\n--f--\n"),
    "crlf.eml": (HEAD + "Subject: Windows line endings\nMessage-ID: <crlf@example.com>\n"
                 "Content-Type: text/plain\n\nLine one.\nLine two.\n").replace("\n", "\r\n").encode(),
    "bad_date.eml": _b("From: alice@example.com\nTo: bob@example.org\nSubject: Date is nonsense\n"
                       "Date: the day after tomorrow\nMessage-ID: <bad-date@example.com>\n\nStill delivered.\n"),
    "huge_body.eml": _b(HEAD + "Subject: A very long report\nMessage-ID: <huge@example.com>\n"
                        "Content-Type: text/plain; charset=utf-8\n\n"
                        + "".join(f"Paragraph {i}: the findings continue at length.\n\n" for i in range(6000))),
    "not_an_email.eml": bytes(range(256)) * 8,
}

EXPECTED: dict[str, tuple] = {
    "plain_utf8.eml": ("sent", ["Subject: Lunch on Friday?", "From: Alice Example <alice@example.com>",
                                "Are you free for lunch on Friday? ☕"], []),
    "rfc2047_headers.eml": ("sent", ["From: Jürgen Müller <jm@example.de>", "Subject: Übersicht für März and plain words"],
                            ["=?"]),
    "html_only.eml": ("sent", ["Hi Bob,", "budget", "hiring", "Thanks & bye"], ["<p>", "color: red", "track()"]),
    "alternative.eml": ("sent", ["The plain version wins."], ["The HTML version"]),
    "wrong_charset.eml": ("sent", ["Café crème à 8 h."], []),
    "latin1_declared_utf8.eml": ("sent", ["Grüße aus Köln"], []),
    "unknown_charset.eml": ("sent", ["Plain ASCII words survive."], []),
    "gb2312.eml": ("sent", ["你好，世界。明天见。", "Subject: 你好 世界"], []),
    "missing_headers.eml": ("sent", ["A note with no sender"], []),
    "broken_mime.eml": ("sent", ["Subject: Broken MIME"], []),
    "bounce.eml": ("skipped", "automated: delivery report"),
    "auto_reply.eml": ("skipped", "automated: Auto-Submitted: auto-replied"),
    "newsletter.eml": ("skipped", "automated: Precedence: bulk"),
    "noreply.eml": ("skipped", "automated: sender no-reply@bank.example"),
    "attachment.eml": ("sent", ["The report is attached.", "Attachments: Bericht-Übersicht.pdf (application/pdf)"],
                       ["PDF-1.4"]),
    "reply_en.eml": ("sent", ["Friday works, 12:30 at the usual place."], ["Are you free", "Head of Things"]),
    "reply_de.eml": ("sent", ["Dienstag passt mir gut."], ["Wann hast du Zeit"]),
    "empty_body.eml": ("skipped", "no text in the message"),
    "forwarded.eml": ("sent", ["See below."], []),
    "crlf.eml": ("sent", ["Line one.\nLine two."], ["\r"]),
    "bad_date.eml": ("sent", ["Still delivered."], []),
    "huge_body.eml": ("sent", ["Paragraph 5999: the findings continue"], []),
    "not_an_email.eml": ("any",),
}

if __name__ == "__main__":
    for name, data in CASES.items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(CASES)} messages")
