"""What the author of a mail wrote: every unquoted line, wherever it stands.

A quote model, not a cut at the first quote. Reading a plain-text body line by line:

- a ``>``-quoted line is someone else's words: dropped;
- a quote header ("On ... wrote:", "Am ... schrieb ...:", ...) is dropped when a quote follows
  it; when plain text follows it instead, that text is the old mail itself (clients that do
  not prefix quotes with ``>``), and the history starts there;
- a history block ends the author's part: an Outlook-style header block ("From: / Sent: / To:",
  in every language the library knows), a "-----Original Message-----" or "Forwarded message"
  separator, Apple Mail's "Begin forwarded message:". Of a forwarded block, its Subject is kept;
- what opens old mail before the author wrote anything (a forward without a comment, a header
  block pasted at the top, an attribution over unquoted lines) is not history: it is what the
  mail shares, kept with its header lines, and reading goes on below it;
- under an answer to a quote, a header block without a date or a bare "Name wrote:" over
  unquoted lines opens older mail too;
- every other line is the author's, in place: a greeting above a quote, answers written between
  quoted lines, a reply under the quote.

Then the signature and disclaimers are cut from what is left, as mail-parser-reply finds them in
the configured languages, with hyphen lists kept (a "- item" line is not a signature), and a
sign-off word ends the text only where no sentence follows it ("Tak" over a Danish answer).

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
    r"vidarebefordrat meddelande|oprindelig besked|videresendt besked|opprinnelig melding|videresendt melding|"
    r"alkuperäinen viesti|välitetty viesti|"
    r"wiadomość oryginalna|oryginalna wiadomość|przekazana wiadomość|původní zpráva|přeposlaná zpráva|"
    r"原始邮件|转发邮件|元のメッセージ|転送メッセージ|원본 메시지|전달된 메시지)\s*[-_=*\s]*:?$"
    r"|^(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié|"
    r"inicio del mensaje reenviado|inizio messaggio inoltrato|begin doorgestuurd bericht)\s*:$",
    re.IGNORECASE,
)
_FORWARD = re.compile(r"forward|weitergeleitet|transféré|réexpédié|reenviado|inoltrato|doorgestuurd|"
                      r"videresendt|välitetty|vidarebefordrat|przekazana|přeposlaná|转发|転送|전달", re.IGNORECASE)
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
    rf"^Dne\s{_MIDDLE}\snapsal(?:\(a\)|a)?\s?:$",  # Czech Gmail: "Dne út 7. 5. 2024 8:01 uživatel ... napsal:"
    rf"^(?:În|Pe)\s{_MIDDLE}\sa scris\s?:$",  # Romanian
    rf"^Στις\s{_MIDDLE}\sέγραψε\s?:$",  # Greek  # noqa: RUF001
    rf"^Wiadomość napisana przez\s{_MIDDLE}\sw dniu\s{_MIDDLE}:$",  # Polish Apple Mail
    # Hungarian Gmail: "Name <address> ezt írta (időpont: ...):", one line (its date may wrap)
    r"^[^\n]{1,200}?\sezt írta(?:\s?\([^)]{0,120}\))?\s?:$",
    # German Gmail: "Name <address> schrieb am Di., 16. Mai 2017 um 10:20:" (entities left by HTML mail too)
    r"^[^\n]{0,120}?(?:<|&lt;|\()[^\s<>@&]+@[^\s<>@&]+(?:>|&gt;|\))\s+schrieb am\s[^\n]{4,80}:$",
    # Zimbra's "- Le 2021-04-09 23:25, Name a écrit :" and Zoho's "---- On ... wrote ----"
    rf"^-{{1,6}}\s?(?:Le|On|Am|El|Il|Op)\s{_MIDDLE}\s(?:a écrit|wrote|schrieb|escribió|ha scritto|schreef)"
    r"\s?(?::|:?\s?-{2,})$",
    rf"^Op\s{_MIDDLE}\sschreef\s{_MIDDLE}:$",
    rf"^Em\s{_MIDDLE}\s?escreveu\s?:$",
    r"^\d{4}年\d{1,2}月\d{1,2}日[^\n]{0,120}?写道[:\uff1a]$",
    r"^\d{4}년 \d{1,2}월 \d{1,2}일[^\n]{0,120}?작성하였습니다[:\uff1a]$",
]
# Any line ending in "... wrote:" is a quote's header when a quote follows it ("Bob wrote:",
# mutt's and many others' attributions); not otherwise, since prose says "she wrote:" too.
_INTRO = re.compile(
    r"^[^\n]{0,200}?\b(?:wrote|writes|sent|schrieb|schreibt|a écrit|escribió|escreveu|ha scritto|ha escrit|schreef|"
    r"geschreven|skrev|kirjoitti|napisał(?:\(a\)|a)?|napsal(?:\(a\)|a)?|pisze|пишет|написал(?:\(а\)|а)?|"  # noqa: RUF001
    r"написав(?:\(ла\)|ла)?|пише|a scris|έγραψε|írta|كتب)\s?:$|"
    r"^[^\n]{0,200}?(?:写道|作成|작성하였습니다|작성|のメッセージ)\s?[:\uff1a]$|"
    r"^[^\n]{0,200}?<?[^\s<>@]+@[^\s<>@]+>?\)?\s?:$",  # "2014-03-20 8:48 GMT+01:00 Rémi <remi@example.com>:"
    re.IGNORECASE)
# what a line opening old mail without a colon on it or the next starts with: separators, rules,
# Gmail's dated header ("2013/7/20 Sam <sam@...>"), Zoho's "---- On ... wrote ----"
_MARKS = frozenset("-_=*0123456789")
# Gmail's old header, a date and a sender with no "wrote" or colon: "2013/7/20 Sam via List <list@...>"
_DATED_SENDER = re.compile(r"^\d{4}[/.-]\d{1,2}[/.-]\d{1,2}\s[^<>\n]{1,120}<[^\s<>@]+@[^\s<>@]+>$")
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


def _block_at(lines: list[str], i: int, *, ruled: bool = False, answered: bool = False) -> bool:
    """Whether a header block of quoted mail starts at line ``i``. It names a sender and a date;
    under a rule (Outlook's line, an HTML <hr>) a sender is enough, and in a mail that answered a
    quote above, a sender with a Subject in three fields or more (old mail, not prose)."""
    if i >= len(lines) or not lines[i]:
        return False
    inline = _FIELDS_INLINE.findall(lines[i]) if _FIELD.match(lines[i]) else []
    if len(inline) == 2 and i + 1 < len(lines) and _FIELD.match(lines[i + 1]):
        # a block flattened onto two lines: "From: ... Sent: ..." / "To: ... Subject: ..."
        inline += _FIELDS_INLINE.findall(lines[i + 1])
    if len(inline) >= 3:  # a block flattened onto one line: "Date: ... From: ... To: ... Subject: ..."
        return any(named_sender for named_sender, _ in inline) and any(named_date for _, named_date in inline)
    sender = dated = subject = False
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
        subject = subject or _SUBJECT.match(line) is not None
        if sender and dated:  # on two lines at least: a line names one field
            return True
    return sender and ((ruled and fields >= 2) or (answered and subject and fields >= 3))


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
    written = 0  # lines the author wrote above: what opens old mail now ends their part
    quoted = False  # a quote stood above: the mail answers by quoting
    i = 0
    count = len(lines)
    while i < count:
        line = lines[i]
        if not line:
            kept.append(line)
            i += 1
            continue
        if line[0] == ">":  # quoted (lines are stripped)
            quoted = True
            i += 1
            continue
        following_line = lines[i + 1] if i + 1 < count else ""
        if line[0] not in _MARKS and not _colon(line) and not _colon(following_line):
            kept.append(line)  # prose (most lines): nothing else to look for
            written += 1
            i += 1
            continue
        opens = 0  # lines of a header (separator, attribution, header block) that opens old mail here
        prefix: list[str] = []  # the lines of that header above line i
        if _SEPARATOR.match(line) or (_RULE.match(line) and _block_at(lines, i + 1, ruled=True)):
            opens = 1
        elif following_line[:1] == ">" and (wrapped := _attribution_into_quote(lines, i, wrote)):
            if not _next_text(lines, i + wrapped).startswith(">") and _next_text(lines, i + wrapped):
                opens = wrapped  # its old mail follows unquoted
            else:
                i += wrapped  # the header of the quote below it
                continue
        elif line[0].isdigit() and line[-1] == ">" and _DATED_SENDER.match(line):  # Gmail's, no colon
            if _next_text(lines, i + 1).startswith(">"):
                i += 1
                continue
            opens = 1
        elif _colon(line) or _colon(following_line):  # headers end with one
            if (found := wrote.match(text, offsets[i])) is not None:
                end = _line_of(offsets, found.end() - 1) + 1
                following = _next_text(lines, end)
                if not following or following.startswith(">"):
                    i = end  # the header of the quote below it (or of a quote already cut)
                    continue
                opens = end - i  # the old mail follows unquoted
            elif _block_at(lines, i, answered=quoted):
                opens = _block_end(lines, i) - i
            elif _INTRO.match(line):
                above = _wrapped_start(kept, line, wrote)
                header = kept[len(kept) - above:]
                del kept[len(kept) - above:]  # the header's first lines, kept as prose until now
                written = max(0, written - above)
                if _next_text(lines, i + 1).startswith(">"):
                    i += 1
                    continue
                if _ADDRESS.search(" ".join([*header, line])) or (quoted and written):
                    # "Name <address> wrote:" with the old mail below it unquoted; or any
                    # "... wrote:" under an answer to a quote: the older mail of the thread
                    opens = 1
                prefix = header
        if opens == 0:
            kept += [*prefix, line]
            written += len(prefix) + 1
            i += 1
            continue
        if written:
            history = i
            break
        # Nothing written above: no reply to cut. A forward without a comment, a header block
        # pasted at the top, an attribution over unquoted lines: what was shared is that mail,
        # its header lines too. Reading goes on: its own quotes and older mail are still cut.
        kept.extend(" ".join(header.split()) for header in [*prefix, *lines[i:i + opens]]  # "Date: \tMon"
                    if not _RULE.match(header))  # Outlook's line of underscores says nothing
        i += opens
    while kept and (not kept[-1] or _RULE.match(kept[-1])):
        kept.pop()
    authored = _cut_tail("\n".join(kept).strip("\n"), languages)
    if history is None:
        return Authored(authored)
    old = text[offsets[history]:]
    return Authored(authored, _history_subject(old), bool(_FORWARD.search(lines[history])))


def _attribution_into_quote(lines: list[str], i: int, wrote: re.Pattern[str]) -> int:
    """2 when line ``i`` begins a quote header whose last line was quoted with the quote
    ("On Mon, Nov 2, Bob Miller" / "> wrote:"), else 0."""
    if (i + 1 >= len(lines) or not lines[i + 1].startswith(">") or not lines[i + 1].endswith(":")
            or lines[i].endswith(":") or not _INTRO_START.match(lines[i])):
        return 0  # (a header whole on line i ends there, with its colon)
    joined = f"{lines[i]} {lines[i + 1].lstrip('> ')}"
    return 2 if wrote.match(joined) or _INTRO.match(joined) else 0


def _block_end(lines: list[str], i: int) -> int:
    """The line after the header block that starts at ``i`` (blocks end at an empty line)."""
    end = i
    while end < len(lines) and lines[end] and end < i + 15:
        end += 1
    return end


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


def _writing_follows(signature: str) -> bool:
    """Whether more writing follows the sign-off that opens ``signature``: "Tak" (Danish for
    "thanks") or "Thanks," over an answer is a greeting, not the end of the mail. Writing is a
    sentence: five words or more, three in lower case, ending as sentences end (a company's
    address line or a job title is not)."""
    for line in signature.strip().split("\n")[1:]:
        words = line.split()
        if len(words) >= 5 and line.rstrip()[-1] in ".!?" and sum(word[0].islower() for word in words) >= 3:
            return True
    return False


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
        if found is not None and not _writing_follows(found.group()):
            text = text[: found.start()].strip() or text  # a mail that is all "signature" keeps its words
            break
    lines = text.strip().split("\n")
    while len(lines) > 1 and (not lines[-1].strip() or _SENT_FROM.match(lines[-1].strip())):
        lines.pop()
    # a lone "-Name" closing the mail after a blank line signs it; two such lines are a list
    if len(lines) >= 3 and _DASH_NAME.match(lines[-1]) and not lines[-2].strip():
        lines.pop()
    return "\n".join(lines).strip()
