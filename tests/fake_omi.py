"""A fake Omi API on loopback: real HTTP, requests checked against the OpenAPI contract.

It checks what the bridge sends against ``tests/contract/omi-openapi.yaml`` (a copy of Omi's
published schema, not the project's own models) plus the rules the real server enforces
(FACTS: text not blank, finished_at not before started_at), and records every departure in
``violations``. Faults can be scripted per POST or drawn at random:

    "500" "502" "503" "504"   answer that status (nothing created); "400" "422" likewise
    "500-after"               CREATE the conversation, then answer 500 (the work was done)
    "429:N"                   answer 429 with Retry-After: N (and X-RateLimit-Limit only when a
                              quota is set: an injected pause that states no limit is learned as none)
    "drop"                    take the body, CREATE the conversation, close without answering
    "drop-before"             take the body, create nothing, close without answering
    "slow:S"                  wait S seconds before answering

It behaves like Omi's backend as ``shared/omi-api/FACTS.md`` describes it, not like the bridge
expects:
- a conversation's ``created_at`` is the posted ``started_at`` (``clock="server"``: the older
  behaviour, the server's clock), and the list filters on ``created_at``, newest first, 1..100 a
  page with offset paging, completed and non-discarded only, without text;
- ``quota=(n, seconds)`` (writes) and ``read_quota`` (list and get-by-id) are fixed windows per
  key, opened by the first request after the last window expired; rejected calls count too.
  A 429 carries ``Retry-After`` (whole seconds left in the window), ``X-RateLimit-Limit`` and
  ``X-RateLimit-Remaining: 0``; successful answers carry no rate-limit headers.

Every request's arrival is recorded (``arrivals``), and every 429 with the moment its answer
had been written and the end of its Retry-After (``pauses``). A request arriving inside a pause
it gave is a violation.
"""

from __future__ import annotations

import contextlib
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
# The arrival of a request is stamped by its handler thread, which may run a moment after the
# bytes came in; a request within this margin of a 429's answer may have left before it arrived.
PAUSE_MARGIN = 0.005


def _request_validator() -> tuple[Draft202012Validator, set[str]]:
    spec = yaml.safe_load(CONTRACT.read_text())
    schema = {"$ref": "#/components/schemas/CreateConversationRequest", "components": spec["components"]}
    fields = set(spec["components"]["schemas"]["CreateConversationRequest"]["properties"])
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER), fields


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _parse_date(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class FakeOmi:
    def __init__(self, keys: dict[str, list[str]] | None = None, seed: int = 1, clock: str = "started_at") -> None:
        assert clock in ("started_at", "server")
        self.keys = keys if keys is not None else {"test-key": [READ, WRITE]}
        self.clock = clock
        self.lock = threading.Lock()
        self.conversations: list[dict] = []
        self.requests: list[tuple[float, str, str, int]] = []  # (time answered, method, path, status)
        self.arrivals: list[tuple[float, str, str]] = []  # (time the request was read, method, path)
        self.pauses: list[tuple[float, float]] = []  # (429 answer written, its Retry-After ends)
        self.arrived = 0  # POSTs whose body was read, answered or not
        self.inside = 0  # POSTs being worked on now
        self.most_inside = 0  # the most at once
        self.violations: list[str] = []
        self.script: deque[str] = deque()
        self.fault_rates: dict[str, float] = {}
        self.quota: tuple[int, float] | None = None  # writes per window, per key
        self.read_quota: tuple[int, float] | None = None  # list and get-by-id calls per window, per key
        self.latency = 0.0
        self.discard = lambda text: False
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}
        self.windows: list[tuple[str, float]] = []  # (kind, when) each limiter window opened
        self._rng = random.Random(seed)
        self._validator, self._fields = _request_validator()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        fake = self

        class Handler(_Handler):
            omi = fake

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
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

    def lists(self) -> list[float]:
        """When each list call arrived."""
        with self.lock:
            return [t for t, m, p in self.arrivals if m == "GET" and p == "/v1/dev/user/conversations"]

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

    def _over(self, key: str, kind: str, quota: tuple[int, float] | None, now: float) -> tuple[float, int] | None:
        """Count a request in the key's fixed window (Redis INCR + EXPIRE on the first hit);
        the window's end and limit when it is over the limit."""
        if quota is None:
            return None
        limit, seconds = quota
        start, count = self._windows.get((key, kind), (0.0, 0))
        if now >= start + seconds:
            start, count = now, 0
            self.windows.append((kind, now))
        count += 1
        self._windows[(key, kind)] = (start, count)
        return (start + seconds, limit) if count > limit else None


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

    def _arrive(self) -> float:
        now = time.time()
        with self.omi.lock:
            self.omi.arrivals.append((now, self.command, urlsplit(self.path).path))
        return now

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
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _gate(self, scope: str | None) -> tuple[str, list[str]] | None:
        """The key and its scopes, or None after answering 401/403 (Omi checks the key before
        its limiter counts the call)."""
        auth = self.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ")
        scopes = self.omi.keys.get(key) if auth.startswith("Bearer ") else None
        if scopes is None:
            self._send(401, {"detail": "Invalid API Key"})
            return None
        if scope is not None and scope not in scopes:
            self._send(403, {"detail": f"API key lacks the {scope} scope"})
            return None
        return key, scopes

    def _limited(self, key: str, kind: str, quota: tuple[int, float] | None) -> bool:
        """Count the call in the key's window; answer 429 and return True when it is over."""
        with self.omi.lock:
            over = self.omi._over(key, kind, quota, time.time())
        if over is None:
            return False
        self._rate_limited(*over)
        return True

    def _rate_limited(self, retry_at: float, limit: int | None) -> None:
        # whole seconds, rounded like Redis' TTL: the window may last up to half a second longer
        wait = max(1, round(retry_at - time.time()))
        headers = {"Retry-After": str(wait), "X-RateLimit-Remaining": "0"}
        if limit is not None:
            headers["X-RateLimit-Limit"] = str(limit)
        self._send(429, {"detail": f"Rate limit exceeded. Try again in {wait}s."}, headers)
        sent = time.time()
        with self.omi.lock:
            self.omi.pauses.append((sent, sent + wait))

    def _check_pause(self, arrived: float) -> None:
        with self.omi.lock:
            for sent, until in self.omi.pauses:
                if sent + PAUSE_MARGIN < arrived < until:
                    self.omi.violations.append(
                        f"{self.command} {self.path} arrived {arrived - sent:.3f}s after a 429 whose"
                        f" Retry-After ran {until - sent:.0f}s")

    # -- endpoints ----------------------------------------------------------------------

    def do_POST(self) -> None:
        with self.omi.lock:
            self.omi.inside += 1
            self.omi.most_inside = max(self.omi.most_inside, self.omi.inside)
        try:
            self._post()
        finally:
            with self.omi.lock:
                self.omi.inside -= 1

    def _post(self) -> None:
        arrived = self._arrive()
        self._check_pause(arrived)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with self.omi.lock:
            self.omi.arrived += 1
        if len(raw) < length:
            # the client died mid-body (kill -9): the server sees a disconnect and never runs the
            # handler, so nothing is created and nothing is answered
            self.close_connection = True
            return
        if urlsplit(self.path).path != "/v1/dev/user/conversations":
            self._send(404, {"detail": "Not Found"})
            return
        gate = self._gate(WRITE)
        if gate is None:
            return
        omi = self.omi
        if self._limited(gate[0], "write", omi.quota):
            return
        with omi.lock:
            fault = omi._next_fault()
        if fault.startswith("429:"):  # the limiter answers before any work is done
            self._rate_limited(time.time() + float(fault.split(":")[1]), omi.quota[0] if omi.quota else None)
            return
        if omi.latency:
            time.sleep(omi.latency)
        if fault.startswith("slow:"):
            time.sleep(float(fault.split(":")[1]))
        if fault in ("400", "422", "500", "502", "503", "504"):
            self._send(int(fault), {"detail": f"injected {fault}"})
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
            # Omi keeps an external integration's own time (FACTS: created_at = started_at)
            "created_at": started.timestamp() if omi.clock == "started_at" else time.time(),
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
        if fault == "500-after":
            self._send(500, {"detail": "Internal Server Error"})
            return
        self._send(200, {"id": conversation["id"], "status": "completed", "discarded": conversation["discarded"]})

    def _validate(self, raw: bytes) -> tuple[list[str], dict]:
        if "application/json" not in self.headers.get("Content-Type", ""):
            return ["Content-Type is not application/json"], {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return [f"body is not JSON: {exc}"], {}
        problems = [f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}"
                    for e in self.omi._validator.iter_errors(body)]
        if problems or not isinstance(body, dict):
            return problems or ["body is not an object"], {}
        problems += [f"{key}: not a contract field" for key in set(body) - self.omi._fields]
        if not body["text"].strip():
            problems.append("text cannot be empty")
        if (body.get("started_at") and body.get("finished_at")
                and datetime.fromisoformat(body["finished_at"]) < datetime.fromisoformat(body["started_at"])):
            problems.append("finished_at must be after started_at")
        return problems, body

    def do_GET(self) -> None:
        arrived = self._arrive()
        self._check_pause(arrived)
        url = urlsplit(self.path)
        if url.path == "/v1/dev/key":
            gate = self._gate(None)  # no data scope needed to read the key's own metadata
            if gate is not None:
                self._send(200, {"id": "key-1", "name": "test", "key_prefix": "omi_dev_", "scopes": gate[1],
                                 "created_at": _iso(datetime.now(UTC)), "last_used_at": None})
            return
        if url.path != "/v1/dev/user/conversations":
            self._send(404, {"detail": "Not Found"})
            return
        gate = self._gate(READ)
        if gate is None or self._limited(gate[0], "read", self.omi.read_quota):
            return
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            limit = int(query.get("limit", 25))
            offset = int(query.get("offset", 0))
            start = _parse_date(query["start_date"]) if "start_date" in query else -math.inf
            end = _parse_date(query["end_date"]) if "end_date" in query else math.inf
        except ValueError as exc:
            self._send(422, {"detail": str(exc)})
            return
        if not 1 <= limit <= 100 or offset < 0:
            self._send(422, {"detail": "limit must be 1..100 and offset at least 0"})
            return
        with self.omi.lock:
            # like the real list: completed, non-discarded, filtered on created_at, newest first, no text
            found = [c for c in self.omi.conversations if not c["discarded"] and start <= c["created_at"] <= end]
        found.reverse()  # stable sort: of equal created_at, the newest stored first
        found.sort(key=lambda c: c["created_at"], reverse=True)
        page = [
            {
                "id": c["id"],
                "created_at": _iso(datetime.fromtimestamp(c["created_at"], UTC)),
                "started_at": _iso(c["started_at"]),
                "finished_at": _iso(c["finished_at"]),
                "source": "external_integration",
                "status": "completed",
                "discarded": False,
                "structured": {"title": "fake", "overview": "", "category": "other"},
            }
            for c in found[offset : offset + limit]
        ]
        self._send(200, page)
