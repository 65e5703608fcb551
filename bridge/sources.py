"""The sources a daemon reads: each connector's polls (timer ticks, pushes, a group's deadline),
its watcher (IMAP IDLE) or ``serve`` (Slack, Matrix), its health, and a reload that restarts
only the connectors whose settings changed.

A plain ``poll`` runs in a worker thread so a slow source never blocks sending; a coroutine
``poll`` runs on the loop. One source failing never stops the others: each poll is caught on its
own, and a source's health is logged only when it changes (failing, recovered).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bridge.config import Config, load_config, secrets_of
from bridge.connector import Connector, Sink, call
from bridge.errors import ConfigError, StateUnwritable, one_line
from bridge.logs import hide
from bridge.registry import build_connector
from bridge.store import Store

__all__ = ["Sources"]

log = logging.getLogger(__name__)

SERVE_RETRY_MAX = 300.0  # seconds between restarts of a push connector that keeps failing
DEADLINE_SLACK = 0.05  # seconds after a group's deadline that its poll runs, so it is due by then
STOP_WAIT = 30.0  # seconds a reload waits for a poll under way in a source it restarts


class _Live:
    """What a connector's ``serve`` gets: a way to ask for a poll, and the HTTP listener."""

    def __init__(self, sources: Sources, name: str) -> None:
        self._sources = sources
        self._name = name
        self.http = sources.http

    def request_poll(self) -> None:
        self._sources.request_poll(self._name)


class Sources:
    def __init__(self, config: Config, store: Store, connectors: dict[str, Connector], *,
                 wake: Callable[[], None], probe: Callable[[], Awaitable[Any]]) -> None:
        self.config = config
        self.store = store
        self.connectors = connectors
        self.http: Any = None  # the daemon's listener, for a connector's serve (Slack's events)
        self._wake = wake  # new rows: the dispatcher (from any thread)
        self._probe = probe  # does the state file take writes again?
        self._loop = asyncio.get_running_loop()
        self.sinks = {name: self._sink(name) for name in connectors}
        self._deadlines: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self._timed = False  # polls at groups' deadlines: while running, not in run --once
        self._polls: set[asyncio.Task] = set()
        self._polling: set[str] = set()
        self._again: set[str] = set()
        self._stop_watching = threading.Event()  # the daemon is stopping
        self._watchers: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._serving: dict[str, asyncio.Task] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self._reloading = asyncio.Lock()

    def start(self) -> None:
        """Poll every source on its interval and at its groups' deadlines; start watchers and serves."""
        self._timed = True
        self._scheduler = AsyncIOScheduler()
        self._scheduler.start()
        for name in self.connectors:
            self._start_connector(name)

    def stop_reading(self) -> list[asyncio.Task]:
        """No new polls, watchers told to stop, serves cancelled (no more events taken in; what
        was acknowledged is in the store); the serves, to wait for."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._stop_watching.set()
        for _, timer in self._deadlines.values():
            timer.cancel()
        for _, event in self._watchers.values():
            event.set()
        serving = list(self._serving.values())
        for task in serving:
            task.cancel()
        return serving

    def close(self) -> None:
        """Submissions refused from now: a poll under way finishes the item at hand."""
        for sink in self.sinks.values():
            sink.close()

    async def finish(self) -> None:
        """Wait (a little) for polls under way and watchers to end."""
        if self._polls:
            await asyncio.wait(set(self._polls), timeout=5)
        for thread, _ in self._watchers.values():
            await asyncio.to_thread(thread.join, 2)

    def _sink(self, name: str) -> Sink:
        return Sink(self.store, name, self.config.connectors[name], self._wake,
                    functools.partial(self._poll_at_threadsafe, name))

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
        """One poll of one connector, with health tracking; never raises.

        While the state file refuses writes, nothing read could be kept: the poll only checks
        whether it takes writes again (which ends the failing state), and reads the source then."""
        if self.config.connectors[name].paused:
            return False
        if self.store.health.failing:
            await self._probe()
            if self.store.health.failing:
                return False
        sink = self.sinks[name]
        sink.deferred = None
        try:
            await call(self.connectors[name].poll, sink)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not sink.closing:  # a source stopped for a reload is not failing
                self._failed(name, exc)
            return False
        else:
            try:
                failing_since = self.store.source_ok(name)
                due = self.sinks[name].next_deadline()
            except StateUnwritable:  # said once by the store's health
                return False
            except Exception as exc:
                log.error("%s: cannot record the poll: %s", name, one_line(exc))
                return False
            if failing_since is not None:
                log.warning("%s: source recovered after %s", name,
                            timedelta(seconds=round(time.time() - failing_since)))
            if due is not None:  # a poll just ran: the next no sooner than a second from now
                self._poll_at(name, due, least=1.0)
            return True
        finally:
            sink.log_skips()  # one line for this poll's skips, by reason

    def _failed(self, name: str, exc: Exception) -> None:
        """Record a source failure; say so once, when it starts failing. The state file refusing
        what the source gave is not the source's failure (the store's health says it)."""
        if isinstance(exc, StateUnwritable) or self.store.health.failing:
            return
        message = one_line(exc)
        try:
            started = self.store.source_failed(name, message)
        except StateUnwritable:
            return
        if started:
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

    def _watch(self, name: str) -> None:
        """Start a push connector's watcher (IMAP IDLE) in a thread; its pushes request polls.

        A daemon thread, not the loop's executor: a watcher stuck in a connect must not hold
        up the exit (asyncio.run waits for its executor's threads)."""
        watch = getattr(self.connectors[name], "watch", None)
        if watch is None:
            return
        loop = self._loop
        stop = threading.Event()

        def trigger() -> None:
            if not loop.is_closed() and not stop.is_set():
                loop.call_soon_threadsafe(self.request_poll, name)

        thread = threading.Thread(target=watch, args=(trigger, stop), name=f"watch {name}", daemon=True)
        thread.start()
        self._watchers[name] = (thread, stop)

    def _start_connector(self, name: str) -> None:
        """Poll ``name`` every poll_interval from now, and start its watcher or its ``serve``."""
        assert self._scheduler is not None
        if self.config.connectors[name].paused:
            return
        interval = self.config.connectors[name].poll_interval
        self._scheduler.add_job(
            self._tick, "interval", args=[name], id=name, name=f"poll {name}",
            seconds=interval, next_run_time=datetime.now(),
            max_instances=1, coalesce=True, misfire_grace_time=int(interval) + 1,
        )
        self._watch(name)
        if hasattr(self.connectors[name], "serve"):
            self._serving[name] = asyncio.create_task(self._serve(name), name=f"serve {name}")

    async def _stop_connectors(self, names: list[str]) -> None:
        """Stop reading these sources: no new polls, watchers and ``serve`` ended, submissions
        refused, and a poll under way let finish (what it submitted before is kept)."""
        for name in names:
            if self._scheduler is not None and self._scheduler.get_job(name) is not None:
                self._scheduler.remove_job(name)
            self.sinks[name].close()
            if (deadline := self._deadlines.pop(name, None)) is not None:
                deadline[1].cancel()
            if (watcher := self._watchers.get(name)) is not None:
                watcher[1].set()
            if (task := self._serving.pop(name, None)) is not None:
                task.cancel()
        tasks = {*(t for t in self._polls if t.get_name() in {f"poll {n}" for n in names}),
                 *(t for n, t in list(self._serving.items()) if n in names)}
        if tasks:
            await asyncio.wait(tasks, timeout=STOP_WAIT)
        for name in names:
            if (watcher := self._watchers.pop(name, None)) is not None:
                await asyncio.to_thread(watcher[0].join, 2)

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
            delay = 1.0 if await self._signed_in_during(name, delay) else min(delay * 2, SERVE_RETRY_MAX)

    async def _signed_in_during(self, name: str, seconds: float) -> bool:
        """Wait ``seconds`` before a failed ``serve`` runs again, or less when its sign-in
        changes meanwhile (a login, the console's Sign in page): True then. A source signed out
        for hours would otherwise wait out its longest back-off after the person signed it in."""
        tokens = getattr(self.connectors[name], "tokens", None)
        if tokens is None:
            await asyncio.sleep(seconds)
            return False
        stamp, end = tokens.stamp(), time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 1.0))
            if tokens.stamp() != stamp:
                return True
        return False

    async def reload(self) -> bool:
        """Read the config file again. When it is invalid, say so in one line and run on as before;
        otherwise restart only the connectors whose settings changed (added ones start, removed
        ones stop; their state is kept), and say what changed. [omi], [state] and [http] are
        the daemon's own: a change there takes a restart, and the line says so."""
        async with self._reloading:
            try:
                new = await asyncio.to_thread(load_config, self.config.source)
                built = {name: build_connector(new, name) for name, cfg in new.connectors.items()
                         if cfg != self.config.connectors.get(name)}
            except ConfigError as exc:
                log.error("reload: %s is not valid, still running on the config as it was: %s",
                          self.config.source, "; ".join(exc.problems))
                return False
            except Exception as exc:
                log.error("reload: still running on the config as it was: %s", one_line(exc))
                return False
            for secret in secrets_of(new):
                hide(secret)
            old = self.config.connectors
            removed = [name for name in old if name not in new.connectors]
            added = [name for name in new.connectors if name not in old]
            changed = [name for name in built if name in old]
            await self._stop_connectors(removed + changed)
            for name in removed:
                del self.connectors[name], self.sinks[name]
            self.config = self.config.model_copy(update={"connectors": new.connectors})
            for name, connector in built.items():
                self.connectors[name] = connector
                self.sinks[name] = self._sink(name)
                self._polling.discard(name)
                self._again.discard(name)
                self._start_connector(name)
            what = [f"{label}: {', '.join(names)}" for label, names in
                    (("added", added), ("restarted with new settings", changed), ("removed", removed)) if names]
            log.info("reload: %s", "; ".join(what) if what else "no connector changed")
            later = [section for section in ("omi", "http", "state_path")
                     if getattr(new, section) != getattr(self.config, section)]
            if later:
                log.warning("reload: [%s] changed too: that takes a restart (systemctl restart omi-bridge)",
                            "], [".join(section.replace("_path", "") for section in later))
            return True
