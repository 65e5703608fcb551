"""Wiring: the store, the sources, the dispatcher and the listener in one event loop.

The sources (bridge/sources.py) read and queue; the dispatcher (bridge/dispatcher.py) sends; the
daemon watches its own health (the state file, the loop) for systemd, ``/healthz`` and
``/metrics``, serves the web console, and runs until stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from datetime import timedelta
from typing import Any

from bridge.config import Config
from bridge.connector import Connector
from bridge.dispatcher import Dispatcher, DrainResult
from bridge.errors import StateUnwritable, one_line
from bridge.health import StateHealth, omi_state
from bridge.http import Listener
from bridge.metrics import CONTENT_TYPE, Metrics
from bridge.omi import OmiClient
from bridge.sources import Sources
from bridge.status import backlog, summary
from bridge.store import Store
from bridge.systemd import Notifier

__all__ = ["Bridge", "install_signal_handlers"]

log = logging.getLogger(__name__)

ONCE_HORIZON = 60.0  # --once waits for rows due within this many seconds, and no longer
HEARTBEAT = 30.0  # seconds between STATUS updates (and watchdog pings, if WatchdogSec asks for fewer)
STORE_PROBE_TIMEOUT = 2.0  # a store write that takes longer than this counts as "not writable"


class Bridge:
    def __init__(self, config: Config, store: Store, client: OmiClient, connectors: dict[str, Connector]) -> None:
        self.listener = Listener(config.http.listen) if config.http.listen else None
        self.notifier = Notifier()
        self.metrics = Metrics(store, config.omi)
        self._probe: asyncio.Future | None = None
        self._probe_hung = False
        self.store = store
        self.dispatcher = Dispatcher(store, client, config.omi, metrics=self.metrics)
        self._loop = asyncio.get_running_loop()
        self.sources = Sources(config, store, connectors, wake=self._wake_threadsafe, probe=self.store_writable)
        store.health.listen(self._state_changed_threadsafe)
        recovered = store.recover_inflight(config.omi.reconcile_delay)
        if recovered:
            log.warning("%d row(s) were being sent when the last run stopped; checking Omi before re-sending",
                        recovered)

    @property
    def config(self) -> Config:
        """The config in force: a reload changes its connectors (bridge/sources.py)."""
        return self.sources.config

    @property
    def connectors(self) -> dict[str, Connector]:
        return self.sources.connectors

    @property
    def sinks(self) -> dict[str, Any]:
        return self.sources.sinks

    async def poll(self, name: str) -> bool:
        return await self.sources.poll(name)

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
        """The web console's pages on the listener, built when a browser first asks for one
        (Listener.route_later). Its token is made now: a console that cannot start (its token
        file cannot be written) is said in one line at start-up and the daemon runs on without it."""
        assert self.listener is not None
        try:
            from bridge.console.auth import Guard

            Guard(self.config.state_path)
        except Exception as exc:
            log.warning("the web console is off: %s", one_line(exc))
            return
        loop = asyncio.get_running_loop()
        listener = self.listener

        def install() -> None:
            try:
                from bridge.console import Console  # Jinja2 and the templates

                Console(lambda: self.config, self.store, self._wake_threadsafe,
                        reload=lambda: asyncio.run_coroutine_threadsafe(self.sources.reload(), loop)).install(listener)
            except Exception as exc:
                log.warning("the web console is off: %s", one_line(exc))

        listener.route_later(install)

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
        if self.listener is not None:
            self.listener.route("GET", "/healthz", self._healthz)
            self.listener.route("GET", "/metrics", self._metrics)
            self._install_console()
            await self._start_listener()
        self.sources.http = self.listener
        self.sources.start()
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
        serving = self.sources.stop_reading()
        if serving:
            await asyncio.wait(serving, timeout=5)
        self.sources.close()
        abandoned = await self.dispatcher.stop(self.config.omi.shutdown_grace, hurry)
        if abandoned:
            # marked now, not at the next start, so status does not show them in flight meanwhile
            self.store.recover_inflight(self.config.omi.reconcile_delay)
            log.warning("%d send(s) still waiting for Omi were left for reconciliation at the next start",
                        abandoned)
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        await self.sources.finish()
        if self.listener is not None:
            await self.listener.stop()

    async def _reload_on(self, reload: asyncio.Event) -> None:
        """SIGHUP: read the config again (Sources.reload)."""
        while True:
            await reload.wait()
            reload.clear()
            await self.sources.reload()


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
