"""Slack channels -> conversations: a thread, or a burst of channel messages, becomes one.

Events arrive through slack-bolt's AsyncApp on the daemon's event loop, over Socket Mode (no
public URL) or the Events API on the daemon's HTTP listener. Each message event is written to
the store (unique on its ``event_id``, and the message on channel+ts) by the listener itself;
Bolt runs with ``process_before_response=True``, so Slack gets its acknowledgement only after
that write committed. A listener that fails leaves the event unacknowledged and Slack retries it.

Slack drops events during outages, and a socket can look open while delivering nothing. So the
connector reconciles from history: on start, after every reconnect, and every
``reconcile_interval``, ``conversations.history`` and ``conversations.replies`` fill in what was
said since the channel's last reconciled ``ts``. Messages seen already are recognised by key.
Web API calls are paced (``history_requests_per_minute``) and 429 answers are waited out.

The connector's cursor: ``{"synced": {channel_id: ts}}``, the newest ts each channel was read
from history up to. Only reconciliation moves it, never a live event: an event after a gap must
not hide the gap.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bridge.config import GroupedConfig
from bridge.connector import Live, Sink
from bridge.errors import SourceAuthError, SourceError
from bridge.groups import Assembler, Group, Item, day_end
from connectors.slack.blocks import message_text
from connectors.slack.mrkdwn import mentioned_users
from connectors.slack.render import item_key, message_item, record_problem, render_group

__all__ = ["SlackConfig", "SlackConnector"]

log = logging.getLogger(__name__)

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_CHANNEL_TYPES = "public_channel,private_channel"
_AUTH_ERRORS = {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
THREAD_WATCH = 86400  # threads with activity this recent are asked for replies we missed
PRUNE_EVERY = 3600


class SlackConfig(GroupedConfig):
    type: Literal["slack"]
    text_source_spec: str = Field(default="slack", min_length=1)
    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretStr
    app_token: SecretStr | None = Field(default=None, description="xapp-... token, socket mode")
    signing_secret: SecretStr | None = Field(default=None, description="http mode")
    channels: list[str] = Field(default=[], description="names or ids; empty = every channel the bot is in")
    api_url: str = "https://slack.com/api/"
    events_path: str = Field(default="/slack/events", pattern=r"^/")
    include_bots: bool = False
    include_joins: bool = False
    history_requests_per_minute: float = Field(default=50, ge=1, description="pacing of history calls")
    history_page_size: int = Field(default=200, ge=1, le=999)
    reconcile_interval: float = Field(default=3600, ge=0, description="seconds; 0 = on start/reconnect only")
    liveness_timeout: float = Field(default=60, ge=2, description="seconds without a pong before reconnecting")
    poll_interval: float = Field(default=30, gt=0, description="a safety net: groups close at their own deadline")

    @field_validator("api_url")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not re.match(r"^https?://", value):
            raise ValueError("must be an http:// or https:// URL")
        return value if value.endswith("/") else value + "/"

    @model_validator(mode="after")
    def _tokens(self) -> SlackConfig:
        if self.mode == "socket" and self.app_token is None:
            raise ValueError('socket mode needs app_token (an "xapp-" token with connections:write)')
        if self.mode == "http" and self.signing_secret is None:
            raise ValueError("http mode needs signing_secret")
        return self

    @property
    def needs_http_listener(self) -> bool:
        return self.mode == "http"


def _ts_max(a: str, b: str) -> str:
    return a if Decimal(a) >= Decimal(b) else b


def _api_error(exc: SlackApiError) -> str:
    data = exc.response.data
    error = data.get("error") if isinstance(data, dict) else None
    return str(error or f"HTTP {exc.response.status_code}")


class Names:
    """User and channel names by id, fetched once and kept; events keep them current."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self.users: dict[str, str] = {}
        self.bots: set[str] = set()  # users that are apps
        self.channels: dict[str, str] = {}

    async def load_users(self, ids: set[str]) -> None:
        for user in ids - self.users.keys():
            try:
                answer = await self._client.users_info(user=user)
            except SlackApiError as exc:
                if _api_error(exc) not in ("user_not_found", "users_not_found", "bot_not_found"):
                    raise
                self.users[user] = user
            else:
                self.user_changed(answer["user"])

    async def load_channel(self, channel: str) -> None:
        if channel in self.channels:
            return
        try:
            answer = await self._client.conversations_info(channel=channel)
        except SlackApiError as exc:
            if _api_error(exc) != "channel_not_found":
                raise
            self.channels[channel] = channel
        else:
            self.channels[channel] = answer["channel"].get("name") or channel

    def user_changed(self, user: dict[str, Any]) -> None:
        profile = user.get("profile") or {}
        if user.get("is_bot"):
            self.bots.add(user["id"])
        self.users[user["id"]] = (
            profile.get("display_name") or profile.get("real_name") or user.get("real_name") or user.get("name")
            or user["id"]
        )

    def user(self, user: str) -> str:
        return self.users.get(user, user)

    def channel(self, channel: str) -> str:
        return self.channels.get(channel, channel)


class SlackConnector:
    Config = SlackConfig

    def __init__(self, name: str, config: SlackConfig) -> None:
        self.name = name
        self.config = config
        self.client = AsyncWebClient(
            token=config.bot_token.get_secret_value(),
            base_url=config.api_url,
            timeout=30,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(max_retry_count=2),
                AsyncRateLimitErrorRetryHandler(max_retry_count=5),
            ],
        )
        self.names = Names(self.client)
        self.tz = config.tz
        self._channels: set[str] | None = None  # resolved ids; None until resolved
        self._assembler: Assembler | None = None
        self._reconcile_due = True  # on start
        self._last_reconcile = 0.0
        self._last_prune = 0.0
        self._last_call = 0.0
        self._pace_lock = asyncio.Lock()
        self._down_since: float | None = None
        self._serve_error: str | None = None  # why events cannot arrive, while serve() keeps failing

    # -- the parts a daemon calls --------------------------------------------------------------

    async def check(self) -> str:
        try:
            who = await self.client.auth_test()
            if self.config.mode == "socket":
                assert self.config.app_token is not None
                await self.client.apps_connections_open(app_token=self.config.app_token.get_secret_value())
            channels = await self._resolve_channels()
        except SlackApiError as exc:
            raise self._source_error(exc) from None
        mode = self.config.mode
        return f"{who.get('team', '?')} as @{who.get('user', '?')} ({mode} mode), {len(channels)} channel(s)"

    async def poll(self, sink: Sink) -> None:
        """Reconcile when due, then turn every group that is over into a conversation."""
        assembler = self._assembler_for(sink)
        try:
            if not sink.dry_run and self._reconcile_needed():
                await self.reconcile(sink)
            for group in assembler.due():
                if sink.closing:
                    return
                sink.close_group(assembler, group, await self._render(group))
        except SlackApiError as exc:
            raise self._source_error(exc) from None
        if time.time() - self._last_prune > PRUNE_EVERY and not sink.dry_run:
            assembler.prune()
            self._last_prune = time.time()
        if self._serve_error is not None and not sink.dry_run:
            # history and closing work, but no event can arrive: the source is not healthy
            raise SourceError(self._serve_error)

    async def serve(self, sink: Sink, live: Live) -> None:
        """Receive events until cancelled: Socket Mode, or routes on the daemon's listener."""
        try:
            await self._serve(sink, live)
        except Exception as exc:
            self._serve_error = f"cannot receive events: {exc}"
            raise

    async def _serve(self, sink: Sink, live: Live) -> None:
        from slack_bolt.async_app import AsyncApp

        app = AsyncApp(
            client=self.client,
            signing_secret=self.config.signing_secret.get_secret_value() if self.config.signing_secret else "-",
            process_before_response=True,
            request_verification_enabled=self.config.mode == "http",
            ignoring_self_events_enabled=not self.config.include_bots,
            logger=logging.getLogger("slack_bolt"),
        )
        self._register(app, sink)
        if self.config.mode == "http":
            self._route_http(app, live)
        try:  # before any event is taken: which channels count must be known, or early events would be dropped
            await self._resolve_channels()
        except SlackApiError as exc:
            raise self._source_error(exc) from None
        if self.config.mode == "http":
            self._serve_error = None
            live.request_poll()
            await asyncio.Event().wait()  # until cancelled: the listener does the rest
        else:
            await self._serve_socket(app, live)

    # -- events -------------------------------------------------------------------------------

    def _register(self, app: Any, sink: Sink) -> None:
        assembler = self._assembler_for(sink)

        async def on_message(event: dict[str, Any], body: dict[str, Any]) -> None:
            # raising here leaves the event unacknowledged: Slack sends it again
            await self._know_apps([event])
            self.take_message(assembler, event, body.get("event_id"))

        async def on_user_change(event: dict[str, Any]) -> None:
            self.names.user_changed(event["user"])

        async def on_channel_rename(event: dict[str, Any]) -> None:
            channel = event.get("channel") or {}
            if channel.get("id") and channel.get("name"):
                self.names.channels[channel["id"]] = channel["name"]

        async def on_joined(event: dict[str, Any]) -> None:
            # with no channel list configured, a channel the bot is invited to counts from now on;
            # a configured list is fixed, and stays resolved
            channel = event.get("channel")
            if not self.config.channels and self._channels is not None and isinstance(channel, str):
                self._channels.add(channel)

        async def on_other() -> None:
            """Acknowledge what we do not use, or Slack keeps resending it."""

        app.event("message")(on_message)
        app.event("user_change")(on_user_change)
        app.event("channel_rename")(on_channel_rename)
        app.event("member_joined_channel")(on_joined)
        app.event(re.compile(".*"))(on_other)

    def take_message(self, assembler: Assembler, event: dict[str, Any], event_id: str | None) -> bool:
        """One message event into the store. True if it changed something."""
        channel = event.get("channel")
        if not isinstance(channel, str) or not self._wanted(channel, event.get("channel_type")):
            return False
        subtype = event.get("subtype")
        key = event_id or f"{channel}:{event.get('event_ts') or event.get('ts')}:{subtype or ''}"
        if subtype == "message_changed":
            message = event.get("message") or {}
            # some senders (bolt-python's own fixtures among them) give the ts only on the old message
            ts = message.get("ts") or (event.get("previous_message") or {}).get("ts")
            if not isinstance(ts, str):
                log.warning("%s: an edit in %s names no message; left alone", self.name, channel)
                return False
            return assembler.edit(item_key(channel, ts), message_text(message), event_key=key)
        if subtype == "message_deleted":
            if not isinstance(event.get("deleted_ts"), str):
                return False
            return assembler.remove(item_key(channel, event["deleted_ts"]), channel, event_key=key)
        problem = record_problem(event)
        if problem is not None:  # acknowledged all the same: Slack resending it would not mend it
            log.warning("%s: skipped a message event in %s: %s", self.name, channel, problem)
            return False
        item = message_item(channel, event, include_bots=self.config.include_bots,
                            include_joins=self.config.include_joins, bot_users=self.names.bots)
        if item is None:
            return False
        return assembler.add(item, event_key=key)

    async def _know_apps(self, messages: list[dict[str, Any]]) -> None:
        """Look up the users of messages an app stamped: the app's own user, or a person it posted
        for (a poll), decides whether the message counts."""
        users = {m["user"] for m in messages if m.get("bot_id") and isinstance(m.get("user"), str)}
        try:
            await self.names.load_users(users)
        except SlackApiError as exc:  # taken as a person's message: better kept than lost
            log.warning("%s: cannot look up %d user(s): %s", self.name, len(users), _api_error(exc))

    def _wanted(self, channel: str, channel_type: str | None) -> bool:
        if self.config.channels:
            if self._channels is None:  # not resolved yet: ids in the config still count
                return channel in self.config.channels
            return channel in self._channels
        return channel_type in (None, "channel", "group") or (self._channels is not None and channel in self._channels)

    # -- Socket Mode and HTTP -----------------------------------------------------------------

    async def _serve_socket(self, app: Any, live: Live) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert self.config.app_token is not None
        token = self.config.app_token.get_secret_value()
        ping = max(1.0, self.config.liveness_timeout / 4)
        handler = None
        try:
            while True:
                try:  # a refused app token is one clear error here, not the SDK retrying forever
                    await self.client.apps_connections_open(app_token=token)
                except SlackApiError as exc:
                    raise self._source_error(exc) from None
                handler = AsyncSocketModeHandler(app, token, web_client=self.client, ping_interval=ping)
                await handler.connect_async()
                log.info("%s: connected to Slack (socket mode)", self.name)
                self._serve_error = None
                self._reconcile_due = True
                live.request_poll()
                await self._watch_socket(handler.client, live)
                log.warning("%s: Slack connection silent for %.0fs: reconnecting", self.name,
                            self.config.liveness_timeout)
                await handler.close_async()
                handler = None
        finally:
            if handler is not None:
                await handler.close_async()

    async def _watch_socket(self, client: Any, live: Live) -> None:
        """Return when the connection must be rebuilt: no pong for ``liveness_timeout``.
        A reconnect the SDK makes by itself (a new session) is followed by a reconcile."""
        session = client.current_session
        step = max(0.5, self.config.liveness_timeout / 8)
        while True:
            await asyncio.sleep(step)
            if client.current_session is not session:
                session = client.current_session
                log.info("%s: Slack reconnected; reading history for the gap", self.name)
                self._reconcile_due = True
                live.request_poll()
            last = client.last_ping_pong_time
            if last is not None and time.time() - last > self.config.liveness_timeout:
                return
            if client.current_session is None or client.current_session.closed:
                # the SDK is (re)connecting; give it the timeout, then rebuild everything
                if self._down_since is None:
                    self._down_since = time.time()
                elif time.time() - self._down_since > self.config.liveness_timeout:
                    self._down_since = None
                    return
            else:
                self._down_since = None

    def _route_http(self, app: Any, live: Live) -> None:
        from aiohttp import web
        from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request

        if live.http is None:
            raise SourceError("http mode needs [http] listen")

        async def events(request: Any) -> Any:
            if self._channels is None:  # still starting: Slack sends it again shortly
                return web.json_response({"error": "starting"}, status=503)
            return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

        live.http.route("POST", self.config.events_path, events, replace=True)

    # -- reconciliation -----------------------------------------------------------------------

    def _reconcile_needed(self) -> bool:
        interval = self.config.reconcile_interval
        return self._reconcile_due or (interval > 0 and time.time() - self._last_reconcile >= interval)

    async def reconcile(self, sink: Sink) -> int:
        """Read each channel's history since its cursor; returns how many messages were new."""
        assembler = self._assembler_for(sink)
        self._reconcile_due = False
        started = time.time()
        try:
            channels = await self._resolve_channels()
            cursor = dict(sink.cursor or {})
            synced: dict[str, str] = dict(cursor.get("synced") or {})
            recovered = 0
            for channel in sorted(channels):
                if sink.closing:
                    break
                if channel not in synced:  # first sight of a channel: from now on, no backfill
                    synced[channel] = f"{started:.6f}"
                    sink.advance({**cursor, "synced": synced})
                    continue
                new, newest = await self._read_channel(assembler, channel, synced[channel])
                recovered += new
                synced[channel] = _ts_max(newest, f"{started - 60:.6f}")
                sink.advance({**cursor, "synced": synced})
        except BaseException:
            self._reconcile_due = True
            raise
        self._last_reconcile = started
        if recovered:
            log.warning("%s: %d message(s) recovered from history (missed as events)", self.name, recovered)
        return recovered

    async def _read_channel(self, assembler: Assembler, channel: str, oldest: str) -> tuple[int, str]:
        messages: dict[str, dict[str, Any]] = {}
        # replies to messages from before ``oldest`` do not show in history: ask for the replies of
        # threads active in the last day, and of messages from the last max_span (a first reply)
        roots = assembler.thread_roots(channel, float(oldest) - THREAD_WATCH, float(oldest) - self.config.max_span)
        threads = {key.split(":", 1)[1] for key in roots}
        try:
            async for message in self._history("conversations_history", channel=channel, oldest=oldest):
                messages[message["ts"]] = message
                if message.get("latest_reply") and Decimal(message["latest_reply"]) > Decimal(oldest):
                    threads.add(message["ts"])
            for root in sorted(threads):
                async for message in self._history("conversations_replies", channel=channel, ts=root, oldest=oldest):
                    # the thread's first message comes with every page; it counts only if it is new
                    if message["ts"] != root or Decimal(root) > Decimal(oldest):
                        messages.setdefault(message["ts"], message)
        except SlackApiError as exc:
            if _api_error(exc) in ("not_in_channel", "channel_not_found", "thread_not_found"):
                log.warning("%s: cannot read #%s: %s", self.name, self.names.channel(channel), _api_error(exc))
                return 0, oldest
            raise
        await self._know_apps(list(messages.values()))
        items = []
        newest = oldest
        for ts in sorted(messages, key=Decimal):  # in time order, as live delivery would have placed them
            newest = _ts_max(newest, ts)
            item = message_item(channel, messages[ts], include_bots=self.config.include_bots,
                                include_joins=self.config.include_joins, bot_users=self.names.bots)
            if item is not None:
                items.append(item)
        # days an outage covered that are over go by day: a missed day costs a conversation per
        # channel, not one per burst; today's messages join bursts as live ones do
        now, tz = time.time(), assembler.policy.tz
        over: list[Item] = []
        today: list[Item] = []
        for item in items:
            (over if day_end(item.at, tz) <= now else today).append(item)
        return assembler.add_many(over, by_day=True) + assembler.add_many(today), newest

    async def _history(self, method: str, **args: Any) -> Any:
        """Messages of conversations.history/replies, page by page, paced."""
        async for message in self._pages(method, "messages", self.config.history_page_size, paced=True, **args):
            problem = record_problem(message)
            if problem is None:
                yield message
            else:
                log.warning("%s: skipped a message in history (%s): %s", self.name, args.get("channel"), problem)

    async def _pages(self, method: str, key: str, limit: int, *, paced: bool = False, **args: Any) -> Any:
        """The ``key`` entries of every page of a cursor-paginated Web API method."""
        page_cursor = None
        while True:
            if paced:
                await self._pace()
            answer = await getattr(self.client, method)(limit=limit, cursor=page_cursor, **args)
            for entry in answer.get(key) or []:
                yield entry
            page_cursor = (answer.get("response_metadata") or {}).get("next_cursor")
            if not page_cursor:
                return

    async def _pace(self) -> None:
        """At most ``history_requests_per_minute`` history/replies calls."""
        async with self._pace_lock:
            gap = 60.0 / self.config.history_requests_per_minute
            wait = self._last_call + gap - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_call = time.monotonic()

    async def _resolve_channels(self) -> set[str]:
        if self._channels is not None:
            return self._channels
        wanted = self.config.channels
        found: set[str] = set()
        if not wanted:
            async for channel in self._pages("users_conversations", "channels", 200, types=_CHANNEL_TYPES):
                found.add(channel["id"])
                self.names.channels[channel["id"]] = channel.get("name") or channel["id"]
        else:
            ids = {c for c in wanted if _CHANNEL_ID.match(c)}
            names = {c.lstrip("#") for c in wanted if c not in ids}
            found |= ids
            if names:
                async for channel in self._pages("conversations_list", "channels", 200, types=_CHANNEL_TYPES,
                                                 exclude_archived=True):
                    self.names.channels[channel["id"]] = channel.get("name") or channel["id"]
                    if channel.get("name") in names:
                        found.add(channel["id"])
                        names.discard(channel["name"])
            if names:
                missing = ", ".join("#" + n for n in sorted(names))
                raise SourceError(f"no such channel (or the bot cannot see it): {missing}")
        self._channels = found
        return found

    # -- closing groups -----------------------------------------------------------------------

    async def _render(self, group: Group) -> Any:
        if not group.items:
            return None
        assembler = self._assembler
        assert assembler is not None
        roots = assembler.roots(group)
        shown = [*group.items, *roots.values()]
        users = {i.author for i in shown if i.author and not i.data.get("name")}
        for item in shown:
            users |= mentioned_users(item.text)
        await self.names.load_users(users)
        await self.names.load_channel(group.scope)
        return render_group(group, place=f"#{self.names.channel(group.scope)}", user_name=self.names.user,
                            channel_name=self.names.channel, tz=self.tz, roots=roots)

    def _assembler_for(self, sink: Sink) -> Assembler:
        if self._assembler is None or sink.dry_run:
            self._assembler = sink.assembler(self.config.policy)
        return self._assembler

    def _source_error(self, exc: SlackApiError) -> SourceError:
        error = _api_error(exc)
        if error in _AUTH_ERRORS:
            return SourceAuthError(f"Slack refused the token: {error}")
        return SourceError(f"Slack API: {error}")
