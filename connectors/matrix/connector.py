"""Matrix rooms -> conversations, live: and through mautrix bridges, WhatsApp, Signal, Telegram.

``serve`` long-polls ``/sync`` (matrix-nio's AsyncClient) with ``next_batch`` as the cursor. The
events a sync brings (new messages, edits, redactions) and the new ``next_batch`` are written in
ONE transaction (``Sink.commit``): a crash never moves the cursor past a message that was not
stored, and a message is never stored twice for one cursor. A room whose timeline comes back
``limited`` (the bridge was down and more was said than a sync returns) is read back with
``/messages`` to the last event taken there, so nothing said meanwhile is missed.

Messages go through the assembler like Slack's: a room's burst (``group = "burst"``) or day
(``"day"``) becomes one conversation, which ``poll`` closes and queues when it is over. Edits
(``m.replace``) change a message not sent yet; redactions remove it; replies and threads keep
their relation. Names are the rooms' display names, kept current from member events. A room
a mautrix bridge made is recognised (``m.bridge`` state, or puppets such as ``@whatsapp_123``)
and its conversations carry the network's name as ``text_source_spec``. Encrypted rooms cannot
be read without the room's keys: said once per room, as a skipped item, and nothing of them is
stored as text.

The cursor: ``{"next_batch": token, "rooms": {room_id: {"last": event id, "ts": its time}}, "since": ts}``.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import os
import re
import sys
import time
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field, SecretStr

from bridge.config import GroupedConfig, HttpUrl
from bridge.connector import Live, Sink
from bridge.errors import ConfigError, SourceAuthError, SourceError
from bridge.groups import Assembler, Changes, Group, Item
from bridge.logs import hide
from bridge.models import PRIORITY_LIVE, Conversation
from bridge.tokens import TokenFile
from bridge.transcript import render

__all__ = ["MatrixConfig", "MatrixConnector"]

log = logging.getLogger(__name__)

GAP_PAGES = 50  # pages of 100 events read back to fill one room's gap, at most
# the networks mautrix bridges carry, by the id their bridge state and puppets use
NETWORKS = {"whatsapp": "WhatsApp", "signal": "Signal", "telegram": "Telegram", "facebook": "Messenger",
            "messenger": "Messenger", "meta": "Messenger", "instagram": "Instagram", "discord": "Discord",
            "slack": "Slack", "gmessages": "Google Messages", "imessage": "iMessage", "twitter": "X",
            "linkedin": "LinkedIn", "googlechat": "Google Chat"}
_PUPPET = re.compile(rf"^@({'|'.join(NETWORKS)})_[^:]+:")
_MEDIA = {"m.image": "photo", "m.video": "video", "m.audio": "audio", "m.file": "file", "m.sticker": "sticker"}


class MatrixConfig(GroupedConfig):
    type: Literal["matrix"]
    homeserver: HttpUrl = Field(description="https://matrix.example.org")
    user_id: str = Field(pattern=r"^@[^:]+:.+$", description="@me:example.org")
    access_token: SecretStr | None = Field(default=None, description="or access_token_file; or omi-bridge login")
    rooms: list[str] = Field(default=[], description="room ids or aliases; empty = every joined room")
    room_specs: dict[str, str] = Field(default={}, description="room id or alias -> text_source_spec")
    text_source_spec: str = Field(default="matrix", min_length=1)
    sync_timeout: float = Field(default=30, gt=0, le=300, description="seconds a /sync waits for news")
    timeout: float = Field(default=30, gt=0, le=300,
                           description="seconds the homeserver may take to answer (a /sync: sync_timeout more)")
    poll_interval: float = Field(default=60, gt=0)


class MatrixConnector:
    Config = MatrixConfig
    tokens: TokenFile | None = None  # an access token `omi-bridge login` got by password (set by the daemon)

    def __init__(self, name: str, config: MatrixConfig) -> None:
        self.name = name
        self.config = config
        self.tz = config.tz
        self._assembler: Assembler | None = None
        self._serve_error: str | None = None
        self._names: dict[str, dict[str, str]] = {}  # room -> user -> display name
        self._room_names: dict[str, str] = {}
        self._networks: dict[str, str] = {}  # room -> network id, for bridged rooms
        self._rooms: set[str] | None = None  # the rooms taken from, once resolved

    # -- the client ---------------------------------------------------------------------------

    def _token(self) -> str:
        if self.config.access_token is not None:
            return self.config.access_token.get_secret_value()
        stored = self.tokens.read() if self.tokens is not None else None
        if stored and isinstance(stored.get("access_token"), str):
            hide(stored["access_token"])
            return stored["access_token"]
        raise SourceAuthError(f"no access token: set access_token (or access_token_file), or run "
                              f"omi-bridge login {self.name}")

    def _client(self, token: bool = True, retries: int = 1) -> Any:
        from nio import AsyncClient, AsyncClientConfig

        # nio retries a request that times out or cannot connect forever unless told otherwise
        client = AsyncClient(self.config.homeserver, self.config.user_id, config=AsyncClientConfig(
            max_timeouts=retries, request_timeout=self.config.sync_timeout + self.config.timeout))
        if token:
            client.access_token = self._token()
        return client

    async def _answer(self, request: Any) -> Any:
        """A request the person waits for (login, check): its answer within ``timeout``, else
        one line that says what could not be reached."""
        seconds = self.config.timeout
        try:
            return await asyncio.wait_for(request, seconds)
        except TimeoutError:
            raise SourceError(f"cannot reach {self.config.homeserver}: no answer within {seconds:g} s") from None
        except OSError as exc:  # aiohttp's connection errors are OSErrors; the cause is the socket's
            cause = getattr(exc, "os_error", None) or exc
            errno = getattr(cause, "errno", None)  # asyncio's strerror is "Connect call failed (address)"
            why = os.strerror(errno) if errno else " ".join(str(cause).split()) or type(cause).__name__
            raise SourceError(f"cannot reach {self.config.homeserver}: {why}") from None

    def _error(self, response: Any, doing: str) -> SourceError:
        code = getattr(response, "status_code", None) or "error"
        message = " ".join(str(getattr(response, "message", "") or "").split())
        if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN") or (code == "M_FORBIDDEN" and doing == "whoami"):
            return SourceAuthError(f"{self.config.homeserver} refused the access token ({code}: {message}): "
                                   f"set a new access_token or run omi-bridge login {self.name}")
        return SourceError(f"{doing} failed at {self.config.homeserver}: {code} {message}".strip())

    async def check(self) -> str:
        from nio import WhoamiResponse

        client = self._client(retries=0)
        try:
            who = await self._answer(client.whoami())
            if not isinstance(who, WhoamiResponse):
                raise self._error(who, "whoami")
            if who.user_id != self.config.user_id:
                raise SourceAuthError(f"the access token is {who.user_id}'s, not {self.config.user_id}'s")
            rooms = await self._answer(self._resolve(client))
        finally:
            await client.close()
        return f"{who.user_id} on {self.config.homeserver}, {len(rooms)} room(s)"

    async def _resolve(self, client: Any) -> set[str]:
        """The room ids to read: the configured ones (aliases resolved), or every joined room."""
        from nio import JoinedRoomsResponse, RoomResolveAliasResponse

        async def room_id(room: str) -> str:
            if not room.startswith("#"):
                return room
            answer = await client.room_resolve_alias(room)
            if isinstance(answer, RoomResolveAliasResponse):
                return answer.room_id
            if getattr(answer, "status_code", None) == "M_NOT_FOUND":
                raise SourceError(f"no such room alias: {room}")
            raise self._error(answer, "resolve alias")

        for alias in [r for r in self.config.room_specs if r.startswith("#")]:
            self.config.room_specs.setdefault(await room_id(alias), self.config.room_specs[alias])
        if self.config.rooms:
            return {await room_id(room) for room in self.config.rooms}
        joined = await client.joined_rooms()
        if not isinstance(joined, JoinedRoomsResponse):
            raise self._error(joined, "joined_rooms")
        return set(joined.rooms)

    async def login(self, say: Any, pasted: Any) -> str:
        """``omi-bridge login``: an access token by password, kept in the state directory."""
        self._must_sign_in()
        prompt = f"Password for {self.config.user_id} (not stored; the access token is): "
        if sys.stdin.isatty():
            password = getpass.getpass(prompt)
        else:
            say(prompt)
            password = next(iter(pasted), "").rstrip("\n")
        return await self.password_login(password)

    def _must_sign_in(self) -> None:
        if self.tokens is None or self.config.access_token is not None:
            raise ConfigError([f"connectors.{self.name}: access_token is set: there is nothing to sign in to"])

    async def password_login(self, password: str) -> str:
        """Log in with the person's password (``login``, the console's Sign in form): the access
        token is kept, the password never: it lives in this call only and goes nowhere but the
        homeserver's login request (not even the log scrubber's list, which lives as long as the process)."""
        from nio import LoginResponse

        self._must_sign_in()
        client = self._client(token=False, retries=0)
        try:
            answer = await self._answer(client.login(password=password, device_name=f"omi-bridge {self.name}"))
        finally:
            await client.close()
        if not isinstance(answer, LoginResponse):
            raise SourceAuthError(f"{self.config.homeserver} refused the login: {getattr(answer, 'message', answer)}")
        hide(answer.access_token)
        with self.tokens.locked():
            self.tokens.write({"access_token": answer.access_token, "device_id": answer.device_id,
                               "user_id": answer.user_id})
        return await self.check()

    # -- receiving ----------------------------------------------------------------------------

    async def serve(self, sink: Sink, live: Live) -> None:
        """Sync until cancelled; a failure is raised (the daemon restarts this with backoff)."""
        try:
            await self._serve(sink, live)
        except asyncio.CancelledError:
            raise
        except SourceError as exc:
            self._serve_error = str(exc)
            raise
        except Exception as exc:  # the network: aiohttp, timeouts
            log.debug("%s: sync failed", self.name, exc_info=True)
            self._serve_error = f"cannot sync with {self.config.homeserver}: {type(exc).__name__}: {exc}"
            raise SourceError(self._serve_error) from None

    async def _serve(self, sink: Sink, live: Live) -> None:
        from nio import SyncResponse

        client = self._client()
        try:
            assembler = self._assembler_for(sink)
            self._rooms = await self._resolve(client)
            cursor = dict(sink.cursor or {})
            first = True
            while True:
                answer = await client.sync(timeout=int(self.config.sync_timeout * 1000) if not first else 0,
                                           since=cursor.get("next_batch"), full_state=first)
                if not isinstance(answer, SyncResponse):
                    raise self._error(answer, "sync")
                cursor = await self._take_sync(client, answer, cursor, assembler, sink)
                if first:  # names and rooms known again, a failure over: the poll closes what is due, says so
                    self._serve_error = None
                    live.request_poll()
                first = False
        finally:
            await client.close()

    async def _take_sync(self, client: Any, answer: Any, cursor: dict[str, Any], assembler: Assembler,
                         sink: Sink) -> dict[str, Any]:
        """One sync's events into the store, and its next_batch with them."""
        starting = "next_batch" not in cursor  # the first start: from now on, names and rooms learnt
        rooms = {room: mark if isinstance(mark, dict) else {"ts": mark}
                 for room, mark in (cursor.get("rooms") or {}).items()}
        since = float(cursor.get("since") or time.time() * 1000)
        changes = assembler.changes()
        for room_id, room in answer.rooms.join.items():
            if not self._wanted(room_id):
                continue
            timeline = [e.source for e in room.timeline.events]
            for event in [e.source for e in room.state] + [e for e in timeline if "state_key" in e]:
                self._learn(room_id, event)
            if starting:
                rooms[room_id] = _mark(timeline, {})
                continue
            if room_id not in rooms:  # joined since: what is said from the join on, not the room's past
                joined = [n for n, e in enumerate(timeline) if self._my_join(e)]
                if joined:
                    timeline = timeline[joined[-1] + 1:]
                elif room.timeline.limited:  # more was said since the join than a sync holds
                    timeline = await self._gap(client, room_id, room.timeline.prev_batch, {}) + timeline
            elif room.timeline.limited:
                timeline = await self._gap(client, room_id, room.timeline.prev_batch, rooms[room_id]) + timeline
            # the batch's own authors: an edit's original may be in it, not stored yet
            authors = {e.get("event_id"): e.get("sender") for e in timeline}
            for event in timeline:  # an event taken before (a gap read back overlaps) is known by its id
                self._take(room_id, event, changes, sink, authors)
            rooms[room_id] = _mark(timeline, rooms.get(room_id, {}))
        cursor = {"next_batch": answer.next_batch, "rooms": rooms, "since": since}
        sink.commit(changes, cursor)
        return cursor

    async def _gap(self, client: Any, room_id: str, token: str | None, mark: dict[str, Any]) -> list[dict[str, Any]]:
        """What was said in a room since the last event taken there, before this sync's timeline,
        read back with /messages to that event (oldest first); for a room without one (joined
        while the bridge was down), back to the join. Bridges date messages by the network's
        clock, so a late one may look older than the last taken: the time only ends the search
        a day before that."""
        from nio import MessageDirection, RoomMessagesResponse

        last, floor = mark.get("last"), float(mark.get("ts") or 0) - 86_400_000
        found: list[dict[str, Any]] = []
        for _ in range(GAP_PAGES):
            if not token:
                break
            page = await client.room_messages(room_id, start=token, direction=MessageDirection.back, limit=100)
            if not isinstance(page, RoomMessagesResponse):
                raise self._error(page, "messages")
            older = [e.source for e in page.chunk]
            reached = False
            for event in older:
                if event.get("event_id") == last or _number(event.get("origin_server_ts")) < floor or (
                        last is None and self._my_join(event)):
                    reached = True
                    break
                found.append(event)
            if reached or not older or page.end in (None, token):
                break
            token = page.end
        else:
            log.warning("%s: %s: more than %d events missed; the oldest of them are left out", self.name,
                        self._room_name(room_id), GAP_PAGES * 100)
        log.info("%s: %s: %d event(s) read back to fill a gap", self.name, self._room_name(room_id), len(found))
        return list(reversed(found))

    def _my_join(self, event: dict[str, Any]) -> bool:
        return (event.get("type") == "m.room.member" and event.get("state_key") == self.config.user_id
                and _dict(event.get("content")).get("membership") == "join")

    def _wanted(self, room_id: str) -> bool:
        return not self.config.rooms or (self._rooms is not None and room_id in self._rooms)

    def _learn(self, room_id: str, event: dict[str, Any]) -> None:
        """Room state: members' display names, the room's name, a bridge."""
        kind, content = event.get("type"), _dict(event.get("content"))
        if kind == "m.room.member" and isinstance(event.get("state_key"), str):
            name = content.get("displayname")
            if isinstance(name, str) and name.strip():
                self._names.setdefault(room_id, {})[event["state_key"]] = name.strip()
            if network := _PUPPET.match(event["state_key"]):
                self._networks.setdefault(room_id, network.group(1))
        elif kind == "m.room.name" and isinstance(content.get("name"), str):
            self._room_names[room_id] = content["name"]
        elif kind in ("m.bridge", "uk.half-shot.bridge"):
            ident = str(_dict(content.get("protocol")).get("id") or "").lower()
            if ident:
                self._networks[room_id] = ident

    def _take(self, room_id: str, event: dict[str, Any], changes: Changes, sink: Sink,
              authors: dict[str, Any]) -> None:
        """One timeline event into ``changes`` (``authors``: the senders of the events that came
        with it). Any member can send any JSON: an event of an unexpected shape is skipped with
        its reason, never stops the room."""
        try:
            self._take_event(room_id, event, changes, sink, authors)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            sink.skip(f"event:{event.get('event_id')}", f"an event of an unexpected shape ({type(exc).__name__})",
                      ref=f"room {self._room_name(room_id)}")

    def _take_event(self, room_id: str, event: dict[str, Any], changes: Changes, sink: Sink,
                    authors: dict[str, Any]) -> None:
        kind, content = event.get("type"), _dict(event.get("content"))
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            return
        if kind == "m.room.redaction":
            redacts = event.get("redacts") or content.get("redacts")
            if isinstance(redacts, str):
                changes.remove(redacts, room_id)
            return
        if kind == "m.room.encrypted":  # recorded once per room (the skip's key is the room)
            sink.skip(f"encrypted:{room_id}", "end-to-end encrypted: omi-bridge cannot read this room "
                      "(it has no keys); its messages are left out", ref=f"room {self._room_name(room_id)}")
            return
        if kind not in ("m.room.message", "m.sticker") or "state_key" in event:
            return
        relation = _dict(content.get("m.relates_to"))
        sender = str(event.get("sender") or "")
        if relation.get("rel_type") == "m.replace" and isinstance(relation.get("event_id"), str):
            stored = self._assembler.item(relation["event_id"]) if self._assembler else None
            author = stored.author if stored else authors.get(relation["event_id"])
            text = _text(_dict(content.get("m.new_content")), event)
            if text and author in (None, sender):  # only the author edits (spec 11.37)
                changes.edit(relation["event_id"], text)
            return
        text = _text(content, event)
        if not text:
            return
        names = self._names.get(room_id, {})
        # the names and the network as they are now: a restart's first closing comes before its first sync
        data: dict[str, Any] = {"name": names.get(sender) or _local(sender), "room": self._room_name(room_id)}
        if network := self._networks.get(room_id):
            data["network"] = network
        if sender == self.config.user_id:
            data["me"] = True
        thread = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
        answered = _dict(relation.get("m.in_reply_to")).get("event_id")
        if isinstance(thread, str):
            data["reply"] = {"key": thread}  # a thread's message names and quotes the thread's start
        elif isinstance(answered, str):
            data["reply"] = {"key": answered}
        changes.add(Item(key=event_id, scope=room_id, at=_number(event.get("origin_server_ts")) / 1000,
                         text=text, author=sender, thread=thread if isinstance(thread, str) else None, data=data))

    # -- closing ------------------------------------------------------------------------------

    async def poll(self, sink: Sink) -> None:
        """Every group that is over becomes a conversation."""
        assembler = self._assembler_for(sink)
        for group in assembler.due():
            if sink.closing:
                return
            sink.close_group(assembler, group, self._render(group, assembler) if group.items else None)
        if self._serve_error is not None and not sink.dry_run:
            raise SourceError(self._serve_error)  # closing works, but nothing can arrive

    def _render(self, group: Group, assembler: Assembler) -> Conversation:
        room = group.scope
        names = self._names.get(room, {})
        last = group.items[-1].data

        def name(item: Item) -> str:  # today's name, else the one it had when taken
            return names.get(item.author) or item.data.get("name") or _local(item.author)

        items = []
        for item in group.items:
            data = dict(item.data)
            if "reply" in data:
                answered = assembler.item(data["reply"]["key"])
                data["reply"] = ({"key": answered.key, "name": name(answered), "at": answered.at,
                                  "text": answered.text} if answered else {"name": "an earlier message"})
            items.append(replace(item, author=name(item), data=data))
        spec = self.config.room_specs.get(room) or self._networks.get(room) or last.get("network")
        app = NETWORKS.get(spec or "", "Matrix")
        room_name = self._room_names.get(room) or last.get("room") or self._room_name(room)
        place = f"room “{room_name}”" + (" (through Matrix)" if app != "Matrix" else "")
        conversation = render(replace(group, items=items), heading=f"{app} {place}", tz=self.tz,
                              priority=PRIORITY_LIVE)
        return conversation.model_copy(update={"text_source_spec": spec}) if spec else conversation

    def _room_name(self, room_id: str) -> str:
        if room_id in self._room_names:
            return self._room_names[room_id]
        others = [n for u, n in self._names.get(room_id, {}).items() if u != self.config.user_id]
        return ", ".join(sorted(others)[:3]) or room_id

    def _assembler_for(self, sink: Sink) -> Assembler:
        if self._assembler is None or sink.dry_run:
            self._assembler = sink.assembler(self.config.policy)
        return self._assembler


def _text(content: dict[str, Any], event: dict[str, Any]) -> str:
    """A message's words: text, notices and emotes as written (a reply's quoted fallback taken
    off), media named, with their captions."""
    kind = content.get("msgtype") or ("m.sticker" if event.get("type") == "m.sticker" else None)
    body = content.get("body")
    if not isinstance(body, str):
        return ""
    if _dict(content.get("m.relates_to")).get("m.in_reply_to"):
        body = _without_fallback(body)
    if kind in _MEDIA:
        what = "voice message" if "org.matrix.msc3245.voice" in content else _MEDIA[kind]
        # spec v1.10: with a filename that differs, the body is a caption (mautrix bridges send
        # photo captions so); without one, the body is the file's name
        filename = content.get("filename")
        named = filename if isinstance(filename, str) and filename.strip() else body
        caption = body.strip() if kind != "m.sticker" and named != body else ""
        medium = f"[{what}: {named.strip()}]" if kind == "m.file" else f"[{what}]"
        return f"{medium} {caption}" if caption else medium
    if kind == "m.location":
        return f"[location: {content.get('geo_uri') or body}]"
    body = body.strip()
    if kind == "m.emote":
        return f"* {body}"
    return body


_FALLBACK_START = re.compile(r"^> (\* )?<@[^>\s]+>")  # "> <@anna:x> what she said", "> * <@anna:x> waves"


def _without_fallback(body: str) -> str:
    """A reply without its quoted fallback: the leading lines that start with "> ", and the
    blank line after them (spec 11.19.2.2). A reply that opens with a quote of its own
    ("> to be...", no sender) keeps it: clients stopped sending fallbacks (spec v1.13)."""
    if not _FALLBACK_START.match(body):
        return body
    lines = body.split("\n")
    while lines and (lines[0].startswith("> ") or lines[0] == ">"):
        lines.pop(0)
    return "\n".join(lines).lstrip("\n")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _local(user: str) -> str:
    """"@anna:example.org" -> "anna": a name for someone whose display name is not known."""
    return user.split(":", 1)[0].lstrip("@") or "someone"


def _mark(timeline: list[dict[str, Any]], before: dict[str, Any]) -> dict[str, Any]:
    """Where a room was read up to: its last event taken, and that event's time."""
    events = [e for e in timeline if isinstance(e.get("event_id"), str) and "state_key" not in e]
    if not events:
        return before
    return {"last": events[-1]["event_id"], "ts": max(_number(events[-1].get("origin_server_ts")),
                                                      _number(before.get("ts")))}

