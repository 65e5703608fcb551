"""A fake Omi API on loopback: real HTTP, requests checked against the OpenAPI contract.

It checks what the bridge sends against ``tests/contract/omi-openapi.yaml`` (a copy of Omi's
published schema, not the project's own models) plus the rules the real server enforces
(FACTS: text not blank, finished_at not before started_at), and records every departure in
``violations``. Faults can be scripted per POST or drawn at random:

    "500" "502" "503" "504"   answer that status (nothing created); "400" "422" likewise
    "429:N"                   answer 429 with Retry-After: N
    "drop"                    take the body, CREATE the conversation, close without answering
    "drop-before"             take the body, create nothing, close without answering
    "slow:S"                  wait S seconds before answering

``quota=(n, seconds)`` answers 429 to the (n+1)th write in a window, like the real limiter.
Any request arriving while a Retry-After it gave is still running is a violation.
"""

from __future__ import annotations

import json
import math
import random
import socket
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml
from jsonschema import Draft202012Validator

CONTRACT = Path(__file__).parent / "contract" / "omi-openapi.yaml"
WRITE, READ = "conversations:write", "conversations:read"
PAUSE_MARGIN = 0.3  # a request already on its way when the 429 left is not the client's fault


def _request_validator() -> tuple[Draft202012Validator, set[str]]:
    spec = yaml.safe_load(CONTRACT.read_text())
    schema = {"$ref": "#/components/schemas/CreateConversationRequest", "components": spec["components"]}
    fields = set(spec["components"]["schemas"]["CreateConversationRequest"]["properties"])
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER), fields


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class FakeOmi:
    def __init__(self, keys: dict[str, list[str]] | None = None, seed: int = 1) -> None:
        self.keys = keys if keys is not None else {"test-key": [READ, WRITE]}
        self.lock = threading.Lock()
        self.conversations: list[dict] = []
        self.requests: list[tuple[float, str, str, int]] = []  # (time answered, method, path, status)
        self.arrived = 0  # POSTs whose body was read, answered or not
        self.violations: list[str] = []
        self.script: deque[str] = deque()
        self.fault_rates: dict[str, float] = {}
        self.quota: tuple[int, float] | None = None
        self.latency = 0.0
        self.discard = lambda text: False
        self.blocked_until = 0.0
        self.paused_at = 0.0
        self._window: tuple[float, int] = (0.0, 0)
        self._rng = random.Random(seed)
        self._validator, self._fields = _request_validator()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            omi = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeOmi:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read ----------------------------------------------------------------

    def texts(self) -> list[str]:
        with self.lock:
            return [c["text"] for c in self.conversations]

    def posts(self) -> list[tuple[float, int]]:
        with self.lock:
            return [(t, s) for t, m, p, s in self.requests if m == "POST"]

    # -- decisions, under the lock ------------------------------------------------------

    def _next_fault(self) -> str:
        if self.script:
            return self.script.popleft()
        roll = self._rng.random()
        for fault, rate in self.fault_rates.items():
            if roll < rate:
                return fault
            roll -= rate
        return "ok"

    def _over_quota(self, now: float) -> float | None:
        if self.quota is None:
            return None
        limit, seconds = self.quota
        start, count = self._window
        if now >= start + seconds:
            start, count = now, 0
        count += 1
        self._window = (start, count)
        return start + seconds if count > limit else None


class _Handler(BaseHTTPRequestHandler):
    omi: FakeOmi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle + delayed ACK hold the body
        # back ~40 ms, and a 429 would reach the client after requests it had no reason to stop
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing -----------------------------------------------------------------------

    def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up waiting (timeout, shutdown): the work is done anyway
            self.close_connection = True
        self._record(status)

    def _record(self, status: int) -> None:
        with self.omi.lock:
            self.omi.requests.append((time.time(), self.command, urlsplit(self.path).path, status))

    def _drop(self) -> None:
        self._record(0)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _gate(self, scope: str | None) -> list[str] | None:
        """Checks every request must pass: pause respected, key known, scope granted.
        Returns the key's scopes, or None after answering 401/403."""
        omi = self.omi
        now = time.time()
        with omi.lock:
            if omi.paused_at + PAUSE_MARGIN < now < omi.blocked_until:
                omi.violations.append(f"{self.command} {self.path} {omi.blocked_until - now:.2f}s inside Retry-After")
        auth = self.headers.get("Authorization", "")
        scopes = omi.keys.get(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        if scopes is None:
            self._send(401, {"detail": "Invalid API Key"})
            return None
        if scope is not None and scope not in scopes:
            self._send(403, {"detail": f"API key lacks the {scope} scope"})
            return None
        return scopes

    def _rate_limited(self, retry_at: float) -> None:
        wait = max(1, math.ceil(retry_at - time.time()))
        with self.omi.lock:
            if time.time() + wait > self.omi.blocked_until:
                self.omi.paused_at = time.time()
                self.omi.blocked_until = time.time() + wait
        self._send(429, {"detail": f"Rate limit exceeded. Try again in {wait}s."},
                   {"Retry-After": str(wait), "X-RateLimit-Limit": "25", "X-RateLimit-Remaining": "0"})

    # -- endpoints ----------------------------------------------------------------------

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with self.omi.lock:
            self.omi.arrived += 1
        if urlsplit(self.path).path != "/v1/dev/user/conversations":
            self._send(404, {"detail": "Not Found"})
            return
        if self._gate(WRITE) is None:
            return
        omi = self.omi
        with omi.lock:
            fault = omi._next_fault()
            quota_until = omi._over_quota(time.time())
        if quota_until is not None:
            self._rate_limited(quota_until)
            return
        if omi.latency:
            time.sleep(omi.latency)
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":")[1]))
        if fault in ("400", "422", "500", "502", "503", "504"):
            self._send(int(fault), {"detail": f"injected {fault}"})
            return
        if fault.startswith("429:"):
            self._rate_limited(time.time() + float(fault.split(":")[1]))
            return
        if fault == "drop-before":
            self._drop()
            return

        problems, body = self._validate(raw)
        if problems:
            with omi.lock:
                omi.violations.extend(problems)
            self._send(422, {"detail": [{"loc": ["body"], "msg": p, "type": "value_error"} for p in problems]})
            return
        started = datetime.fromisoformat(body.get("started_at") or _iso(datetime.now(UTC)))
        finished = datetime.fromisoformat(body["finished_at"]) if body.get("finished_at") else started
        conversation = {
            "id": uuid.uuid4().hex,
            "created_at": time.time(),
            "started_at": started,
            "finished_at": finished,
            "text": body["text"].strip(),
            "body": body,
            "discarded": bool(omi.discard(body["text"])),
        }
        with omi.lock:
            omi.conversations.append(conversation)
        if fault == "drop":
            self._drop()
            return
        self._send(200, {"id": conversation["id"], "status": "completed", "discarded": conversation["discarded"]})

    def _validate(self, raw: bytes) -> tuple[list[str], dict]:
        if "application/json" not in self.headers.get("Content-Type", ""):
            return ["Content-Type is not application/json"], {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return [f"body is not JSON: {exc}"], {}
        problems = [f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}" for e in self.omi._validator.iter_errors(body)]
        if problems or not isinstance(body, dict):
            return problems or ["body is not an object"], {}
        problems += [f"{key}: not a contract field" for key in set(body) - self.omi._fields]
        if not body["text"].strip():
            problems.append("text cannot be empty")
        if body.get("started_at") and body.get("finished_at"):
            if datetime.fromisoformat(body["finished_at"]) < datetime.fromisoformat(body["started_at"]):
                problems.append("finished_at must be after started_at")
        return problems, body

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/dev/key":
            scopes = self._gate(None)  # no data scope needed to read the key's own metadata
            if scopes is not None:
                self._send(200, {"id": "key-1", "name": "test", "key_prefix": "omi_dev_", "scopes": scopes,
                                 "created_at": _iso(datetime.now(UTC)), "last_used_at": None})
            return
        if url.path != "/v1/dev/user/conversations":
            self._send(404, {"detail": "Not Found"})
            return
        if self._gate(READ) is None:
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            limit = int(query.get("limit", 25))
            offset = int(query.get("offset", 0))
            start = datetime.fromisoformat(query["start_date"]).timestamp() if "start_date" in query else 0
            end = datetime.fromisoformat(query["end_date"]).timestamp() if "end_date" in query else math.inf
        except ValueError as exc:
            self._send(422, {"detail": str(exc)})
            return
        if limit > 100:
            self._send(422, {"detail": "limit must be at most 100"})
            return
        with self.omi.lock:
            # like the real list: completed, non-discarded, filtered on created_at, newest first, no text
            found = [c for c in self.omi.conversations if not c["discarded"] and start <= c["created_at"] <= end]
        found.sort(key=lambda c: c["created_at"], reverse=True)
        page = [
            {
                "id": c["id"],
                "created_at": _iso(datetime.fromtimestamp(c["created_at"], UTC)),
                "started_at": _iso(c["started_at"]),
                "finished_at": _iso(c["finished_at"]),
                "status": "completed",
                "discarded": False,
                "structured": {"title": "fake", "overview": "", "category": "other"},
            }
            for c in found[offset : offset + limit]
        ]
        self._send(200, page)
