"""omi-bridge run | check | status | retry | preview | plan | login | console.

Exit codes: 0 done, 1 runtime failure, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bridge import __version__
from bridge.errors import ConfigError

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.connector import Connector
    from bridge.daemon import Bridge
    from bridge.lock import StateLock
    from bridge.logs import Redactor
    from bridge.omi import OmiClient
    from bridge.store import Store

# Each command imports what it needs when it runs: --help and status start in a fraction of the
# time it takes to import the daemon's libraries (aiohttp, Slack's SDK, APScheduler).

__all__ = ["main"]

log = logging.getLogger("omi-bridge")

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omi-bridge", description="Forward new email, chat and files into Omi as conversations."
    )
    parser.add_argument("--version", action="version", version=f"omi-bridge {__version__}")
    # the common options go before or after the command: on both parsers, with no default on
    # the command's (argparse would let its default overwrite a value given before the command)
    for target, defaults in ((parser, True), (common := argparse.ArgumentParser(add_help=False), False)):
        target.add_argument(
            "-c", "--config", type=Path, default=None if defaults else argparse.SUPPRESS,
            help="config file (default: $OMI_BRIDGE_CONFIG, ./config.toml, /etc/omi-bridge/config.toml)",
        )
        target.add_argument("--log-level", default="INFO" if defaults else argparse.SUPPRESS,
                            choices=["DEBUG", "INFO", "WARNING", "ERROR"])
        target.add_argument("--log-format", default="text" if defaults else argparse.SUPPRESS, choices=["text", "json"],
                            help="text (with journald priorities under systemd) or one JSON object per line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the daemon in the foreground")
    run.add_argument("--once", action="store_true",
                     help="poll every connector once, send what is due, exit")
    sub.add_parser("check", parents=[common], help="validate the config, reach every source and Omi")
    status = sub.add_parser("status", parents=[common], help="outbox, connectors, dead and skipped items")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    retry = sub.add_parser("retry", parents=[common], help="move dead rows back to pending")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID")
    retry.add_argument("--all", action="store_true", help="every dead row")
    sub.add_parser("preview", parents=[common], help="print what would be sent, as JSON lines; sends nothing")
    plan = sub.add_parser("plan", parents=[common],
                          help="what every source costs in Omi writes and how long delivery takes; sends nothing")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("console", parents=[common], help="print the address of the web console, with its sign-in token")
    login = sub.add_parser("login", parents=[common],
                           help="sign a connector's account in (OAuth2 mail, Matrix); tokens go to the state directory")
    login.add_argument("name", metavar="NAME", help="the connector, as in [connectors.NAME]")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bridge.config import default_config_path, load_config, secrets_of
    from bridge.logs import Redactor, setup_logging

    path = args.config or default_config_path()
    try:
        # run and check use every secret; the others work without the ones they do not use
        config = load_config(path, need_secrets=args.command in ("run", "check"))
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return EXIT_USAGE
    redact = Redactor(secrets_of(config))
    setup_logging(args.log_level, redact, args.log_format)
    command = {"run": _run, "check": _check, "status": _status, "retry": _retry, "preview": _preview,
               "plan": _plan, "login": _login, "console": _console}
    try:
        return command[args.command](args, config, redact)
    except KeyboardInterrupt:
        return EXIT_OK
    except BrokenPipeError:
        # the reader went away (status | head): not an error; keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        from bridge.errors import one_line

        log.debug("failure", exc_info=True)
        print(redact(f"omi-bridge {args.command}: {one_line(exc)}"), file=sys.stderr)
        return EXIT_FAILURE


def _client(config: Config) -> OmiClient:
    from bridge.omi import OmiClient

    assert config.omi.api_key is not None
    return OmiClient(
        config.omi.base_url, config.omi.api_key.get_secret_value(), config.omi.timeout,
        max_connections=config.omi.max_in_flight + 1,
    )


def _stop_before_loop(signum: int, frame: object) -> None:
    raise SystemExit(EXIT_OK)  # SIGTERM while starting up: nothing is in flight yet, leave cleanly


def _run(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    import asyncio

    from bridge.lock import StateLock

    signal.signal(signal.SIGTERM, _stop_before_loop)  # the event loop installs its own handler
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a reload before the loop (or in --once) changes nothing
    lock = StateLock(config.state_path)
    lock.acquire()
    try:
        return asyncio.run(_run_async(args, config, lock))
    finally:
        lock.release()


async def _run_async(args: argparse.Namespace, config: Config, lock: StateLock) -> int:
    import asyncio

    from bridge.daemon import Bridge, install_signal_handlers
    from bridge.registry import build_connectors
    from bridge.store import Store

    store = Store(config.state_path)
    store.health.listen(lambda health, _: lock.note(health.as_dict()))  # for status, which cannot ask us
    client = _client(config)
    try:
        bridge = Bridge(config, store, client, build_connectors(config))
        if args.once:
            return await _once(bridge, config, store)
        stop, hurry, reload = asyncio.Event(), asyncio.Event(), asyncio.Event()
        install_signal_handlers(stop, hurry, reload)
        await bridge.run_forever(stop, hurry, reload)
        return EXIT_OK
    finally:
        await client.aclose()
        store.close()


async def _once(bridge: Bridge, config: Config, store: Store) -> int:
    """``run --once``: what this run did, what waits and why; 1 when a source failed, Omi could
    not be delivered to, a row went dead or the state file could not be written."""
    from bridge.status import backlog, backlog_line, failing_sources

    started, dead_before = time.time(), {r["id"] for r in store.rows("SELECT id FROM outbox WHERE state = 'dead'")}
    result = await bridge.run_once()
    sent = store.sent_since(datetime.fromtimestamp(started).astimezone())
    dead = [r for r in store.rows("SELECT id, connector, source_key, label, last_error FROM outbox"
                                  " WHERE state = 'dead' ORDER BY id") if r["id"] not in dead_before]
    failed = failing_sources(store, config.connectors)
    print(f"sent {sent}, dead {len(dead)}, pending {result.waiting}")
    for row in dead:
        print(f"not delivered: {row['connector']}: {row['label'] or row['source_key']}: {row['last_error']}"
              f" (omi-bridge retry {row['id']} sends it again)", file=sys.stderr)
    if store.health.failing:
        print(f"the state file cannot be written: {store.health.error}", file=sys.stderr)
    print(backlog_line(backlog(config.omi, store, time.time())))
    for name in failed:
        print(f"source {name} failed: see omi-bridge status", file=sys.stderr)
    if result.waiting:
        pause = store.pause_until()
        if result.omi_error:
            why = f"Omi cannot be delivered to: {result.omi_error}"
        elif pause > time.time():
            why = f"Omi asked for a pause until {datetime.fromtimestamp(pause).astimezone():%H:%M:%S}"
        else:
            why = "they are due later than a minute (Omi's write limit, retries): the next run or the daemon sends them"
        print(f"{result.waiting} row(s) wait because {why}")
    return EXIT_FAILURE if failed or dead or store.health.failing or result.omi_error or result.auth_error else EXIT_OK


def _check(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    import asyncio

    from bridge.connector import call
    from bridge.errors import one_line
    from bridge.registry import build_connectors

    print(f"config: ok ({config.source}, {len(config.connectors)} connector(s))")
    problem = _state_problem(config.state_path)
    print(f"state: FAILED: {problem}" if problem else f"state: ok ({config.state_path})")
    ok = problem is None
    for name, connector in build_connectors(config).items():
        try:
            detail = asyncio.run(call(connector.check))
            print(f"{name}: ok{f' ({detail})' if detail else ''}")
        except Exception as exc:
            ok = False
            print(redact(f"{name}: FAILED: {one_line(exc)}"))
    good, line = asyncio.run(_check_omi(config))
    print(redact(line))
    if good and (paused := _stored_pause(config)):
        print(paused)
    return EXIT_OK if ok and good else EXIT_FAILURE


def _state_problem(state_path: Path) -> str | None:
    """What keeps ``run`` from using the state file, found the way run finds it: by taking its lock
    (a running daemon holds it: fine), and by asking whether the folder and the file take writes
    (SQLite writes its journal beside the file)."""
    from bridge.errors import StateBusy
    from bridge.lock import StateLock

    lock = StateLock(state_path)
    try:
        if not lock.held_elsewhere():
            lock.acquire()
            lock.release()
    except (StateBusy, OSError) as exc:
        return str(exc) if isinstance(exc, StateBusy) else f"cannot open the lock {lock.path}: {exc.strerror or exc}"
    for path in (state_path.parent, state_path):
        if path.exists() and not os.access(path, os.W_OK):
            return f"cannot write {path} (check [state] path and who owns it)"
    return None


def _stored_pause(config: Config) -> str | None:
    """The running bridge's pause from a 429, if one is in force: the key works, yet no write
    leaves before then (GET /v1/dev/key is not rate limited, so check may still ask it)."""
    store = _existing_store(config)
    if store is None:
        return None
    try:
        until = store.pause_until()
    finally:
        store.close()
    if until <= time.time():
        return None
    return (f"omi: writes paused until {datetime.fromtimestamp(until).astimezone():%H:%M:%S} "
            "(Omi's rate limit answered 429; the bridge sends again then)")


async def _check_omi(config: Config) -> tuple[bool, str]:
    import httpx

    from bridge.errors import one_line
    from bridge.health import key_problem

    client = _client(config)
    try:
        response = await client.key_info()
    except httpx.HTTPError as exc:
        return False, f"omi: FAILED: cannot reach {config.omi.base_url}: {one_line(exc)}"
    finally:
        await client.aclose()
    problem = key_problem(response)
    if problem is not None:
        return False, f"omi: FAILED: {problem}"
    if response.status_code == 404:
        return True, f"omi: reachable at {config.omi.base_url}; this server cannot report the key's scopes"
    scopes = response.json().get("scopes") or []
    return True, f"omi: ok ({config.omi.base_url}, key scopes: {', '.join(scopes)})"


def _existing_store(config: Config) -> Store | None:
    from bridge.store import Store

    return Store(config.state_path) if config.state_path.exists() else None


def _status(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    from bridge.status import collect, render

    store = _existing_store(config)
    if store is None:
        print(f"no state yet at {config.state_path} (the bridge has not run)")
        return EXIT_OK
    try:
        info = collect(config, store)
    finally:
        store.close()
    print(redact(json.dumps(info, indent=2) if args.json else render(info)))
    return EXIT_OK


def _retry(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    if bool(args.ids) == bool(args.all):
        print("omi-bridge retry: give row ids or --all", file=sys.stderr)
        return EXIT_USAGE
    store = _existing_store(config)
    if store is None:
        print(f"no state yet at {config.state_path}")
        return EXIT_OK
    try:
        revived = store.revive(None if args.all else args.ids)
    finally:
        store.close()
    print(f"{revived} dead row(s) back to pending")
    return EXIT_OK


def _preview(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    import asyncio

    from bridge.connector import PreviewSink, call
    from bridge.errors import one_line
    from bridge.plan import reading

    store = _existing_store(config)
    try:
        if store is not None:
            for row in store.rows("SELECT connector, source_key, body FROM outbox WHERE state IN "
                                  "('pending', 'inflight') ORDER BY priority, id"):
                _emit({"state": "queued", "connector": row["connector"], "source_key": row["source_key"],
                       "request": json.loads(row["body"])}, redact)
        for name, connector in _usable_connectors(config).items():
            sink = PreviewSink(store, name, config.connectors[name])
            try:
                with reading(sink):
                    asyncio.run(call(connector.poll, sink))
            except Exception as exc:
                print(redact(f"{name}: cannot read the source: {one_line(exc)}"), file=sys.stderr)
                continue
            for queued in sink.queued:
                _emit({"state": "new", "connector": name, "source_key": queued.source_key,
                       "request": queued.request.body()}, redact)
            for ref, reason in sink.skipped:
                _emit({"state": "would skip", "connector": name, "source_key": ref, "reason": reason}, redact)
            if sink.deferred is not None:
                seconds, what = sink.deferred
                print(f"{name}: {what}: not shown; run preview again in {seconds:.0f}s", file=sys.stderr)
    finally:
        if store is not None:
            store.close()
    return EXIT_OK


def _usable_connectors(config: Config, *, tell: bool = True) -> dict[str, Connector]:
    """The connectors whose secrets have values; with ``tell``, a line on stderr for each other."""
    from bridge.registry import build_connector

    usable = {}
    for name in config.connectors:
        if missing := config.missing_for(name):
            if tell:
                print(f"{name}: {missing}; not read", file=sys.stderr)
        else:
            usable[name] = build_connector(config, name)
    return usable


def _plan(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    from bridge import plan

    store = _existing_store(config)
    try:
        plan.main(config, store, _usable_connectors(config, tell=False), as_json=args.json, redact=redact)
    finally:
        if store is not None:
            store.close()
    return EXIT_OK


def _console(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    """The link that signs a browser in to the console: the token it carries is the one secret
    this prints, on purpose (run it as the user the bridge runs as)."""
    from bridge.console.auth import console_link

    if not config.http.listen:
        print('omi-bridge console: the console is off ([http] listen = ""); set listen = "127.0.0.1:8080"',
              file=sys.stderr)
        return EXIT_USAGE
    print(f"Open this address in a browser on this machine (the daemon serves it while it runs):\n"
          f"{console_link(config.http.listen, config.state_path)}")
    return EXIT_OK


def _login(args: argparse.Namespace, config: Config, redact: Redactor) -> int:
    import asyncio
    import inspect

    from bridge.registry import build_connector

    if args.name not in config.connectors:
        known = ", ".join(config.connectors) or "none"
        print(f"omi-bridge login: no connector {args.name!r} in {config.source} (connectors: {known})", file=sys.stderr)
        return EXIT_USAGE
    if missing := config.missing_for(args.name):
        print(f"omi-bridge login: {args.name}: {missing}", file=sys.stderr)
        return EXIT_USAGE
    connector = build_connector(config, args.name)
    login = getattr(connector, "login", None)
    if login is None:
        print(f"omi-bridge login: connectors.{args.name} (type {config.connectors[args.name].type}) has nothing "
              "to sign in to", file=sys.stderr)
        return EXIT_USAGE
    try:
        detail = login(lambda line: print(redact(line), flush=True), sys.stdin)
        if inspect.isawaitable(detail):  # an async connector's (Matrix's)
            detail = asyncio.run(detail)
    except ConfigError as exc:
        print(f"omi-bridge login: {exc.render()}", file=sys.stderr)
        return EXIT_USAGE
    kept = getattr(connector, "tokens", None)
    where = f"; tokens kept in {kept.path}, readable by you only" if kept else ""
    print(f"{args.name}: signed in ({detail}){where}")
    return EXIT_OK


def _emit(record: dict, redact: Redactor) -> None:
    print(redact(json.dumps(record, ensure_ascii=False)))
