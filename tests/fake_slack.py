"""A local Slack for tests: the Web API methods the connector calls, and a Socket Mode websocket.

One aiohttp server on loopback, in its own thread and event loop. ``apps.connections.open``
answers with this server's ``/link`` websocket, so the real slack-bolt app (Socket Mode client
included) runs against it unchanged. Tests post messages (``say``), which land in the channel's
history and, unless the test says otherwise, are pushed as Events API envelopes over the socket;
the fake records which envelopes were acknowledged. It can answer 429 with Retry-After, and
``freeze()`` makes the open socket go deaf: no pongs, no events (a connection that looks alive).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import defaultdict
from typing import Any

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"
SIGNING_SECRET = "test-signing-secret"
BOT_USER = "UBOT"

USERS = {
    "U1ALICE": {"id": "U1ALICE", "name": "alice", "profile": {"display_name": "Alice", "real_name": "Alice A."}},
    "U2BOB": {"id": "U2BOB", "name": "bob", "profile": {"display_name": "", "real_name": "Bob Builder"}},
    "U3CAROL": {"id": "U3CAROL", "name": "carol", "profile": {"display_name": "carol.c", "real_name": "Carol"}},
}
CHANNELS = {
    "C0GENERAL1": {"id": "C0GENERAL1", "name": "general", "is_member": True},
    "C0RANDOM22": {"id": "C0RANDOM22", "name": "random", "is_member": True},
    "C0SECRET33": {"id": "C0SECRET33", "name": "secret", "is_member": False},
}


class FakeSlack:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.history: dict[str, list[dict[str, Any]]] = defaultdict(list)  # channel -> messages, oldest first
        self.calls: list[tuple[float, str, dict[str, Any], int]] = []  # (time, method, params, status)
        self.rate_limits: dict[str, list[float]] = defaultdict(list)  # method -> Retry-After of next 429s
        self.acked: set[str] = set()
        self.payloads: dict[str, dict[str, Any]] = {}  # event_id -> the Events API payload sent
        self.connections = 0
        self.frozen = False
        self._last_us = 0
        self._envelopes = itertools.count(1)
        self._socket: web.WebSocketResponse | None = None
        self._ack_waiters: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeSlack:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=run, daemon=True, name="fake slack").start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._run(self._stop())
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._loop.stop)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link", self._link)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _run(self, coro: Any, timeout: float = 15) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- what tests do --------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A fresh message ts: now, in microseconds, and later than every ts before (unique)."""
        with self.lock:
            self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
            us = self._last_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def say(self, channel: str, user: str, text: str, *, thread_ts: str | None = None, deliver: bool = True,
            ts: str | None = None, **extra: Any) -> tuple[str, str]:
        """A message in a channel: into history, and pushed as an event unless ``deliver=False``.
        Returns (ts, event_id)."""
        ts = ts or self.next_ts()
        message = {"type": "message", "user": user, "text": text, "ts": ts, **extra}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self.lock:
            self.history[channel].append(message)
            self.history[channel].sort(key=lambda m: float(m["ts"]))
            if thread_ts:
                for parent in self.history[channel]:
                    if parent["ts"] == thread_ts:
                        parent["thread_ts"] = thread_ts
                        parent["reply_count"] = parent.get("reply_count", 0) + 1
                        parent["latest_reply"] = ts
        event_id = f"Ev{ts.replace('.', '')}"
        if deliver:
            self.deliver(self.event_payload({**message, "channel": channel, "channel_type": "channel",
                                             "event_ts": ts}, event_id))
        return ts, event_id

    def edit(self, channel: str, ts: str, text: str, *, deliver: bool = True) -> str:
        with self.lock:
            message = next(m for m in self.history[channel] if m["ts"] == ts)
            previous = dict(message)
            message["text"] = text
            message["edited"] = {"user": message["user"], "ts": self.next_ts()}
            current = dict(message)
        event_ts = self.next_ts()
        event_id = f"Ev{event_ts.replace('.', '')}"
        if deliver:
            self.deliver(self.event_payload({
                "type": "message", "subtype": "message_changed", "channel": channel, "channel_type": "channel",
                "hidden": True, "ts": event_ts, "event_ts": event_ts, "message": current,
                "previous_message": previous,
            }, event_id))
        return event_id

    def event_payload(self, event: dict[str, Any], event_id: str) -> dict[str, Any]:
        self.payloads[event_id] = payload = {
            "token": "verification-token", "team_id": "T1TEAM", "api_app_id": "A1APP", "type": "event_callback",
            "event": event, "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": "T1TEAM", "user_id": BOT_USER, "is_bot": True}],
        }
        return payload

    def deliver(self, payload: dict[str, Any], retry_attempt: int = 0, wait: float = 10) -> bool:
        """Push an Events API envelope over the socket; True once the client acknowledged it."""
        return self._run(self._deliver(payload, retry_attempt, wait), timeout=wait + 5)

    def freeze(self) -> None:
        """The open socket stays open but answers no ping and carries no event."""
        self.frozen = True

    def signed_request(self, payload: dict[str, Any], *, secret: str = SIGNING_SECRET, age: float = 0,
                       retry_num: int | None = None) -> tuple[bytes, dict[str, str]]:
        """Body and headers of an Events API POST as Slack signs it (http mode)."""
        body = json.dumps(payload).encode()
        timestamp = str(int(time.time() - age))
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body.decode())
        headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
                   "X-Slack-Signature": signature}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = "http_timeout"
        return body, headers

    def calls_of(self, method: str) -> list[tuple[float, dict[str, Any], int]]:
        with self.lock:
            return [(t, p, s) for t, m, p, s in self.calls if m == method]

    # -- socket mode ----------------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        self._socket = ws
        self.frozen = False
        self.connections += 1
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A1APP"}, "debug_info": {}}))
        async for message in ws:
            if self.frozen and self._socket is ws:
                continue  # deaf: no pong, no ack taken
            if message.type == WSMsgType.PING:
                await ws.pong(message.data)
            elif message.type == WSMsgType.TEXT:
                envelope_id = json.loads(message.data).get("envelope_id")
                if envelope_id:
                    self.acked.add(envelope_id)
                    if envelope_id in self._ack_waiters:
                        self._ack_waiters[envelope_id].set()
        if self._socket is ws:
            self._socket = None
        return ws

    async def _deliver(self, payload: dict[str, Any], retry_attempt: int, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while (self._socket is None or self.frozen) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self._socket is None or self.frozen:
            return False
        envelope_id = f"env-{next(self._envelopes)}"
        acked = self._ack_waiters[envelope_id] = asyncio.Event()
        await self._socket.send_str(json.dumps({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": retry_attempt, "retry_reason": "timeout" if retry_attempt else "", "payload": payload,
        }))
        try:
            await asyncio.wait_for(acked.wait(), max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            return False
        return True

    # -- Web API --------------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.method == "GET":
            pass
        elif request.content_type == "application/json":
            params.update(await request.json())
        else:
            params.update(await request.post())
        token = request.headers.get("Authorization", "").removeprefix("Bearer ") or params.get("token", "")
        status, answer, headers = self._answer(method, params, token)
        with self.lock:
            self.calls.append((time.time(), method, params, status))
        return web.json_response(answer, status=status, headers=headers)

    def _answer(self, method: str, params: dict[str, Any], token: str) -> tuple[int, dict, dict]:
        with self.lock:
            if self.rate_limits[method]:
                retry_after = self.rate_limits[method].pop(0)
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(int(retry_after))}
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(params), {}

    def _m_auth_test(self, params: dict) -> dict:
        return {"ok": True, "url": "https://test.slack.com/", "team": "Test Team", "user": "omibot",
                "team_id": "T1TEAM", "user_id": BOT_USER, "bot_id": "B1BOT", "is_enterprise_install": False}

    def _m_apps_connections_open(self, params: dict) -> dict:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"}

    def _m_users_info(self, params: dict) -> dict:
        user = USERS.get(params.get("user", ""))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_conversations_info(self, params: dict) -> dict:
        channel = CHANNELS.get(params.get("channel", ""))
        return {"ok": True, "channel": channel} if channel else {"ok": False, "error": "channel_not_found"}

    def _m_conversations_list(self, params: dict) -> dict:
        return self._page(list(CHANNELS.values()), params, "channels")

    def _m_users_conversations(self, params: dict) -> dict:
        return self._page([c for c in CHANNELS.values() if c["is_member"]], params, "channels")

    def _m_conversations_history(self, params: dict) -> dict:
        channel = params.get("channel", "")
        if channel not in CHANNELS:
            return {"ok": False, "error": "channel_not_found"}
        oldest = float(params.get("oldest") or 0)
        with self.lock:
            found = [dict(m) for m in self.history[channel]
                     if float(m["ts"]) > oldest and m.get("thread_ts", m["ts"]) == m["ts"]]
        return self._page(found[::-1], params, "messages")  # newest first, like Slack

    def _m_conversations_replies(self, params: dict) -> dict:
        channel, root = params.get("channel", ""), params.get("ts", "")
        oldest = float(params.get("oldest") or 0)
        with self.lock:
            thread = [dict(m) for m in self.history[channel] if m.get("thread_ts") == root or m["ts"] == root]
        if not any(m["ts"] == root for m in thread):
            return {"ok": False, "error": "thread_not_found"}
        parent = [m for m in thread if m["ts"] == root]
        replies = [m for m in thread if m["ts"] != root and float(m["ts"]) > oldest]
        return self._page(parent + replies, params, "messages")

    def _page(self, items: list[dict], params: dict, key: str) -> dict:
        start = int(params.get("cursor") or 0)
        limit = int(params.get("limit") or 100)
        page = items[start:start + limit]
        more = start + limit < len(items)
        return {"ok": True, key: page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}
