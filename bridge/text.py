"""Bytes of unknown encoding -> text, without ever crashing on a charset."""

from __future__ import annotations

import codecs

import charset_normalizer

from bridge.errors import SkipItem

__all__ = ["decode_text"]

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
    results = charset_normalizer.from_bytes(data)
    best = results.best()
    if best is None:
        raise SkipItem("not text: no character encoding fits")
    for match in results:
        if match.encoding == _PREFERRED and (match.chaos, match.coherence) == (best.chaos, best.coherence):
            return str(match)
    return str(best)
