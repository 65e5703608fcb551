"""The words of a Slack message that are not in its ``text``: blocks and attachments, as mrkdwn.

Slack keeps most messages' words in ``text``, but not all: a huddle's thread, a canvas comment's
section and some clients' replies carry them only in ``blocks`` (rich text); apps (polls,
workflows) put a placeholder in ``text`` and the question in ``section`` blocks; a forwarded
message is only an attachment. What is returned here is mrkdwn (user and channel tokens, links,
code fences, ``&lt;`` escapes), so it goes through the same ``plain_text`` as ``text`` does and
names resolve the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

__all__ = ["attachments_text", "blocks_text", "file_names", "message_text"]

log = logging.getLogger(__name__)

# what Slack stores as ``text`` for a message an app sent as blocks only
_PLACEHOLDERS = {"This content can't be displayed.", "This message contains interactive elements."}
_FALLBACK_PREFIX = re.compile(r"^\[[^\]]*\] [^:]{1,80}: ")  # "[June 7th, 2017 2:21 PM] sharah: "
_BROADCASTS = {"here", "channel", "everyone"}


def message_text(msg: dict[str, Any]) -> str:
    """All the words of a message, as mrkdwn: its text (or its blocks' words when the text is
    empty or a placeholder), then any message it forwards or links, quoted. Blocks or
    attachments in a shape not known here are left out (logged), never the message."""
    text = msg.get("text") if isinstance(msg.get("text"), str) else ""
    if not text.strip() or text.strip() in _PLACEHOLDERS:
        text = _safely(blocks_text, msg.get("blocks"), msg) or ("" if text.strip() in _PLACEHOLDERS else text)
    shared = _safely(lambda a: attachments_text(a, alone=not text.strip()), msg.get("attachments"), msg)
    return "\n".join(part for part in (text.strip("\n"), shared) if part.strip())


def _safely(read: Callable[[Any], str], part: Any, msg: dict[str, Any]) -> str:
    try:
        return read(part)
    except (AttributeError, TypeError, ValueError) as exc:  # a shape Slack has not shown us before
        log.warning("message %s: blocks or attachments not read (%s: %s)", msg.get("ts"), type(exc).__name__, exc)
        return ""


def attachments_text(attachments: Any, *, alone: bool) -> str:
    """Forwarded and linked messages, each quoted under who said it and where; other attachments
    (a legacy app's card, a poll) only when the message has no words of its own (``alone``):
    otherwise they are link previews, which repeat what the text links to."""
    parts = []
    for attachment in _dicts(attachments):
        if attachment.get("is_share") or attachment.get("is_msg_unfurl"):
            parts.append(_shared(attachment))
        elif alone:
            parts.append(_card(attachment))
    return "\n".join(part for part in parts if part)


def _shared(attachment: dict[str, Any]) -> str:
    body = attachment.get("text") or ""
    if not body.strip():
        body = "\n".join(blocks_text((wrapper.get("message") or {}).get("blocks"))
                         for wrapper in _dicts(attachment.get("message_blocks")))
    if not body.strip():
        body = _FALLBACK_PREFIX.sub("", attachment.get("fallback") or "")
    if files := file_names(attachment.get("files")):
        body = (body + "\n" if body.strip() else "") + f"[file: {', '.join(files)}]"
    author = (f"<@{attachment['author_id']}>" if attachment.get("author_id")
              else attachment.get("author_name") or attachment.get("author_subname") or "someone")
    where = (f" in <#{attachment['channel_id']}>" if str(attachment.get("channel_id") or "").startswith(("C", "G"))
             else f" in #{attachment['channel_name']}" if attachment.get("channel_name") else "")
    kind = "forwarded" if attachment.get("is_share") else "linked"
    lines = body.strip("\n").split("\n") if body.strip() else []
    return "\n".join([f"> {kind} message from {author}{where}:", *(f"> {line}" for line in lines)])


def _card(attachment: dict[str, Any]) -> str:
    parts = [attachment.get(key) or "" for key in ("pretext", "title", "text")]
    for field in _dicts(attachment.get("fields")):
        title, value = field.get("title") or "", (field.get("value") or "").strip()
        parts.append(f"{title}: {value}" if title and value else title or value)
    words = [part.strip() for part in parts if isinstance(part, str) and part.strip()]
    if not words:
        fallback = attachment.get("fallback") or ""
        words = [fallback] if fallback and not fallback.startswith("Open Slack to") else []
    return "\n".join(words)


def blocks_text(blocks: Any) -> str:
    """The words of Block Kit blocks as mrkdwn; buttons, images and dividers are left out."""
    lines = []
    for block in _dicts(blocks):
        kind = block.get("type")
        if kind == "rich_text":
            lines.append(_rich_text(block.get("elements")))
        elif kind in ("section", "header"):
            lines.append(_text_object(block.get("text")))
            lines += [_text_object(field) for field in _dicts(block.get("fields"))]
        elif kind == "context":
            lines.append(" ".join(_text_object(e) for e in _dicts(block.get("elements"))
                                  if e.get("type") in ("mrkdwn", "plain_text")))
    return "\n".join(line.strip("\n") for line in lines if line.strip())


def _text_object(obj: Any) -> str:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return ""
    return obj["text"] if obj.get("type") == "mrkdwn" else _escape(obj["text"])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rich_text(elements: Any) -> str:
    out: list[str] = []
    for element in _dicts(elements):
        kind = element.get("type")
        if kind == "rich_text_list":
            indent = int(element.get("indent") or 0)
            for n, item in enumerate(_dicts(element.get("elements")), start=int(element.get("offset") or 0) + 1):
                mark = f"{n}." if element.get("style") == "ordered" else "•"
                out.append(f"{'  ' * indent}{mark} {_inline(item.get('elements'))}")
            continue
        text = _inline(element.get("elements"), code=kind == "rich_text_preformatted")
        if kind == "rich_text_preformatted":
            out.append(f"```{text.strip(chr(10))}```")
        elif kind == "rich_text_quote":
            out.append("\n".join(f"> {line}" for line in text.strip("\n").split("\n")))
        else:
            out.append(text.strip("\n"))
    return "\n".join(part for part in out if part)


def _inline(elements: Any, *, code: bool = False) -> str:
    """A section's elements as mrkdwn: tokens for people, channels and links, as ``text`` has them."""
    pieces = []
    for e in _dicts(elements):
        kind = e.get("type")
        if kind == "text":
            text = _escape(e.get("text") or "")
            style = e.get("style") or {}
            pieces.append(f"`{text}`" if style.get("code") and not code and text.strip() else text)
        elif kind == "link":
            url, label = e.get("url") or "", e.get("text") or ""
            pieces.append(f"<{url}|{_escape(label)}>" if label and label != url else f"<{url}>")
        elif kind == "user" and e.get("user_id"):
            pieces.append(f"<@{e['user_id']}>")
        elif kind == "channel" and e.get("channel_id"):
            pieces.append(f"<#{e['channel_id']}>")
        elif kind == "usergroup" and e.get("usergroup_id"):
            pieces.append(f"<!subteam^{e['usergroup_id']}>")
        elif kind == "broadcast" and e.get("range") in _BROADCASTS:
            pieces.append(f"<!{e['range']}>")
        elif kind == "emoji" and e.get("name"):
            pieces.append(f":{e['name']}:")
        elif kind == "date":
            pieces.append(_escape(e.get("fallback") or str(e.get("timestamp") or "")))
        elif isinstance(e.get("text"), str):  # newer kinds (canvas, file, ...): whatever words they carry
            pieces.append(_escape(e["text"]))
    return "".join(pieces)


def file_names(files: Any) -> list[str]:
    """The names of a message's (or a forwarded message's) files."""
    return [str(f.get("name") or f.get("title") or "file") for f in _dicts(files)]


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON list, whatever else the list (or the value) holds."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []
