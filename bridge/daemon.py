"""Wiring: the store, the connectors, the dispatcher and the scheduler in one event loop.

Polls are triggered by APScheduler (3.x, AsyncIOScheduler), one job per connector. A plain
``poll`` runs in a worker thread so a slow source never blocks sending; a coroutine ``poll``
runs on the loop. One source failing never stops the others: each poll is caught on its own,
and a source's health is logged only when it changes (failing, recovered).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import inspect
import logging
import os
import signal
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bridge.config import Config
from bridge.connector import Connector, Sink
from bridge.dispatcher import Dispatcher, DrainResult
from bridge.errors import BridgeError, StateBusy
from bridge.health import omi_state
from bridge.http import Listener
from bridge.metrics import CONTENT_TYPE, Metrics
from bridge.omi import OmiClient
from bridge.registry import load_connector_type
from bridge.status import backlog, summary
from bridge.store import Store
from bridge.systemd import Notifier
from bridge.tokens import TokenFile, tokens_dir

__all__ = ["Bridge", "StateLock", "build_connector", "build_connectors", "call", "one_line"]

log = logging.getLogger(__name__)

ONCE_HORIZON = 60.0  # --once waits for rows due within this many seconds, and no longer


def one_line(exc: BaseException) -> str:
    """An exception in one line: ours by their message, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, BridgeError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def call(function: Any, *args: Any) -> Any:
    """Run a connector method: a coroutine on the loop, a plain function in a worker thread."""
    if inspect.iscoroutinefunction(function):
        return await function(*args)
    return await asyncio.to_thread(function, *args)


def build_connectors(config: Config) -> dict[str, Connector]:
    return {name: build_connector(config, name) for name in config.connectors}


def build_connector(config: Config, name: str) -> Connector:
    cfg = config.connectors[name]
    connector = load_connector_type(cfg.type)(name, cfg)
    if hasattr(connector, "tokens"):  # it signs in (omi-bridge login): its tokens live by the state
        connector.tokens = TokenFile(tokens_dir(config.state_path) / f"{name}.json")
    return connector


class StateLock:
    """One process per state file: a second ``run`` on the same database refuses to start."""

    def __init__(self, state_path: Path) -> None:
        self.path = Path(f"{state_path}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        if not self.path.parent.is_dir():  # a typo in [state] path must not create folders
            raise StateBusy(f"the state folder {self.path.parent} does not exist (check [state] path)")
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:  # not ours to write (owner, mode, a read-only disk): say so in a line
            raise StateBusy(f"cannot write in the state folder {self.path.parent}: {exc.strerror or exc}"
                            f" (the lock {self.path.name}; check [state] path and who owns the folder)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StateBusy(f"another omi-bridge is running on {self.path.with_suffix('')}") from None
        self._fd = fd

    def held_elsewhere(self) -> bool:
        """True if a running daemon holds the state file (for status: rows in flight are real)."""
        if not self.path.exists():
            return False
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _Live:
    """What a connector's ``serve`` gets: a way to ask for a poll, and the HTTP listener."""

    def __init__(self, bridge: Bridge, name: str) -> None:
        self._bridge = bridge
        self._name = name
        self.http = bridge.listener

    def request_poll(self) -> None:
        self._bridge.request_poll(self._name)


SERVE_RETRY_MAX = 300.0  # seconds between restarts of a push connector that keeps failing
DEADLINE_SLACK = 0.05  # seconds after a group's deadline that its poll runs, so it is due by then
HEARTBEAT = 30.0  # seconds between STATUS updates (and watchdog pings, if WatchdogSec asks for fewer)
STORE_PROBE_TIMEOUT = 2.0  # a store write that takes longer than this counts as "not writable"


class Bridge:
    def __init__(self, config: Config, store: Store, client: OmiClient, connectors: dict[str, Connector]) -> None:
        self.config = config
        self.listener = Listener(config.http.listen) if config.http.listen else None
        self.notifier = Notifier()
        self.metrics = Metrics(store, config.omi)
        self._probe: asyncio.Future | None = None
        self.store = store
        self.connectors = connectors
        self.dispatcher = Dispatcher(store, client, config.omi, metrics=self.metrics)
        self._loop = asyncio.get_running_loop()
        self.sinks = {
            name: Sink(store, name, config.connectors[name], self._wake_threadsafe,
                       functools.partial(self._poll_at_threadsafe, name))
            for name in connectors
        }
        self._deadlines: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._timed = False  # polls at groups' deadlines: while running, not in run --once
        self._polls: set[asyncio.Task] = set()
        self._polling: set[str] = set()
        self._again: set[str] = set()
        self._stop_watching = threading.Event()
        recovered = store.recover_inflight(config.omi.reconcile_delay)
        if recovered:
            log.warning("%d row(s) were being sent when the last run stopped; checking Omi before re-sending",
                        recovered)

    def _wake_threadsafe(self) -> None:
        self._loop.call_soon_threadsafe(self.dispatcher.wake)

    def _poll_at_threadsafe(self, name: str, at: float) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._poll_at, name, at)

    def _poll_at(self, name: str, at: float, least: float = 0.0) -> None:
        """Poll ``name`` at epoch ``at`` (at least ``least`` seconds from now), unless a poll is
        already set for no later: a group of chat messages closes at its deadline, not at the
        next tick of a poll_interval that may be minutes long."""
        if not self._timed or self._stop_watching.is_set():
            return
        current = self._deadlines.get(name)
        at = max(at, time.time() + least)
        if current is not None:
            if current[0] <= at:
                return
            current[1].cancel()

        def reached() -> None:
            self._deadlines.pop(name, None)
            # a poll running now sets the next deadline when it ends: no second poll on its heels
            if not self._stop_watching.is_set() and name not in self._polling:
                self.request_poll(name)

        self._deadlines[name] = (at, self._loop.call_later(at - time.time() + DEADLINE_SLACK, reached))

    async def poll(self, name: str) -> bool:
        """One poll of one connector, with health tracking; never raises."""
        self.sinks[name].deferred = None
        try:
            await call(self.connectors[name].poll, self.sinks[name])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._failed(name, exc)
            return False
        else:
            try:
                failing_since = self.store.source_ok(name)
                due = self.sinks[name].next_deadline()
            except Exception as exc:  # the store itself failing (disk full, read-only): /healthz says so
                log.error("%s: cannot record the poll: %s", name, one_line(exc))
                return False
            if failing_since is not None:
                log.warning("%s: source recovered after %s", name,
                            timedelta(seconds=round(time.time() - failing_since)))
            if due is not None:  # a poll just ran: the next no sooner than a second from now
                self._poll_at(name, due, least=1.0)
            return True
        finally:
            self.sinks[name].log_skips()  # one line for this poll's skips, by reason

    def _failed(self, name: str, exc: Exception) -> None:
        """Record a source failure; say so once, when it starts failing."""
        message = one_line(exc)
        if self.store.source_failed(name, message):
            log.error("%s: source failing: %s", name, message)

    def request_poll(self, name: str) -> None:
        """Poll ``name`` now; if a poll of it is running, run one more right after it.

        Timer ticks and IDLE pushes both come here, so a push during a poll is never lost
        (APScheduler would skip a job whose previous run has not finished).
        """
        if name in self._polling:
            self._again.add(name)
            return
        self._polling.add(name)
        task = asyncio.create_task(self._poll_until_quiet(name), name=f"poll {name}")
        self._polls.add(task)
        task.add_done_callback(self._polls.discard)

    async def _poll_until_quiet(self, name: str) -> None:
        try:
            while True:
                self._again.discard(name)
                await self.poll(name)
                if name not in self._again or self._stop_watching.is_set():
                    return
        finally:
            self._polling.discard(name)

    async def _tick(self, name: str) -> None:
        self.request_poll(name)

    def _watch(self, name: str) -> threading.Thread | None:
        """Start a push connector's watcher (IMAP IDLE) in a thread; its pushes request polls.

        A daemon thread, not the loop's executor: a watcher stuck in a connect must not hold
        up the exit (asyncio.run waits for its executor's threads)."""
        watch = getattr(self.connectors[name], "watch", None)
        if watch is None:
            return None
        loop = self._loop

        def trigger() -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.request_poll, name)

        thread = threading.Thread(target=watch, args=(trigger, self._stop_watching), name=f"watch {name}", daemon=True)
        thread.start()
        return thread

    async def _serve(self, name: str) -> None:
        """Run a push connector's ``serve`` for the daemon's life; restart it when it fails."""
        delay = 1.0
        while True:
            started = time.monotonic()
            try:
                await self.connectors[name].serve(self.sinks[name], _Live(self, name))  # type: ignore[attr-defined]
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(name, exc)
            if time.monotonic() - started > SERVE_RETRY_MAX:
                delay = 1.0
            await asyncio.sleep(delay)
            delay = min(delay * 2, SERVE_RETRY_MAX)

    # -- health, for systemd and the HTTP listener ------------------------------------------------

    async def store_writable(self) -> str | None:
        """None if a write to the store commits within STORE_PROBE_TIMEOUT, else the problem."""
        if self._probe is not None and not self._probe.done():
            return "a store write has been hanging since the last check"
        self._probe = asyncio.ensure_future(asyncio.to_thread(self.store.probe_write, STORE_PROBE_TIMEOUT))
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), STORE_PROBE_TIMEOUT + 1)
        except TimeoutError:
            return f"a store write did not finish within {STORE_PROBE_TIMEOUT + 1:.0f}s"
        except Exception as exc:
            return one_line(exc)
        return None

    async def _heartbeat(self) -> None:
        """STATUS= now and then; WATCHDOG=1 only from the loop and only while the store takes
        writes: a hung loop or a dead disk stops the pings and systemd restarts us."""
        interval = HEARTBEAT
        if self.notifier.watchdog_interval:
            interval = min(interval, self.notifier.watchdog_interval / 3)
        while True:
            problem = await self.store_writable()
            if problem is None:
                self.notifier.watchdog()
                self.notifier.status(summary(self.store, self.connectors))
            else:
                self.notifier.status(f"unhealthy: {problem}")
            await asyncio.sleep(interval)

    async def _healthz(self, request: Any) -> Any:
        from aiohttp import web

        problem = await self.store_writable()
        if problem is not None:  # reading the store could hang the loop too: say what we know
            return web.json_response({"status": "unhealthy", "store": problem}, status=503)
        rows = {r["connector"]: r for r in self.store.rows("SELECT * FROM sources")}
        connectors = {}
        for name in self.connectors:
            row = rows.get(name, {})
            connectors[name] = {
                "state": "failing" if row.get("failing_since") else ("ok" if row.get("last_success") else "starting"),
                "last_success": row.get("last_success"),
                "failing_since": row.get("failing_since"),
                "error": row.get("last_error"),
            }
        body = {"status": "ok", "store": "writable", "outbox": self.store.counts(), "omi": omi_state(self.store),
                "backlog": backlog(self.config.omi, self.store, time.time()), "connectors": connectors}
        return web.json_response(body)

    async def _metrics(self, request: Any) -> Any:
        from aiohttp import web

        body = await asyncio.to_thread(self.metrics.render)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def run_once(self) -> DrainResult:
        """Poll every connector once (again after a short wait for items not ready yet, such as
        files still settling), then send until nothing is due within a minute."""
        await asyncio.gather(self.dispatcher.check_key(), *(self.poll(name) for name in self.connectors))
        for _ in range(3):
            waiting = {name: sink.deferred for name, sink in self.sinks.items() if sink.deferred is not None}
            if not waiting:
                break
            delay = max(seconds for seconds, _ in waiting.values())
            for name, (seconds, what) in waiting.items():
                log.info("%s: %s; %s", name, what,
                         f"waiting {seconds:.1f}s for them" if delay <= ONCE_HORIZON else "left for the next run")
            if delay > ONCE_HORIZON:
                break
            await asyncio.sleep(delay + 0.05)
            await asyncio.gather(*(self.poll(name) for name in waiting))
        return await self.dispatcher.run(until_idle=ONCE_HORIZON)

    async def run_forever(self, stop: asyncio.Event, hurry: asyncio.Event | None = None) -> None:
        hurry = hurry or asyncio.Event()
        self._timed = True
        scheduler = AsyncIOScheduler()
        for name, connector_config in self.config.connectors.items():
            scheduler.add_job(
                self._tick, "interval", args=[name], id=name, name=f"poll {name}",
                seconds=connector_config.poll_interval, next_run_time=datetime.now(),
                max_instances=1, coalesce=True, misfire_grace_time=int(connector_config.poll_interval) + 1,
            )
        if self.listener is not None:
            self.listener.route("GET", "/healthz", self._healthz)
            self.listener.route("GET", "/metrics", self._metrics)
            await self.listener.start()
        scheduler.start()
        watchers = [task for name in self.connectors if (task := self._watch(name)) is not None]
        serving = [
            asyncio.create_task(self._serve(name), name=f"serve {name}")
            for name, connector in self.connectors.items() if hasattr(connector, "serve")
        ]
        await self.dispatcher.check_key()
        sending = asyncio.create_task(self.dispatcher.run(), name="dispatcher")
        log.info("omi-bridge running: %d connector(s), state in %s", len(self.connectors), self.store.path)
        self.notifier.ready(summary(self.store, self.connectors))
        heartbeat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        await stop.wait()

        self.notifier.stopping()
        heartbeat.cancel()

        log.info("stopping: no new polls; letting in-flight sends finish (up to %.0fs)",
                 self.config.omi.shutdown_grace)
        scheduler.shutdown(wait=False)
        self._stop_watching.set()
        for _, timer in self._deadlines.values():
            timer.cancel()
        for task in serving:  # no more events taken in; what was acknowledged is in the store
            task.cancel()
        if serving:
            await asyncio.wait(serving, timeout=5)
        for sink in self.sinks.values():
            sink.close()
        abandoned = await self.dispatcher.stop(self.config.omi.shutdown_grace, hurry)
        if abandoned:
            # marked now, not at the next start, so status does not show them in flight meanwhile
            self.store.recover_inflight(self.config.omi.reconcile_delay)
            log.warning("%d send(s) still waiting for Omi were left for reconciliation at the next start",
                        abandoned)
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        if self._polls:
            await asyncio.wait(set(self._polls), timeout=5)
        for thread in watchers:
            await asyncio.to_thread(thread.join, 2)
        if self.listener is not None:
            await self.listener.stop()


def install_signal_handlers(stop: asyncio.Event, hurry: asyncio.Event) -> None:
    """The first SIGTERM/SIGINT stops gracefully; a second one stops now."""
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        if stop.is_set():
            if not hurry.is_set():
                log.warning("second interrupt: stopping now; sends still inside Omi are checked at the next start")
            hurry.set()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
