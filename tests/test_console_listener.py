"""The HTTP listener is on by default (the web console at 127.0.0.1:8080): a default address that
is taken is said in one line and the daemon runs on; an address the person set stays an error."""

from __future__ import annotations

import contextlib
import errno
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

from bridge.config import load_config
from bridge.http import DEFAULT_LISTEN, parse_listen
from bridge.store import Store
from tests.conftest import drop_files, listen_on, run_cli, start_daemon, wait_until, write_config


def _without_http(config: Path) -> Path:
    config.write_text(config.read_text().replace('[http]\nlisten = ""\n', ""))
    return config


@contextlib.contextmanager
def _taken(address: str) -> Iterator[None]:
    """Hold ``address`` so the daemon cannot have it (if another program holds it, it is taken anyway)."""
    host, port = parse_listen(address)
    with socket.socket() as s:
        try:
            s.bind((host, port))
            s.listen(1)
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
        yield


def test_the_listener_is_on_by_default_and_an_empty_listen_turns_it_off(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OMI_API_KEY", "k")
    config = load_config(_without_http(write_config(tmp_path, "http://127.0.0.1:9")))
    assert config.http.listen == DEFAULT_LISTEN == "127.0.0.1:8080" and not config.http.chosen
    off = load_config(write_config(tmp_path, "http://127.0.0.1:9"))
    assert off.http.listen == "" and off.http.chosen


def test_a_taken_default_address_is_one_warning_and_the_daemon_runs_on(tmp_path, fake_omi) -> None:
    config = _without_http(write_config(tmp_path, fake_omi.url))
    log = tmp_path / "log"
    with _taken(DEFAULT_LISTEN):
        daemon = start_daemon(config, log)
        try:
            drop_files(tmp_path / "spool", ["a note sent while the console could not start"])
            store = Store(tmp_path / "state.db")
            assert wait_until(lambda: store.counts()["sent"] == 1, 30), log.read_text()
        finally:
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(30) == 0
    lines = [line for line in log.read_text().splitlines() if "console is off" in line]
    assert len(lines) == 1 and "WARNING" in lines[0] and "127.0.0.1:8080" in lines[0], log.read_text()


def test_a_listen_address_the_person_set_that_is_taken_stops_the_start(tmp_path, fake_omi) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        config = write_config(tmp_path, fake_omi.url)
        listen_on(config, f"127.0.0.1:{s.getsockname()[1]}")
        result = run_cli("run", "-c", str(config), timeout=60)
    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower(), result.stderr
