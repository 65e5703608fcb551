"""Wiring: the store, the connectors, the dispatcher and the scheduler in one event loop.

Polls are triggered by APScheduler (3.x, AsyncIOScheduler), one job per connector. A plain
``poll`` runs in a worker thread so a slow source never blocks sending; a coroutine ``poll``
runs on the loop. One source failing never stops the others: each poll is caught on its own,
and a source's health is logged only when it changes (failing, recovered).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bridge.config import Config, load_config, secrets_of
from bridge.connector import Connector, Sink
from bridge.dispatcher import Dispatcher, DrainResult
from bridge.errors import BridgeError, ConfigError, StateUnwritable
from bridge.health import StateHealth, omi_state
from bridge.http import Listener
from bridge.logs import hide
from bridge.metrics import CONTENT_TYPE, Metrics
from bridge.omi import OmiClient
from bridge.registry import load_connector_type
from bridge.status import backlog, summary
from bridge.store import Store
from bridge.systemd import Notifier
from bridge.tokens import TokenFile, tokens_dir

__all__ = ["Bridge", "build_connector", "build_connectors", "call", "one_line"]

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
STOP_WAIT = 30.0  # seconds a reload waits for a poll under way in a source it restarts
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
        self._probe_hung = False
        store.health.listen(self._state_changed_threadsafe)
        recovered = store.recover_inflight(config.omi.reconcile_delay)
        if recovered:
            log.warning("%d row(s) were being sent when the last run stopped; checking Omi before re-sending",
                        recovered)

    def _sink(self, name: str) -> Sink:
        return Sink(self.store, name, self.config.connectors[name], self._wake_threadsafe,
                    functools.partial(self._poll_at_threadsafe, name))

    def _state_changed_threadsafe(self, health: StateHealth, failing_since: float | None) -> None:
        if failing_since is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._state_recovered, failing_since)

    def _state_recovered(self, failing_since: float) -> None:
        """The state file takes writes again: rows whose outcome could not be recorded are
        settled as after a crash (looked up in Omi before any re-send), and sending resumes."""
        try:
            unsure = self.store.recover_inflight(self.config.omi.reconcile_delay, keep=self.dispatcher.owned(),
                                                 why="its outcome could not be recorded")
        except StateUnwritable:
            return  # failing again: said once more when it recovers
        log.info("state: %s takes writes again after %s: sending resumes%s", self.store.path,
                 timedelta(seconds=round(time.time() - failing_since)),
                 f"; {unsure} row(s) whose outcome could not be recorded are looked up in Omi before any"
                 " is sent again" if unsure else "")
        self.dispatcher.wake()

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
        """One poll of one connector, with health tracking; never raises.

        While the state file refuses writes, nothing read could be kept: the poll only checks
        whether it takes writes again (which ends the failing state), and reads the source then."""
        if self.store.health.failing:
            await self.store_writable()
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
            await asyncio.sleep(delay)
            delay = min(delay * 2, SERVE_RETRY_MAX)

    # -- health, for systemd and the HTTP listener ------------------------------------------------

    async def store_writable(self) -> str | None:
        """None if a write to the store commits within STORE_PROBE_TIMEOUT, else the problem.
        The probe is also what ends a failing state (Store.probe_write)."""
        if self._probe is not None and not self._probe.done():
            self._probe_hung = True
            return "a store write has been hanging since the last check"
        self._probe_hung = False
        self._probe = asyncio.ensure_future(asyncio.to_thread(self.store.probe_write, STORE_PROBE_TIMEOUT))
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), STORE_PROBE_TIMEOUT + 1)
        except TimeoutError:
            self._probe_hung = True
            return f"a store write did not finish within {STORE_PROBE_TIMEOUT + 1:.0f}s"
        except Exception as exc:
            return one_line(exc)
        return None

    async def _heartbeat(self) -> None:
        """STATUS= now and then; WATCHDOG=1 only from the loop and only while store writes do not
        hang: a hung loop or a hung disk stops the pings and systemd restarts us. A state file that
        refuses writes (full disk) is not restarted away: a restart cannot free space, and the
        daemon goes on by itself once there is some (see ``poll``)."""
        interval = HEARTBEAT
        if self.notifier.watchdog_interval:
            interval = min(interval, self.notifier.watchdog_interval / 3)
        while True:
            problem = await self.store_writable()
            if not self._probe_hung:
                self.notifier.watchdog()
            if problem is None:
                self.notifier.status(summary(self.store, self.connectors))
            else:
                self.notifier.status(f"unhealthy: {problem}")
            await asyncio.sleep(interval)

    async def _healthz(self, request: Any) -> Any:
        from aiohttp import web

        problem = await self.store_writable()
        if problem is not None:  # reading the store could hang the loop too: say what we know
            return web.json_response({"status": "unhealthy", "store": problem,
                                      "state": self.store.health.as_dict()}, status=503)
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

    def _install_console(self) -> None:
        """The web console's pages on the listener; a console that cannot start (its token file
        cannot be written) is said in one line and the daemon runs on without it."""
        assert self.listener is not None
        try:
            from bridge.console import Console  # Jinja2 and the templates, only when serving

            Console(lambda: self.config, self.store, self._wake_threadsafe).install(self.listener)
        except Exception as exc:
            log.warning("the web console is off: %s", one_line(exc))

    async def _start_listener(self) -> None:
        """Serve HTTP. The default address being taken (a second daemon, another program) is said
        in one line and the daemon runs on without the console; an address the person set that
        cannot be served stays a start-up error."""
        assert self.listener is not None
        try:
            await self.listener.start()
        except OSError as exc:
            await self.listener.stop()
            if self.config.http.chosen:
                raise
            log.warning("the web console is off: %s:%d cannot be served (%s); set [http] listen to another"
                        " address, or listen = \"\" to silence this", self.listener.host, self.listener.port,
                        exc.strerror or one_line(exc))
            self.listener = None

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

    async def run_forever(self, stop: asyncio.Event, hurry: asyncio.Event | None = None,
                          reload: asyncio.Event | None = None) -> None:
        hurry = hurry or asyncio.Event()
        self._timed = True
        self._scheduler = AsyncIOScheduler()
        if self.listener is not None:
            self.listener.route("GET", "/healthz", self._healthz)
            self.listener.route("GET", "/metrics", self._metrics)
            self._install_console()
            await self._start_listener()
        self._scheduler.start()
        for name in self.connectors:
            self._start_connector(name)
        await self.dispatcher.check_key()
        sending = asyncio.create_task(self.dispatcher.run(), name="dispatcher")
        log.info("omi-bridge running: %d connector(s), state in %s", len(self.connectors), self.store.path)
        self.notifier.ready(summary(self.store, self.connectors))
        heartbeat = asyncio.create_task(self._heartbeat(), name="heartbeat")
        reloading = asyncio.create_task(self._reload_on(reload), name="reload") if reload is not None else None
        await stop.wait()

        self.notifier.stopping()
        heartbeat.cancel()
        if reloading is not None:
            reloading.cancel()

        log.info("stopping: no new polls; letting in-flight sends finish (up to %.0fs)",
                 self.config.omi.shutdown_grace)
        self._scheduler.shutdown(wait=False)
        self._stop_watching.set()
        for _, timer in self._deadlines.values():
            timer.cancel()
        for _, event in self._watchers.values():
            event.set()
        serving = list(self._serving.values())
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
        for thread, _ in self._watchers.values():
            await asyncio.to_thread(thread.join, 2)
        if self.listener is not None:
            await self.listener.stop()

    # -- reload (SIGHUP) --------------------------------------------------------------------

    async def _reload_on(self, reload: asyncio.Event) -> None:
        while True:
            await reload.wait()
            reload.clear()
            await self.reload()

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


def install_signal_handlers(stop: asyncio.Event, hurry: asyncio.Event, reload: asyncio.Event | None = None) -> None:
    """The first SIGTERM/SIGINT stops gracefully; a second one stops now. SIGHUP reloads the
    config (systemctl reload, or the terminal of a foreground run closing): it never stops."""
    loop = asyncio.get_running_loop()
    if reload is not None:
        loop.add_signal_handler(signal.SIGHUP, reload.set)

    def signalled() -> None:
        if stop.is_set():
            if not hurry.is_set():
                log.warning("second interrupt: stopping now; sends still inside Omi are checked at the next start")
            hurry.set()
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, signalled)
