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

import json
import logging
import math
import re
import sys
import zipfile
from typing import Any, Literal, NamedTuple

from pydantic import Field

from bridge.config import ConfigPath, GroupedConfig
from bridge.connector import Sink, file_sha256
from bridge.errors import SourceError
from bridge.groups import Group
from bridge.models import PRIORITY_BACKFILL, Conversation
from bridge.progress import Bar
from bridge.zips import DamagedMember, member_name, open_zip, read_member
from connectors.slack.render import message_item, record_problem, render_group

__all__ = ["SlackExportConfig", "SlackExportConnector"]

log = logging.getLogger(__name__)

CLOSE_BATCH = 500  # conversations queued per transaction at the end of an import
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")  # not canvas_in_the_conversation.json and the like


class SlackExportConfig(GroupedConfig):
    type: Literal["slack-export"]
    path: ConfigPath
    text_source_spec: str = Field(default="slack", min_length=1)
    channels: list[str] = Field(default=[], description="names or ids; empty = every channel in the export")
    group: Literal["day", "burst"] = Field(
        default="day", description="day: a channel's day is one conversation (fewest writes); burst: as live")
    include_bots: bool = False
    include_joins: bool = False
    poll_interval: float = Field(default=3600, gt=0)


class SlackExportConnector:
    Config = SlackExportConfig

    def __init__(self, name: str, config: SlackExportConfig) -> None:
        self.name = name
        self.config = config
        self.tz = config.tz

    def check(self) -> str:
        damaged: list[DamagedMember] = []
        with open_zip(self.config.path) as archive:
            channels = self._channels(archive, self._users(archive)[0], damaged)
        return f"{self.config.path}: {len(channels)} channel(s)" + "".join(f"; {d}" for d in damaged)

    def poll(self, sink: Sink) -> None:
        digest = file_sha256(self.config.path) if self.config.path.is_file() else None
        if digest is not None and sink.cursor == digest:
            return
        assembler = sink.assembler(self.config.policy)
        with open_zip(self.config.path) as archive:
            users, bots = self._users(archive)
            damaged: list[DamagedMember] = []
            channels = self._channels(archive, users, damaged)
            for problem in damaged:  # a listing's channels are left out; the others come in
                self._damaged(sink, digest, problem)
            days = _day_files(archive)
            added = 0
            show = sys.stderr.isatty() and len(channels) > 3
            for channel in Bar(sorted(channels.values(), key=lambda c: c.name), desc=self.name, unit="channel",
                               disable=not show, source=self.name, doing="importing the export (channels)"):
                files = next((days[f] for f in channel.folders if f in days), [])
                items = (message_item(channel.id, message, include_bots=self.config.include_bots,
                                      include_joins=self.config.include_joins, bot_users=bots)
                         for message in self._messages(archive, files, sink, digest))
                # one transaction per channel: the zip can be read again, so no commit per message
                added += assembler.add_many(item for item in items if item is not None)
            closed = 0
            batch: list[tuple[Group, Conversation | None]] = []
            names = {c.id: c.name for c in channels.values()}
            for group in assembler.due(now=math.inf):  # the export is complete: every group is over
                if sink.closing:
                    return
                place = channels[group.scope].place if group.scope in channels else f"#{group.scope}"
                batch.append((group, render_group(
                    group, place=place, user_name=lambda u: users.get(u, u), channel_name=lambda c: names.get(c, c),
                    tz=self.tz, roots=assembler.roots(group), priority=PRIORITY_BACKFILL,
                ) if group.items else None))
                if len(batch) == CLOSE_BATCH:
                    closed += sink.close_groups(assembler, batch)
                    batch = []
            closed += sink.close_groups(assembler, batch)
        sink.advance(digest)
        log.info("%s: %d message(s) read from %s into %d conversation(s)", self.name, added,
                 self.config.path.name, closed)

    # -- reading the zip ----------------------------------------------------------------------

    def _json(self, archive: zipfile.ZipFile, name: str) -> Any:
        try:
            return json.loads(read_member(archive, name))
        except KeyError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceError(f"{self.config.path}: {name} is not readable JSON ({exc})") from None

    def _users(self, archive: zipfile.ZipFile) -> tuple[dict[str, str], set[str]]:
        """Display names by user id, and the ids of apps' users."""
        names, bots = {}, set()
        try:
            listed = self._json(archive, "users.json") or []
        except DamagedMember as exc:
            # every conversation names its people: sent with bare user ids, they could not be mended later
            raise SourceError(f"{self.config.path}: {exc}; without it no one can be named: "
                              "download the export again") from None
        for user in listed:
            if not isinstance(user, dict) or not isinstance(user.get("id"), str):
                continue
            profile = user.get("profile") or {}
            names[user["id"]] = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                                 or user.get("name") or user["id"])
            if user.get("is_bot"):
                bots.add(user["id"])
        return names, bots

    def _channels(self, archive: zipfile.ZipFile, users: dict[str, str],
                  damaged: list[DamagedMember]) -> dict[str, _Channel]:
        """The conversations of the export by id, filtered by ``channels``. A listing damaged in
        the zip is added to ``damaged``: its channels are left out, the others come in."""
        found: dict[str, _Channel] = {}
        for listing in ("channels.json", "groups.json", "dms.json", "mpims.json", "file_conversations.json"):
            try:
                entries = self._json(archive, listing) or []
            except DamagedMember as exc:
                damaged.append(exc)
                continue
            for entry in entries:
                if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                    found[entry["id"]] = _Channel.of(entry, listing, users)
        if not found:
            raise SourceError(f"{self.config.path}: "
                              + (f"{damaged[0]}" if damaged else "no channels.json: not a Slack export"))
        if self.config.channels:
            wanted = {c.lstrip("#") for c in self.config.channels}
            found = {cid: c for cid, c in found.items() if cid in wanted or c.name in wanted}
        return found

    def _messages(self, archive: zipfile.ZipFile, files: list[str], sink: Sink,
                  digest: str | None) -> list[dict[str, Any]]:
        """A channel's messages in time order. A day file or a record that cannot be read is
        recorded as skipped, with its reason; the rest of the channel still comes in."""
        messages: list[tuple[float, dict[str, Any]]] = []
        for name in files:
            try:
                day = json.loads(read_member(archive, name))
                if not isinstance(day, list):
                    raise ValueError("not a list of messages")
            except DamagedMember as exc:
                self._damaged(sink, digest, exc)
                continue
            except (ValueError, UnicodeDecodeError) as exc:
                sink.skip(f"file:{name}", f"unreadable day file: {exc}", ref=name)
                continue
            for n, message in enumerate(day, start=1):
                problem = record_problem(message)
                if problem is None:
                    messages.append((float(message["ts"]), message))
                else:
                    sink.skip(f"record:{name}#{n}", problem, ref=f"{name} record {n}")
        messages.sort(key=lambda m: m[0])
        return [message for _, message in messages]

    def _damaged(self, sink: Sink, digest: str | None, problem: DamagedMember) -> None:
        """Record a member damaged in the zip, once for this zip (its content): a newer export's
        damage is its own."""
        sink.skip(f"damaged:{(digest or '')[:12]}:{problem.member}", problem.reason, ref=problem.member)


class _Channel(NamedTuple):
    id: str
    name: str  # what ``<#id>`` shows
    place: str  # where it was said, for the header: "#general", "direct messages with Ann"
    folders: tuple[str, ...]  # its folder in the zip may be any of these

    @classmethod
    def of(cls, entry: dict[str, Any], listing: str, users: dict[str, str]) -> _Channel:
        cid = entry["id"]
        name = entry.get("name") if isinstance(entry.get("name"), str) else cid
        members = [users.get(m, m) for m in entry.get("members") or [] if isinstance(m, str)]
        if listing == "dms.json":
            place = "direct messages" + (f" between {' and '.join(members)}" if members else "")
        elif listing == "mpims.json":
            place = "group messages" + (f" between {', '.join(members)}" if members else f" {name}")
        elif listing == "file_conversations.json":  # "FC:F05JM5XK9SL:My notes": comments on a canvas
            title = name.split(":", 2)[-1] if name.startswith("FC:") else name
            place = f"comments on the canvas “{title}”"
        else:
            place = f"#{name}"
        return cls(cid, name, place, (name, name.replace(":", "_"), cid))


def _day_files(archive: zipfile.ZipFile) -> dict[str, list[str]]:
    """Day files (``<folder>/YYYY-MM-DD.json``) by folder, read once for the whole zip. Slack
    writes UTF-8 names without saying so, and zipfile reads them as cp437: they are mended."""
    found: dict[str, list[str]] = {}
    for info in archive.infolist():
        folder, _, day = member_name(info).rpartition("/")
        if folder and "/" not in folder and _DAY.match(day):
            found.setdefault(folder, []).append(info.filename)
    for files in found.values():
        files.sort()
    return found
