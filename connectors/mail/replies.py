"""What the author of a mail wrote: every unquoted line, wherever it stands.

A quote model, not a cut at the first quote. Reading a plain-text body line by line:

- a ``>``-quoted line is someone else's words: dropped;
- a quote header ("On ... wrote:", "Am ... schrieb ...:", ...) is dropped when a quote follows
  it; when plain text follows it instead, that text is the old mail itself (clients that do
  not prefix quotes with ``>``), and the history starts there;
- a history block ends the author's part: an Outlook-style header block ("From: / Sent: / To:",
  in every language the library knows), a "-----Original Message-----" or "Forwarded message"
  separator, Apple Mail's "Begin forwarded message:". Of a forwarded block, its Subject is kept;
- every other line is the author's, in place: a greeting above a quote, answers written between
  quoted lines, a reply under the quote.

Then the signature and disclaimers are cut from what is left, as mail-parser-reply finds them in
the configured languages, with hyphen lists kept (a "- item" line is not a signature).

Quote headers and history blocks are recognised in every language mail-parser-reply has patterns
for: a German quote header in an English user's mailbox is as common as the quote it introduces,
and those patterns are specific. Signature phrases are not ("Tak", "Hilsen", "/x" start a
signature in Danish or Swedish), so those stay with the configured languages.

The library's patterns are tried only at line starts with ``match`` (they are anchored to a
line start or a line break), and only on lines that could begin a header, which keeps this
linear in the body and cheap on long quoted threads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from mailparser_reply.constants import MAIL_LANGUAGES
from mailparser_reply.parser import EmailMessage

__all__ = ["Authored", "author_text"]

# separators that open a block of old mail, in the languages mail clients write them in
_SEPARATOR = re.compile(
    r"^[-_=*\s]{2,}\s*(?:original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht|"
    r"originalnachricht|message d'origine|message transféré|mensaje original|mensaje reenviado|"
    r"messaggio originale|messaggio inoltrato|oorspronkelijk bericht|doorgestuurd bericht|"
    r"reply message|antwort nachricht|oprindelig meddelelse|videresendt meddelelse|ursprungligt meddelande|"
    r"vidarebefordrat meddelande|"
    r"wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|původní zpráva|přeposlaná zpráva|"
    r"原始邮件|转发邮件|元のメッセージ|転送メッセージ|원본 메시지|전달된 메시지)\s*[-_=*\s]*:?$"
    r"|^(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|"
    r"inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht)\s*:$",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"forward|weitergeleitet|transféré|réexpédié|reenviado|inoltrato|doorgestuurd|"
                      r"videresendt|vidarebefordrat|przekazana|přeposlaná|转发|転送|전달", re.IGNORECASE)
_RULE = re.compile(r"^[_\-=*]{20,}$")  # Outlook's line of underscores above its header block
_SUBJECT = re.compile(r"^[* ]*(?:Subject|Betreff|Objet|Asunto|Oggetto|Onderwerp|Temat|Předmět|Emne|Ämne|"
                      r"主题|件名|제목)\s?[:\uff1a][ *]*(.+)$", re.IGNORECASE | re.MULTILINE)


def _library_wrote_headers() -> list[str]:
    return [table["wrote_header"] for table in MAIL_LANGUAGES.values() if table.get("wrote_header")]


# Quote headers the library's patterns miss: Gmail's Spanish has one space before "escribió"
# (the library asks for two), Gmail's Dutch puts the name after "schreef", and the library's
# Chinese and Korean patterns open with a lookahead that rejects their own match; Portuguese
# is not there at all. A header may wrap onto a second line, as Gmail wraps long ones.
_MIDDLE = r"[^\n]+?(?:\n[^\n]+?)?"
_MORE_WROTE = [
    rf"^El\s{_MIDDLE}\s?escribió\s?:$",
    rf"^Op\s{_MIDDLE}\sschreef\s{_MIDDLE}:$",
    rf"^Em\s{_MIDDLE}\s?escreveu\s?:$",
    r"^\d{4}年\d{1,2}月\d{1,2}日[^\n]{0,120}?写道[:\uff1a]$",
    r"^\d{4}년 \d{1,2}월 \d{1,2}일[^\n]{0,120}?작성하였습니다[:\uff1a]$",
]
# Any line ending in "... wrote:" is a quote's header when a quote follows it ("Bob wrote:",
# mutt's and many others' attributions); not otherwise, since prose says "she wrote:" too.
_INTRO = re.compile(
    r"^[^\n]{0,200}?\b(?:wrote|writes|sent|schrieb|schreibt|a écrit|escribió|escreveu|ha scritto|ha escrit|schreef|"
    r"geschreven|skrev|kirjoitti|napisał(?:\(a\)|a)?|napsal\(a\)|pisze|пишет|написал\(а\)|yazdı)\s?:$|"  # noqa: RUF001
    r"^[^\n]{0,200}?(?:写道|作成|작성하였습니다|작성|のメッセージ)\s?[:\uff1a]$|"
    r"^[^\n]{0,200}?<?[^\s<>@]+@[^\s<>@]+>?\)?\s?:$",  # "2014-03-20 8:48 GMT+01:00 Rémi <remi@example.com>:"
    re.IGNORECASE)
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# the first line of a quote header that wrapped: "On Wed, Dec 9, Bob Example" / "<bob@...>" / "wrote:"
_INTRO_START = re.compile(
    r"^(?:On|Am|Le|El|Op|Il|Den|Dne|Dnia|W dniu|Em|På|\d{4}[-/.年]|\d{1,2}[./]\d{1,2}[./]\d{2,4})\s")
# Header blocks of quoted mail ("From: / Sent: / To: / Subject:"), field names as clients write
# them, capitalised. A block is a run of field lines (a wrapped value may continue on the next
# line) that names a sender and a date: "From: Homer / To: Support" at the top of a mail, or
# "from: the beginning" in prose, is not old mail.
_SENDER = ("From|Von|De|Da|Van|Od|Från|Fra|Lähettäjä|Feladó|Kimden|От|Від|发件人|寄件者|보낸\\s?사람|差出人")
_DATED = ("Sent|Date|Datum|Gesendet|Envoyé(?: le)?|Date d'envoi|Message du|Enviado|Enviada em|Fecha|Inviato|Data|"
          "Verzonden|Skickat|Sendt|Dato|Odesláno|Wysłano|Lähetetty|Päivämäärä|Elküldve|Gönderildi|Tarih|"
          "Отправлено|Дата|Надіслано|发送时间|發送時間|日期|送信日時|日付|보낸\\s?날짜|날짜")
_OTHER = ("To|Cc|CC|Bcc|Reply-To|Subject|Organization|Importance|Priority|Attachments|An|Kopie|Betreff|Antwort an|"
          "À|A|Copie à|Objet|Sujet|Para|Asunto|Assunto|Oggetto|Aan|Onderwerp|Till|Kopia|Ämne|Til|Emne|"
          "Komu|Předmět|Do|DW|Temat|Vastaanottaja|Aihe|Címzett|Tárgy|Kime|Konu|Кому|Копия|Тема|Тема листа|"
          "收件人|抄送|主题|主旨|收件者|宛先|件名|받는\\s?사람|참조|제목")
_FIELD = re.compile(rf"^\*?\s*(?:({_SENDER})|({_DATED})|(?:{_OTHER}))\s?\*?\s?[:\uff1a]")
_FIELDS_INLINE = re.compile(rf"(?:^|\s)\*?(?:({_SENDER})|({_DATED})|(?:{_OTHER}))\*?\s?[:\uff1a]")


def _block_at(lines: list[str], i: int) -> bool:
    """Whether a header block of quoted mail starts at line ``i``."""
    if i >= len(lines) or not lines[i]:
        return False
    inline = _FIELDS_INLINE.findall(lines[i]) if _FIELD.match(lines[i]) else []
    if len(inline) >= 3:  # a block flattened onto one line: "Date: ... From: ... To: ... Subject: ..."
        return any(named_sender for named_sender, _ in inline) and any(named_date for _, named_date in inline)
    sender = dated = False
    fields = continued = 0
    for line in lines[i:i + 12]:
        found = _FIELD.match(line)
        if found is None:
            if not line or continued or fields == 0:
                break
            continued += 1  # a wrapped value ("[mailto:" / "bob@example.com]")
            continue
        continued = 0
        fields += 1
        sender, dated = sender or bool(found.group(1)), dated or bool(found.group(2))
        if sender and dated:  # on two lines at least: a line names one field
            return True
    return False


@lru_cache(maxsize=1)
def _wrote() -> re.Pattern[str]:
    """Quote headers ("On ... wrote:"), every language."""
    return re.compile("|".join(_library_wrote_headers() + _MORE_WROTE), re.MULTILINE | re.IGNORECASE)


@lru_cache(maxsize=8)
def _tails(languages: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The signature and disclaimer patterns of the configured languages, lists kept."""
    message = EmailMessage(text="", languages=list(languages), keep_hyphen_lists=True)
    return message.SIGNATURE_REGEX, message.DISCLAIMERS_REGEX


@dataclass(frozen=True)
class Authored:
    text: str  # the author's lines, signature and disclaimers cut
    history_subject: str | None = None  # the Subject in the header block of the old mail left out
    forward: bool = False  # that block was introduced as a forwarded message


def author_text(body: str, languages: tuple[str, ...]) -> Authored:
    lines = [line.strip() for line in body.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines)
    offsets = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
    wrote = _wrote()
    kept: list[str] = []
    history: int | None = None  # the line the old mail starts at
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            kept.append(line)
        elif line[0] == ">":  # quoted (lines are stripped)
            pass
        elif _SEPARATOR.match(line) or (_RULE.match(line) and _block_at(lines, i + 1)):
            history = i
            break
        elif _colon(line) or (i + 1 < len(lines) and _colon(lines[i + 1])):  # headers end with one
            if (found := wrote.match(text, offsets[i])) is not None:
                end = _line_of(offsets, found.end() - 1) + 1
                following = _next_text(lines, end)
                if not following or following.startswith(">"):
                    i = end  # the header of the quote below it (or of a quote already cut)
                    continue
                history = i  # the old mail follows unquoted
                break
            if _block_at(lines, i):
                history = i
                break
            if _INTRO.match(line):
                above = _wrapped_start(kept, line, wrote)
                header = [*kept[len(kept) - above:], line]
                if _next_text(lines, i + 1).startswith(">"):
                    del kept[len(kept) - above:]
                    i += 1
                    continue
                if _ADDRESS.search(" ".join(header)):
                    # "Name <address> wrote:" with the old mail below it unquoted
                    del kept[len(kept) - above:]
                    history = i
                    break
            kept.append(line)
        else:
            kept.append(line)
        i += 1
    while kept and (not kept[-1] or _RULE.match(kept[-1])):
        kept.pop()
    authored = _cut_tail("\n".join(kept).strip("\n"), languages)
    if history is None:
        return Authored(authored)
    old = text[offsets[history]:]
    return Authored(authored, _history_subject(old), bool(_FORWARD.search(lines[history])))


def _next_text(lines: list[str], start: int) -> str:
    """The first non-empty line from ``start`` on ("" when there is none)."""
    return next((line for line in lines[start:] if line), "")


def _colon(line: str) -> bool:
    return ":" in line or "\uff1a" in line  # Chinese quote headers end with a full-width colon


def _wrapped_start(kept: list[str], line: str, wrote: re.Pattern[str]) -> int:
    """How many of the lines just above ``line`` (a quote header's last line) began that header."""
    for count in (2, 1):
        above = kept[-count:]
        if len(above) < count or not all(above):
            continue
        joined = " ".join([*above, line])
        if wrote.match(joined) or (_INTRO_START.match(above[0]) and re.search(r"@|\d:\d\d", joined)):
            return count
    return 0


def _line_of(offsets: list[int], position: int) -> int:
    low, high = 0, len(offsets) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if offsets[middle] <= position:
            low = middle
        else:
            high = middle - 1
    return low


def _history_subject(history: str) -> str | None:
    """The Subject line of the header block that opens ``history``."""
    head = "\n\n".join(history[:4000].split("\n\n", 2)[:2])
    found = _SUBJECT.search(head)
    return found.group(1).strip() or None if found else None


# what mail apps append, in more wordings than the library knows ("Sent from Mail for Windows")
_SENT_FROM = re.compile(r"^(?:Sent from|Sent via|Get Outlook for|Envoyé de|Envoyé depuis|Gesendet von|Von meinem|"
                        r"Enviado desde|Enviado do|Inviato da|Verzonden vanaf|Verstuurd vanaf|Skickat från|Sendt fra|"
                        r"Wysłano z|Odesláno z)(?:\s[\w.<>:/@()-]+){1,7}$", re.IGNORECASE)
_DASH_NAME = re.compile(r"^[-\u2013\u2014]\s?[A-Z][\w.'-]*(?:\s[A-Z][\w.'-]*){0,3}$")  # "-Abhishek Kona"


def _starts(text: str) -> list[int]:
    """Every line start and every line break, ascending: where the signature pattern (``\\s*^``)
    can begin, so ``match`` there finds what ``search`` would."""
    starts = [0]
    at = text.find("\n")
    while at != -1:
        starts += (at, at + 1)
        at = text.find("\n", at + 1)
    return starts


def _cut_tail(text: str, languages: tuple[str, ...]) -> str:
    signature, disclaimers = _tails(languages)
    for disclaimer in disclaimers.findall(text):
        if disclaimer.strip():
            text = text.replace(disclaimer, "")
    for start in _starts(text):
        found = signature.match(text, start)
        if found is not None:
            text = text[: found.start()].strip() or text  # a mail that is all "signature" keeps its words
            break
    lines = text.strip().split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or _SENT_FROM.match(lines[-1].strip())):
        lines.pop()
    # a lone "-Name" closing the mail after a blank line signs it; two such lines are a list
    if len(lines) >= 3 and _DASH_NAME.match(lines[-1]) and not lines[-2].strip():
        lines.pop()
    return "\n".join(lines).strip()
