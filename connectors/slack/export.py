"""A Slack export (the zip from "Export data") -> the same conversations the live connector makes.

The zip holds ``users.json``, ``channels.json`` (``groups.json``, ``dms.json``, ``mpims.json``
for private ones) and one folder per channel with a JSON file per day. Every message goes
through the same assembler as live messages, so a thread or a burst becomes one conversation;
at the end of the import every group is closed (the export is complete). Conversations are
queued at backfill priority, behind live items.

The cursor is the zip's SHA-256: the same file is read once; a newer export is read again and
only what was not sent before (same channel and ts) becomes new conversations, as long as the
earlier import is within the assembler's retention (30 days).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from bridge.config import ConfigPath
from bridge.connector import ConnectorConfig, Sink
from bridge.errors import SourceError
from bridge.groups import GroupPolicy
from bridge.models import PRIORITY_BACKFILL
from connectors.slack.render import message_item, render_group

__all__ = ["SlackExportConfig", "SlackExportConnector"]

log = logging.getLogger(__name__)


class SlackExportConfig(ConnectorConfig):
    type: Literal["slack-export"]
    path: ConfigPath
    text_source_spec: str = Field(default="slack", min_length=1)
    channels: list[str] = Field(default=[], description="names or ids; empty = every channel in the export")
    quiet_period: float = Field(default=600, gt=0)
    max_span: float = Field(default=7200, gt=0)
    include_bots: bool = False
    include_joins: bool = False
    timezone: str | None = None
    poll_interval: float = Field(default=3600, gt=0)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SlackExportConnector:
    Config = SlackExportConfig

    def __init__(self, name: str, config: SlackExportConfig) -> None:
        self.name = name
        self.config = config
        self.tz = ZoneInfo(config.timezone) if config.timezone else None

    def check(self) -> str:
        with self._open() as archive:
            channels = self._channels(archive)
        return f"{self.config.path}: {len(channels)} channel(s)"

    def poll(self, sink: Sink) -> None:
        digest = _sha256(self.config.path) if self.config.path.is_file() else None
        if digest is not None and sink.cursor == digest:
            return
        assembler = sink.assembler(GroupPolicy(self.config.quiet_period, self.config.max_span))
        with self._open() as archive:
            users = self._users(archive)
            names = self._channels(archive)
            added = 0
            for channel, folder in sorted(names.items(), key=lambda c: c[1]):
                for message in self._messages(archive, folder, sink):
                    item = message_item(channel, message, include_bots=self.config.include_bots,
                                        include_joins=self.config.include_joins)
                    if item is not None and assembler.add(item):
                        added += 1
            closed = 0
            for group in assembler.due(now=math.inf):  # the export is complete: every group is over
                if sink.closing:
                    return
                root = assembler.item(group.thread) if group.thread else None
                conversation = render_group(
                    group, channel=names.get(group.scope, group.scope), user_name=lambda u: users.get(u, u),
                    channel_name=lambda c: names.get(c, c), tz=self.tz, root=root, priority=PRIORITY_BACKFILL,
                ) if group.items else None
                closed += sink.close_group(assembler, group, conversation)
        sink.advance(digest)
        log.info("%s: %d message(s) read from %s into %d conversation(s)", self.name, added,
                 self.config.path.name, closed)

    # -- reading the zip ----------------------------------------------------------------------

    def _open(self) -> zipfile.ZipFile:
        try:
            return zipfile.ZipFile(self.config.path)
        except FileNotFoundError:
            raise SourceError(f"no such file: {self.config.path}") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise SourceError(f"{self.config.path}: not a readable zip ({exc})") from None

    def _json(self, archive: zipfile.ZipFile, name: str) -> Any:
        try:
            return json.loads(archive.read(name))
        except KeyError:
            return None

    def _users(self, archive: zipfile.ZipFile) -> dict[str, str]:
        found = {}
        for user in self._json(archive, "users.json") or []:
            profile = user.get("profile") or {}
            found[user["id"]] = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                                 or user.get("name") or user["id"])
        return found

    def _channels(self, archive: zipfile.ZipFile) -> dict[str, str]:
        """channel id -> name, which is also its folder in the zip (a DM's is its id); filtered
        by ``channels``."""
        found: dict[str, str] = {}
        for listing in ("channels.json", "groups.json", "dms.json", "mpims.json"):
            for channel in self._json(archive, listing) or []:
                found[channel["id"]] = channel.get("name") or channel["id"]
        if not found:
            raise SourceError(f"{self.config.path}: no channels.json: not a Slack export")
        if self.config.channels:
            wanted = {c.lstrip("#") for c in self.config.channels}
            found = {cid: name for cid, name in found.items() if cid in wanted or name in wanted}
        return found

    def _messages(self, archive: zipfile.ZipFile, folder: str, sink: Sink) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for name in sorted(archive.namelist()):
            path = PurePosixPath(name)
            if path.parent.name != folder or path.suffix != ".json" or len(path.parts) != 2:
                continue
            try:
                day = json.loads(archive.read(name))
                if not isinstance(day, list):
                    raise ValueError("not a list of messages")
            except (ValueError, UnicodeDecodeError) as exc:
                sink.skip(f"file:{name}", f"unreadable day file: {exc}", ref=name)
                continue
            messages += [m for m in day if isinstance(m, dict) and isinstance(m.get("ts"), str)]
        messages.sort(key=lambda m: float(m["ts"]))
        return messages
