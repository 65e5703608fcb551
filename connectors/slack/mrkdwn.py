"""Slack's mrkdwn -> the plain text a reader (or Omi's summariser) wants.

Every ``<...>`` in a message's text is a token Slack put there (a ``<`` the person typed arrives
as ``&lt;``), so tokens are resolved everywhere, code included:

- ``<@U123>`` becomes ``@Display Name``: the current name, also when the token carries an old
  handle (``<@U123|oldhandle>``); ``<#C123|general>`` becomes ``#general`` the same way;
  ``<!here>`` becomes ``@here``.
- A link keeps its label and address, ``the docs (https://...)``, but a link Slack made out of
  a word (``<http://requests.post|requests.post>``: the label is the address without its
  scheme) is the word alone, and inside code (fenced or inline) a link is only what Slack
  shows: its label, else its address.
- Emphasis markers around words (``*bold*``, ``_italic_``, ``~strike~``) are dropped outside
  code; code keeps its backticks, so a reader sees where it starts and ends.
- ``&lt; &gt; &amp;`` are decoded last (after the tokens, which they may not be confused with).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = ["mentioned_users", "plain_text"]

_TOKEN = re.compile(r"<([^<>\n]+)>")
_USER = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
# *bold*, _italic_, ~strike~: a marker not doubled (__init__ is a name), around words
_EMPHASIS = re.compile(r"(?<![\w*_~])([*_~])(?![\s*_~])([^\n]*?[^\s*_~])\1(?![\w*_~])")
_CODE = re.compile(r"```.*?```|(?<!`)`[^`\n]+`(?!`)", re.S)  # an unclosed ``` is text
_HELD = re.compile("\x00(\\d+)\x00")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:(?://)?", re.I)


def mentioned_users(text: str) -> set[str]:
    return set(_USER.findall(text))


def plain_text(text: str, user_name: Callable[[str], str], channel_name: Callable[[str], str]) -> str:
    """``text`` in plain words. ``user_name``/``channel_name`` map ids to names (cached lookups);
    an id they return unchanged is not known, and a token's own label stands in."""

    def named(target: str, label: str, lookup: Callable[[str], str]) -> str:
        name = lookup(target)
        return label.lstrip("@#") if label and name == target else name

    def token(match: re.Match[str], code: bool = False) -> str:
        body = match.group(1)
        target, _, label = body.partition("|")
        if target.startswith("@"):
            return "@" + named(target[1:], label, user_name)
        if target.startswith("#"):
            return "#" + named(target[1:], label, channel_name)
        if target.startswith("!"):
            command = target[1:]
            if command in ("here", "channel", "everyone"):
                return "@" + command
            if command.startswith("subteam^"):
                return label if label.startswith("@") else "@" + (label or "group")
            return label or ""  # <!date^...|fallback> and anything newer
        if code or not label or label == target:
            return label or target
        if target.startswith(("mailto:", "tel:")) or _bare(target) == _bare(label):
            return label
        return f"{label} ({target})"

    pieces = []
    last = 0
    for code in _CODE.finditer(text):
        pieces.append(_prose(text[last:code.start()], token))
        pieces.append(_entities(_TOKEN.sub(lambda m: token(m, code=True), code.group(0))))
        last = code.end()
    pieces.append(_prose(text[last:], token))
    return "".join(pieces)


def _bare(address: str) -> str:
    """An address as Slack's auto-linker labels it: no scheme, no trailing slash, any case."""
    return _SCHEME.sub("", address).rstrip("/").lower()


def _prose(text: str, token: Callable[[re.Match[str]], str]) -> str:
    # tokens are held out while emphasis goes, so an address keeps its underscores and stars
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(token(match))
        return f"\x00{len(held) - 1}\x00"

    text = _EMPHASIS.sub(r"\2", _TOKEN.sub(hold, text))
    return _entities(_HELD.sub(lambda m: held[int(m.group(1))] if int(m.group(1)) < len(held) else m.group(0), text))


def _entities(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
