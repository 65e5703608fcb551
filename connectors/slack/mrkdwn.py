"""Slack's mrkdwn -> the plain text a reader (or Omi's summariser) wants.

``<@U123>`` becomes ``@Display Name``, ``<#C123|general>`` becomes ``#general``, links keep their
label and address, ``<!here>`` becomes ``@here``, and ``&lt; &gt; &amp;`` are decoded last (after
the angle-bracket tokens, which they may not be confused with). Emphasis markers around words
(``*bold*``, ``_italic_``, ``~strike~``) are dropped; code and emoji shortcodes stay as written.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["mentioned_users", "plain_text"]

_TOKEN = re.compile(r"<([^<>\n]+)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_EMPHASIS = re.compile(r"(?<![\w*_~])([*_~])(?=\S)([^\n]*?\S)\1(?![\w*_~])")
_FENCE = re.compile(r"```.*?```", re.S)


def mentioned_users(text: str) -> set[str]:
    return set(_USER.findall(text))


def plain_text(text: str, user_name: Callable[[str], str], channel_name: Callable[[str], str]) -> str:
    """``text`` in plain words. ``user_name``/``channel_name`` map ids to names (cached lookups)."""

    def token(match: re.Match[str]) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            return "@" + (label.lstrip("@") or user_name(target[1:]))
        if target.startswith("#"):
            return "#" + (label or channel_name(target[1:]))
        if target.startswith("!"):
            command = target[1:]
            if command in ("here", "channel", "everyone"):
                return "@" + command
            if command.startswith("subteam^"):
                return label if label.startswith("@") else "@" + (label or "group")
            return label or ""  # <!date^...|fallback> and anything newer
        if target.startswith("mailto:"):
            return label or target[len("mailto:"):]
        if label and label != target:
            return f"{label} ({target})"
        return target

    pieces = []
    last = 0
    for fence in _FENCE.finditer(text):  # code blocks keep their markers and tokens as typed
        pieces.append(_prose(text[last:fence.start()], token))
        pieces.append(_entities(fence.group(0)))
        last = fence.end()
    pieces.append(_prose(text[last:], token))
    return "".join(pieces)


def _prose(text: str, token: Callable[[re.Match[str]], str]) -> str:
    text = _TOKEN.sub(token, text)
    text = _EMPHASIS.sub(r"\2", text)
    return _entities(text)


def _entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
