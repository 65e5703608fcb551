"""Bytes of unknown encoding -> text, without ever crashing on a charset."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import Any

from bridge.errors import SkipItem

__all__ = ["decode_declared", "decode_text", "detected_charset", "text_pieces"]

# Among equally plausible single-byte guesses, the one most text in the wild is written in
# (WHATWG even decodes "iso-8859-1" labels as windows-1252).
_PREFERRED = "cp1252"


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with BOM, else the best detected charset.

    Raises SkipItem for data that is not text at all (NUL bytes, nothing fits).
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SkipItem("not text: invalid UTF-16") from None
    if b"\x00" in data:
        raise SkipItem("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    return str(_best_match(data))


def _best_match(data: bytes) -> Any:
    """charset-normalizer's best reading of ``data``, _PREFERRED among equals; SkipItem if none fits."""
    import charset_normalizer  # only for text that is not UTF-8; its import costs 15 ms

    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        raise SkipItem("not text: no character encoding fits")
    for match in results:
        if match.encoding == _PREFERRED and (match.chaos, match.coherence) == (best.chaos, best.coherence):
            return match
    return best


def detected_charset(head: bytes) -> str:
    """The charset ``decode_text`` would pick for text that is not UTF-8, judged from ``head``
    (the start of a file too large to hold)."""
    return _best_match(head).encoding


def text_pieces(chunks: Iterable[bytes], encoding: str, errors: str = "strict") -> Iterator[str]:
    """``chunks`` of bytes decoded as ``encoding`` piece by piece (a character cut between two
    chunks is joined). SkipItem for NUL bytes in what is not UTF-16, as ``decode_text``;
    UnicodeDecodeError (strict) where the bytes do not fit the encoding."""
    decoder = codecs.getincrementaldecoder(encoding)(errors)
    for chunk in chunks:
        if b"\x00" in chunk and not encoding.startswith("utf-16"):
            raise SkipItem("binary file (contains NUL bytes)")
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


# Labels seen in real mail that Python's codecs do not know, or know as a narrower set.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "euc-kr": "cp949",
    "unicode": "utf-8", "utf8": "utf-8", "unicode-1-1-utf-7": "utf-7",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "us-ascii": "cp1252", "ascii": "cp1252",
    "x-unknown": "", "unknown-8bit": "", "x-user-defined": "", "default": "",
}


# Encodings whose bytes are all 7-bit, so strict UTF-8 takes them too and leaves their escape
# sequences in the text: they are tried first, when declared or when their shifts are present.
_SEVEN_BIT = ("iso-2022-jp", "iso-2022-jp-1", "iso-2022-jp-2", "iso-2022-jp-3", "iso-2022-jp-ext",
              "iso-2022-kr", "utf-7", "unicode-1-1-utf-7", "hz", "hz-gb-2312", "hz-gb")


def _seven_bit(data: bytes, label: str) -> str | None:
    """``data`` decoded as the 7-bit encoding it is declared as or plainly written in, else None."""
    if label in _SEVEN_BIT:
        candidates = [label, "iso-2022-jp-2"] if label.startswith("iso-2022-jp") else [label]
    elif label in ("", "cp1252") and (b"\x1b$" in data or b"\x1b(" in data):  # ISO 2022 shifts, undeclared
        candidates = ["iso-2022-jp-2", "iso-2022-kr"]
    elif label in ("", "gb18030") and b"~{" in data and b"~}" in data and data.isascii():
        candidates = ["hz"]
    else:
        return None
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return None


def decode_declared(data: bytes, charset: str | None) -> str:
    """Decode mail text whose charset label may be missing, wrong or unknown; never raises.

    A 7-bit encoding first when it is declared or its shifts are there (ISO-2022-JP, UTF-7 and HZ
    are valid ASCII, so UTF-8 would keep their escapes), then strict UTF-8 (text that decodes as
    UTF-8 almost never is anything else, and mailers often label UTF-8 as us-ascii or latin-1),
    then the declared charset through the aliases above, then a detected one, then cp1252 (which
    maps almost every byte), then UTF-8 with replacement characters.
    """
    label = (charset or "").strip().strip('"').lower()
    label = _ALIASES.get(label, label)
    seven_bit = _seven_bit(data, label)
    if seven_bit is not None:
        return seven_bit
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if label:
        try:
            return data.decode(label)
        except (LookupError, UnicodeDecodeError):
            pass
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best() if len(data) > 32 else None
    if best is not None:
        return str(best)
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")
