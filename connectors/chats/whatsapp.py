"""WhatsApp's "Export chat": a ``.txt`` (Android) or a ``.zip`` holding ``_chat.txt`` (iOS).

The text has no ids, no time zone and no fixed date format: each phone writes its own locale.

- A message starts with a date and a time: iOS ``[15/03/2025, 09:41:07] Anna: text``, Android
  ``15/03/2025, 09:41 - Anna: text``; 12-hour clocks (``9:41 PM``, ``9:41 p. m.``, often with a
  narrow no-break space before the marker), ``15.03.25``, year-first dates, four-digit years.
  Whether ``03/04`` is the 3rd of April or March 4th cannot be told from one line: the file's
  message lines vote (a first field over 12, a second over 12), else the order that keeps the
  dates running forward wins; a chat keeps the order it was first read in.
- Lines without a date continue the message before. Lines with a date but no author are the
  app's own (the encryption notice, "Anna added Ben"): left out. Left-to-right marks (U+200E,
  U+200F) and byte order marks are not text.
- Media is named, not inlined: ``<attached: 00000012-PHOTO-....jpg>``, ``IMG-2024...jpg (file
  attached)``, ``<Media omitted>``, ``image omitted``, and their translations -> ``[photo]``,
  ``[voice message]``, ``[file: name]``. A deleted message is left out; "<This message was
  edited>" is taken off the text it follows.
- A message's key is stable across exports of the chat: its chat, minute (or second), author
  and text, and its rank among identical messages of that minute.

The file is read twice, line by line: once to decide the date order and who writes in it, once
to read the messages. Memory does not grow with the chat.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from pydantic import Field

from bridge.errors import SourceError
from bridge.groups import Item
from bridge.zips import member_name, open_member, open_zip
from connectors.chats.export import Chat, ChatExportConfig, ChatExportConnector, Skipper, message_key

__all__ = ["WhatsAppConfig", "WhatsAppConnector"]

RANKS_KEPT = 4096  # (time, message) pairs remembered for telling identical messages apart

_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " ", "\u2007": " ", "\u2009": " "})
_MARK = "\u200e"  # iOS puts it before what the app wrote: media markers, the app's own lines

_DATE = r"(?P<a>\d{1,4})[./-](?P<b>\d{1,2})[./-](?P<c>\d{1,4})\.?"
_TIME = r"(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:[:.](?P<s>\d{2}))?"
# AM, am, a.m., "a. m." (Spanish, with no-break spaces, made plain spaces first)
_MERIDIEM = r"(?:\s?(?P<ampm>[aApP])\.?\s?[mM]\.?)?"
# iOS "[15/03/2025, 09:41:07] ", Android "15/03/2025, 09:41 - "; French "26/09/2019 à 22:39 - ",
# Finnish "13.6.2018 klo 21.25.15 - ", Dutch "[27-11-18 18:43:20] "
_HEADER = re.compile(
    rf"^\[?{_DATE}(?:,|\sà|\sklo)?\s{_TIME}{_MERIDIEM}(?:\]\s|\s[-\u2013]\s)(?P<rest>.*)$")
_AUTHOR = re.compile(r"^(?P<name>[^:\n]{1,80}?): (?P<text>.*)$", re.S)

# file names of exports, by language: "WhatsApp Chat with Anna.txt", "WhatsApp Chat - Family.zip"
_CHAT_NAME = re.compile(
    r"^(?:WhatsApp Chat with |WhatsApp Chat mit |Chat de WhatsApp con |Discussion WhatsApp avec |"
    r"Conversa do WhatsApp com |Chat WhatsApp con |WhatsApp-chat met |WhatsApp Chat [-\u2013] )(?P<name>.+?)"
    r"(?: \(\d+\))?$", re.I)

# the app's notices, whoever they are put under (iOS: the group, or in a chat of two the other person)
_NOTICE = re.compile(
    r"^(?:Messages and calls are end-to-end encrypted|Messages to this group are now secured|"
    r"Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt|Los mensajes y las llamadas están cifrados|"
    r"Les messages et les appels sont chiffrés|As mensagens e as chamadas são protegidas|"
    r"I messaggi e le chiamate sono crittografati|Your security code with |Dein Sicherheitscode|"
    r"Tu código de seguridad|Votre code de sécurité|Seu código de segurança|Il tuo codice di sicurezza)", re.I)
# a "name" that is the start of the app's line: "Anna changed the subject from “Plans: 2024”..."
_NOTICE_NAME = re.compile(r" (?:changed the subject|changed the group description|created group|hat den Betreff|"
                          r"hat die Gruppe|cambió el asunto|creó el grupo|a modifié le sujet|a créé le groupe|"
                          r"mudou o assunto|criou o grupo|ha cambiato l'oggetto|ha creato il gruppo)", re.I)
# what people send that iOS also marks: media, deletions, calls, places, polls, contacts
_SENT_MARKED = re.compile(
    r"^(?:[<\u2039]|.*[<\u2039](?:attached|Anhang|angehängt|adjunto|pièce jointe|anexado|allegato|bijlage)\s?:|"
    r".*\bomitted$|.*\b(?:weggelassen|ausgelassen|omitid[oa]|absente|omis|manquante|ocultad[oa]|omess[oa]|"
    r"não revelad[oa]|non incluso|esclusa)$|"
    r"This message was deleted|You deleted this message|Diese Nachricht wurde|Du hast diese|Se eliminó|Eliminaste|"
    r"Este mensaje fue|Ce message a été|Vous avez supprimé|Esta mensagem foi|Essa mensagem foi|Apagou|Mensagem apagada|"
    r"Você apagou|Questo messaggio|Hai eliminato|"
    r"Missed (?:group )?(?:voice|video) call|(?:Group )?(?:Voice|Video) call|Verpasster|Llamada|Appel|Chamada|Chiamata|"
    r"Location:|Standort:|Ubicación:|Position :|Localização:|Posizione:|POLL:|UMFRAGE:|ENCUESTA:|SONDAGE|ENQUETE:|"
    r"SONDAGGIO:)", re.I)

_DELETED = re.compile(
    r"^(?:This message was deleted|You deleted this message|Diese Nachricht wurde gelöscht|"
    r"Du hast diese Nachricht gelöscht|Se eliminó este mensaje|Eliminaste este mensaje|Este mensaje fue eliminado|"
    r"Ce message a été supprimé|Vous avez supprimé ce message|Esta mensagem foi apagada|Essa mensagem foi apagada|"
    r"Mensagem apagada|Apagou esta mensagem|Você apagou esta mensagem|Questo messaggio è stato eliminato|"
    r"Hai eliminato questo messaggio)\.?$", re.I)
_EDITED = re.compile(
    r"\s*<(?:This message was edited|Diese Nachricht wurde bearbeitet|Se editó este mensaje|Este mensaje fue editado|"
    r"Ce message a été modifié|Mensagem editada|Esta mensagem foi editada|Questo messaggio è stato modificato|"
    r"Dit bericht is bewerkt)\.?>\s*$", re.I)
_CALL = re.compile(r"^(?P<missed>Missed )?(?:group )?(?P<kind>voice|video) call(?:, (?P<detail>.+?))?$", re.I)

# iOS: <attached: 00000012-PHOTO-2024-03-15-09-41-07.jpg>, in the phone's language (French opens with U+2039)
_ATTACHED = re.compile(
    r"[<\u2039](?:attached|Anhang|angehängt|adjunto|pièce jointe|anexado|allegato|bijlage)\s?: (?P<file>[^>]+)>",
    re.I)
# Android: IMG-20240315-WA0001.jpg (file attached), a caption or a document's title on the lines after
_FILE_ATTACHED = re.compile(
    r"^(?P<file>\S.*?\.\w{1,5}) \((?:file attached|Datei angeh(?:ä|a\u0308)ngt|archivo adjunto|fichier joint|"
    r"arquivo anexado|file allegato|bestand bijgevoegd)\)", re.I)
_OMITTED = {  # what stands for a medium left out of the export, by its words (iOS, then Android)
    "photo": r"image omitted|Bild weggelassen|imagen omitida|image absente|imagem ocultada|imagem não revelada|"
             r"immagine omessa",
    "video": r"video omitted|Video weggelassen|video omitido|vidéo absente|vídeo ocultado|vídeo não revelado|"
             r"video omesso|[<\u2039]Video message omitted>|[<\u2039]Videonachricht weggelassen>",
    "voice message": r"audio omitted|Audio weggelassen|audio omitido|audio omis|áudio ocultado|áudio não revelado|"
                     r"audio omesso",
    "sticker": r"sticker omitted|Sticker weggelassen|sticker omitido|sticker omis|autocollant omis|"
               r"figurinha omitida|sticker não revelado|sticker non incluso|sticker omesso",
    "GIF": r"GIF omitted|GIF weggelassen|GIF omitido|GIF retiré|GIF não revelada|GIF esclusa|GIF omessa",
    "file": r"document omitted|Dokument weggelassen|documento omitido|document omis|documento omesso|"
            r"documento não revelado",
    "contact": r"Contact card omitted|Kontaktkarte ausgelassen|tarjeta de contacto omitida|fiche contact manquante|"
               r"cartão do contato omitido|contacto não revelado|scheda contatto omessa",
    "media": r"[<\u2039](?:Media omitted|Medien ausgeschlossen|Medien weggelassen|Multimedia omitido|Médias omis|"
             r"Mídia oculta|Mídia omitida|ficheiro não revelado|Media omessi|Media weggelaten)>",
}
_OMITTED_RE = {kind: re.compile(rf"^\s*(?:{words})\s*$", re.I) for kind, words in _OMITTED.items()}
_KINDS = {"PHOTO": "photo", "IMG": "photo", "VIDEO": "video", "VID": "video", "AUDIO": "voice message",
          "PTT": "voice message", "AUD": "voice message", "STICKER": "sticker", "STK": "sticker", "GIF": "GIF"}


class WhatsAppConfig(ChatExportConfig):
    type: Literal["whatsapp"]
    text_source_spec: str = Field(default="whatsapp", min_length=1)
    date_order: Literal["auto", "dmy", "mdy", "ymd"] = Field(
        default="auto", description="auto: decided from the whole file; set it when a chat is too short to tell")


@dataclass
class _Scan:
    """What the first reading of a file finds: the date order and who writes."""

    order: str
    authors: Counter[str]


class WhatsAppConnector(ChatExportConnector):
    Config = WhatsAppConfig
    app = "WhatsApp"
    patterns = ("*.txt", "*.zip")

    def read(self, path: Path, skip: Skipper, memory: dict[str, Any]) -> Iterator[Chat]:
        name = chat_name(path)
        if not self.wanted(name):
            return
        key = f"whatsapp:{name}"
        with self._text(path) as first:
            # a chat read before keeps its date order: a later, longer export must not read its
            # old lines on other days
            scan = self._scan(first, (memory.get(key) or {}).get("order"))
        if not scan.authors:
            raise SourceError("no WhatsApp messages in it (is it an exported chat?)")
        others = {a for a in scan.authors if not self.is_me(a)}
        place = f"chat with {name}" if others <= {name} else f"group “{name}”"
        yield Chat(key=key, place=place, items=self._items(path, name, scan, skip), info={"order": scan.order})

    # -- the file ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _text(self, path: Path) -> Iterator[IO[str]]:
        """The chat's text, decoded as it is read."""
        if path.suffix.lower() == ".zip":
            with open_zip(path) as archive:
                names = [(member_name(info), info) for info in archive.infolist()]
                member = next((i for n, i in names if n.rsplit("/", 1)[-1] == "_chat.txt"),
                              next((i for n, i in names if n.lower().endswith(".txt")), None))
                if member is None:
                    raise SourceError("no _chat.txt in the zip: not a WhatsApp export")
                # damage shows while the text is read (the CRC at its end): a DamagedMember naming it
                with open_member(archive, member) as raw:
                    yield io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline=None)
        else:
            with path.open(encoding="utf-8-sig", errors="replace", newline=None) as file:
                yield file

    def _scan(self, lines: IO[str], remembered: str | None = None) -> _Scan:
        """Decide the date order from the dates of every message line, and count who writes.
        Lines vote: a first field over 12 for day-first, a second over 12 for month-first; one
        stray line (a date quoted inside a message) does not outvote a chat's own."""
        fields: list[tuple[int, int, int]] = []
        authors: Counter[str] = Counter()
        votes: Counter[str] = Counter()
        for raw in lines:
            match = _HEADER.match(_clean(raw))
            if match is None or (said := _said(match["rest"])) is None:
                continue
            authors[said[0]] += 1
            a, b, c = int(match["a"]), int(match["b"]), int(match["c"])
            if len(match["a"]) == 4 or a > 31:
                votes["ymd"] += 1
            elif a > 12:
                votes["dmy"] += 1
            elif b > 12:
                votes["mdy"] += 1
            if len(fields) < 5000:
                fields.append((a, b, c))
        if self.config.date_order != "auto":  # type: ignore[attr-defined]
            order = self.config.date_order  # type: ignore[attr-defined]
        elif remembered in ("dmy", "mdy", "ymd"):
            order = remembered
        elif votes:
            order = votes.most_common(1)[0][0]
        else:  # no field tells: the order in which the dates run forward
            order = min(("dmy", "mdy"), key=lambda o: _backwards(fields, o))
        return _Scan(order, authors)

    def _items(self, path: Path, chat: str, scan: _Scan, skip: Skipper) -> Iterator[Item]:
        ranks: Counter[tuple[float, str]] = Counter()
        pending: tuple[datetime, str, list[str]] | None = None  # when, author, text lines
        notice = False  # the lines after an app's notice are the notice's
        with self._text(path) as lines:
            for number, raw in enumerate(lines, start=1):
                line = _clean(raw.rstrip("\n"))
                match = _HEADER.match(line)
                if match is None:
                    if pending is not None:
                        pending[2].append(line.translate(_INVISIBLE))
                    elif line.strip() and not notice:
                        skip(f"line {number}", "text before the first message")
                    continue
                notice = False
                if pending is not None:
                    if (item := self._item(chat, *pending, ranks)) is not None:
                        yield item
                    pending = None
                try:
                    when = _when(match, scan.order)
                except ValueError as exc:
                    skip(f"line {number}", f"unreadable date or time ({exc}): {line[:40]}")
                    notice = True  # its further lines go with it
                    continue
                said = _said(match["rest"])
                if said is None:
                    notice = True  # the app's own line
                    continue
                pending = (when, said[0], [said[1]])
        if pending is not None and (item := self._item(chat, *pending, ranks)) is not None:
            yield item

    def _item(self, chat: str, when: datetime, author: str, lines: list[str],
              ranks: Counter[tuple[float, str]]) -> Item | None:
        text = _EDITED.sub("", "\n".join(lines).strip())
        if _DELETED.match(text):
            return None
        text = _media(text)
        if not text:
            return None
        at = self.local(when)
        same = (at, message_key(author, text))
        if same not in ranks and len(ranks) >= RANKS_KEPT:
            # ranks count among a minute's identical messages: the recent minutes are enough
            # (a phone's clock may step back a little), and memory stays flat
            for old in list(ranks)[: RANKS_KEPT // 2]:
                del ranks[old]
        ranks[same] += 1
        key = f"{chat}:{when:%Y%m%d%H%M%S}:{same[1]}:{ranks[same]}"
        return Item(key=key, scope=f"whatsapp:{chat}", at=at, text=text, author=author,
                    data={"me": True} if self.is_me(author) else {})


def chat_name(path: Path) -> str:
    """The chat's name from its file: "WhatsApp Chat with Anna.txt" -> "Anna"."""
    stem = path.stem
    if stem == "_chat":
        stem = path.parent.name
    match = _CHAT_NAME.match(stem)
    return match["name"].strip() if match else stem


def _clean(line: str) -> str:
    """Plain spaces, and no marks before the date; marks inside the line stay (they tell the
    app's lines from people's)."""
    return line.translate(_SPACES).lstrip("\ufeff\u200e\u200f")


def _said(rest: str) -> tuple[str, str] | None:
    """(author, text) of a message line's rest, or None for the app's own lines: no author
    ("Anna added Ben"), a notice under anyone's name, or (iOS) a marked text that is no medium."""
    said = _AUTHOR.match(rest)
    if said is None or _NOTICE_NAME.search(said["name"]):
        return None
    name = said["name"].translate(_INVISIBLE).strip().lstrip("~").strip()  # "~ Name": not in the phone's contacts
    text = said["text"].translate(_INVISIBLE)
    if not name or _NOTICE.match(text.strip()):
        return None
    if said["text"].startswith(_MARK) and not _SENT_MARKED.match(text.strip()):
        return None  # "‎Boris added you", "‎You changed the group description"
    return name, text


def _when(match: re.Match[str], order: str) -> datetime:
    a, b, c = int(match["a"]), int(match["b"]), int(match["c"])
    year, month, day = {"dmy": (c, b, a), "mdy": (c, a, b), "ymd": (a, b, c)}[order]
    if year < 100:
        year += 2000
    hour, minute, second = int(match["h"]), int(match["m"]), int(match["s"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with a.m./p.m.")
        hour = hour % 12 + (12 if match["ampm"].lower() == "p" else 0)
    return datetime(year, month, day, hour, minute, second)


def _backwards(fields: list[tuple[int, int, int]], order: str) -> int:
    """How often the dates run backwards when read in ``order`` (impossible dates count too)."""
    count, last = 0, None
    for a, b, c in fields:
        day, month = (a, b) if order == "dmy" else (b, a)
        if not (1 <= month <= 12 and 1 <= day <= 31):
            count += 1
            continue
        now = (c, month, day)
        if last is not None and now < last:
            count += 1
        last = now
    return count


def _media(text: str) -> str:
    """Attachment markers and calls as words: ``[photo]``, ``[voice message]``, ``[file: name]``."""
    text = _ATTACHED.sub(lambda m: _named(m["file"]), text)
    text = _FILE_ATTACHED.sub(lambda m: _named(m["file"]), text)
    for kind, pattern in _OMITTED_RE.items():
        if pattern.match(text):
            return f"[{kind}]"
    if call := _CALL.match(text.strip()):
        detail = (call["detail"] or "").replace("Tap to call back", "").strip(" ,")
        what = f"{'missed ' if call['missed'] else ''}{call['kind'].lower()} call"
        return f"[{what}{f', {detail}' if detail else ''}]"
    return text.strip()


def _named(file: str) -> str:
    """A medium's file name as what it is: iOS "00000012-PHOTO-2024-...jpg", Android "IMG-2024...jpg"."""
    file = file.strip()
    for part in re.split(r"[-_.]", file)[:3]:
        if part.upper() in _KINDS:
            return f"[{_KINDS[part.upper()]}]"
    file = re.sub(r"^\d{8}-", "", file)  # iOS numbers the files of an export
    if file.lower().endswith((".opus", ".m4a")):
        return "[voice message]"
    if file.lower().endswith(".vcf"):
        return f"[contact: {file[:-4]}]"
    return f"[file: {file}]"
