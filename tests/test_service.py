"""Running as a service: the systemd unit, sd_notify, /healthz, /metrics, log formats."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.cli import _client
from bridge.config import load_config
from bridge.daemon import Bridge
from bridge.store import Store
from tests.conftest import API_KEY, bridge_env, drop_files, listen_on, wait_until, write_config

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "omi-bridge.service"


# -- the unit file ---------------------------------------------------------------------------------


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_the_unit_has_what_a_hardened_notify_service_needs() -> None:
    s = unit_settings()
    expected = {
        "Type": "notify", "NotifyAccess": "main", "Restart": "on-failure", "DynamicUser": "yes",
        "StateDirectory": "omi-bridge", "ProtectSystem": "strict", "ProtectHome": "read-only", "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
    }
    for key, value in expected.items():
        assert s.get(key) == [value], key
    assert "@system-service" in s["SystemCallFilter"]
    assert int(s["WatchdogSec"][0]) >= 60
    assert any(c.startswith("omi_api_key:") for c in s["LoadCredential"])
    assert s["ExecStart"][0].endswith("omi-bridge run -c /etc/omi-bridge/config.toml")
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # the daemon reloads on SIGHUP


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify_passes_without_a_warning(tmp_path) -> None:
    # verify insists that ExecStart's program exists: point it at this installation's
    executable = shutil.which("omi-bridge") or f"{sys.prefix}/bin/omi-bridge"
    unit = tmp_path / "omi-bridge.service"
    unit.write_text(UNIT.read_text().replace("/opt/omi-bridge/bin/omi-bridge", executable))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if "omi-bridge.service" in line] == []
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("Type=notify", "Type=notifyy"))
    result = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "Failed to parse service type" in result.stderr  # the check above can see a mistake


# -- sd_notify ---------------------------------------------------------------------------------------


class NotifySocket:
    """What systemd listens on: a unix datagram socket; records every message with its time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.messages: list[tuple[float, str]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self._stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            for line in data.decode().split("\n"):
                self.messages.append((time.monotonic(), line))

    def lines(self, prefix: str) -> list[tuple[float, str]]:
        return [(t, m) for t, m in list(self.messages) if m.startswith(prefix)]

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()


def test_the_daemon_tells_systemd_ready_status_watchdog_and_stopping(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url)
    drop_files(tmp_path / "spool", ["a note for the status line"])
    notify = NotifySocket(tmp_path / "notify")
    env = bridge_env(NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="1500000")
    daemon = subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config)], env=env,
                              stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("wb"))
    try:
        assert wait_until(lambda: notify.lines("READY=1"), 20)
        assert wait_until(lambda: len(fake_omi.texts()) == 1, 20)
        assert wait_until(lambda: any("1 sent today" in m for _, m in notify.lines("STATUS=")), 20)
        assert wait_until(lambda: len(notify.lines("WATCHDOG=1")) >= 5, 15)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    assert wait_until(lambda: notify.lines("STOPPING=1"), 5)
    notify.close()
    status = [m for _, m in notify.lines("STATUS=")]
    assert status[0].startswith("STATUS=") and "pending" in status[0] and "dead" in status[0]
    assert "STATUS=0 pending, 1 sent today, 0 dead, all sources ok" in status
    ready_at = notify.lines("READY=1")[0][0]
    assert all(t >= ready_at for t, _ in notify.lines("WATCHDOG=1"))
    pings = [t for t, _ in notify.lines("WATCHDOG=1")]
    assert max(b - a for a, b in itertools.pairwise(pings)) < 1.5  # within WATCHDOG_USEC


async def test_a_blocked_event_loop_stops_the_watchdog_pings(tmp_path, fake_omi, monkeypatch) -> None:
    notify = NotifySocket(tmp_path / "notify")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "300000")  # a ping every 0.1 s
    monkeypatch.setenv("OMI_API_KEY", API_KEY)
    config = load_config(write_config(tmp_path, fake_omi.url))
    store = Store(config.state_path)
    client = _client(config)
    bridge = Bridge(config, store, client, {})
    stop = asyncio.Event()
    running = asyncio.create_task(bridge.run_forever(stop))
    try:
        await asyncio.sleep(1)
        before = len(notify.lines("WATCHDOG=1"))
        assert before >= 3
        blocked_at = time.monotonic()
        time.sleep(1.5)  # the loop is stuck: no task runs, so no ping may go out
        blocked_until = time.monotonic()
        await asyncio.sleep(0.8)
        pings = [t for t, _ in notify.lines("WATCHDOG=1")]
        assert not [t for t in pings if blocked_at + 0.3 < t < blocked_until]
        assert [t for t in pings if t > blocked_until]  # and they come back with the loop
    finally:
        stop.set()
        await running
        await client.aclose()
        store.close()
        notify.close()


# -- /healthz and /metrics -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_listener(config: Path, port: int) -> None:
    listen_on(config, f"127.0.0.1:{port}")


def start(config: Path, log: Path, *extra: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bridge", "run", "-c", str(config), *extra],
                            env=bridge_env(**env), stdout=subprocess.DEVNULL, stderr=log.open("ab"))


def test_metrics_parse_and_match_the_store_after_a_run(tmp_path, fake_omi) -> None:
    port = free_port()
    config = write_config(tmp_path, fake_omi.url)
    with_listener(config, port)
    fake_omi.script.extend(["503", "429:1", "ok", "400", "ok", "ok"])
    drop_files(tmp_path / "spool", [f"note {n}" for n in range(5)])
    (tmp_path / "spool" / "broken.json").write_text("{not json")
    daemon = start(config, tmp_path / "log")
    try:
        store = Store(tmp_path / "state.db")
        assert wait_until(lambda: store.counts()["sent"] + store.counts()["dead"] == 5, 30)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        counts = store.counts()
        skipped = store.rows("SELECT count(*) AS n FROM skipped")[0]["n"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    for state in ("pending", "inflight", "sent", "dead"):
        assert samples[("omi_bridge_outbox_rows", (("state", state),))] == counts[state]
    assert counts["sent"] == 4 and counts["dead"] == 1
    assert samples[("omi_bridge_sends_total", (("result", "sent"),))] == 4
    assert samples[("omi_bridge_sends_total", (("result", "dead"),))] == 1
    assert samples[("omi_bridge_sends_total", (("result", "rate_limited"),))] == 1
    assert samples[("omi_bridge_sends_total", (("result", "retry"),))] == 1
    assert samples[("omi_bridge_retries_total", ())] == 1
    assert samples[("omi_bridge_rate_limit_pauses_total", ())] == 1
    assert samples[("omi_bridge_omi_request_seconds_count", ())] == 7  # 4 sent + 503 + 429 + 400
    assert samples[("omi_bridge_connector_failing", (("connector", "drop"),))] == 0
    assert samples[("omi_bridge_connector_last_success_timestamp_seconds", (("connector", "drop"),))] > 0
    assert sum(v for (name, _), v in samples.items() if name == "omi_bridge_skipped_items") == skipped == 1
    assert API_KEY not in text


def state_on_tmpfs(tmp_path: Path, fake_omi, size: str) -> tuple[Path, Path, int]:
    """A config with a listener whose state file is on a small file system of its own (the test
    fills it up and frees it); the folder, the config and the listener's port."""
    state = tmp_path / "state"
    state.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(state)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    port = free_port()
    config = write_config(tmp_path, fake_omi.url)
    with_listener(config, port)
    config.write_text(config.read_text().replace('path = "state.db"', 'path = "state/state.db"'))
    return state, config, port


def fill(path: Path) -> None:
    """Write ``path`` until its file system is full. Unbuffered: a buffered file keeps what a
    full disk refused and raises it again when it is closed."""
    with contextlib.suppress(OSError), path.open("wb", buffering=0) as file:
        while True:
            file.write(b"\0" * 65536)


def test_healthz_turns_503_while_the_store_cannot_be_written(tmp_path, fake_omi) -> None:
    state, config, port = state_on_tmpfs(tmp_path, fake_omi, "16m")
    daemon = start(config, tmp_path / "log")
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        assert wait_until(lambda: _get(url) is not None and _get(url).status_code == 200, 20)
        body = _get(url).json()
        assert body["status"] == "ok" and body["store"] == "writable"
        assert body["connectors"]["drop"]["state"] in ("ok", "starting")
        assert set(body["outbox"]) == {"pending", "inflight", "sent", "dead"}
        filler = state / "filler"
        fill(filler)
        try:
            answer = httpx.get(url, timeout=10)
        finally:
            filler.unlink()
        assert answer.status_code == 503
        assert answer.json()["status"] == "unhealthy" and "full" in answer.json()["store"]
        assert wait_until(lambda: _get(url).status_code == 200, 20)  # and healthy again once it can write
        assert httpx.get(f"http://127.0.0.1:{port}/nothing-here").status_code == 404
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        subprocess.run(["umount", "-l", str(state)], capture_output=True)
    assert code == 0


def test_a_full_state_disk_fails_the_state_once_and_the_bridge_recovers_by_itself(tmp_path, fake_omi) -> None:
    # Omi answers slowly, and the disk fills while a send is out
    state, config, port = state_on_tmpfs(tmp_path, fake_omi, "4m")
    fake_omi.script.extend(["slow:3"])
    log = tmp_path / "log"
    daemon = start(config, log)
    url = f"http://127.0.0.1:{port}"
    filler = state / "filler"
    try:
        assert wait_until(lambda: _get(f"{url}/healthz") is not None, 20)
        drop_files(tmp_path / "spool", ["sent while the disk fills"])
        assert wait_until(lambda: [a for a in fake_omi.arrivals if a[1] == "POST"], 20)  # out; answered in 3 s
        fill(filler)
        drop_files(tmp_path / "spool", ["dropped while the disk is full"])
        assert wait_until(lambda: "state: cannot write" in log.read_text(), 20)
        answer = httpx.get(f"{url}/healthz", timeout=10)
        assert answer.status_code == 503 and answer.json()["state"]["state"] == "failing"
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
        assert "omi_bridge_state_failing 1.0" in metrics
        status = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(config)], env=bridge_env(),
                                capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr  # status only reads: it works on a full disk
        shown = " ".join(status.stdout.split())
        assert "CANNOT BE WRITTEN" in shown and "no space" in shown
        time.sleep(2)  # a few polls while full: none may say more, or send anything
        posts_while_full = [a for a in fake_omi.arrivals if a[1] == "POST"]
        filler.unlink()  # space again: no restart, no command
        assert wait_until(lambda: "takes writes again" in log.read_text(), 20)
        assert wait_until(lambda: len(fake_omi.conversations) == 2, 30)
        assert wait_until(lambda: _get(f"{url}/healthz").status_code == 200, 20)
        status = subprocess.run([sys.executable, "-m", "bridge", "status", "-c", str(config), "--json"],
                                env=bridge_env(), capture_output=True, text=True, timeout=30)
        info = json.loads(status.stdout)
        assert info["state"]["state"] == "ok" and info["outbox"]["sent"] == 2 and info["outbox"]["inflight"] == 0
    finally:
        filler.unlink(missing_ok=True)
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(60)
        subprocess.run(["umount", "-l", str(state)], capture_output=True)
    assert code == 0
    text = log.read_text()
    assert len(posts_while_full) == 1  # nothing was claimed while the outcome could not be recorded
    assert sorted(fake_omi.texts()) == ["dropped while the disk is full", "sent while the disk fills"]  # once each
    assert len([line for line in text.splitlines() if "state: cannot write" in line]) == 1, text
    assert len([line for line in text.splitlines() if "takes writes again" in line]) == 1, text
    assert "Traceback" not in text and "never retrieved" not in text, text
    assert fake_omi.violations == []


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None


# -- logs ------------------------------------------------------------------------------------------


def test_json_logs_are_one_object_per_line_without_secrets(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url)
    fake_omi.script.extend(["400"])
    drop_files(tmp_path / "spool", ["will be refused"])
    log = tmp_path / "log"
    daemon = start(config, log, "--log-format", "json")
    try:
        assert wait_until(lambda: "dead-lettered" in log.read_text(), 20)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"time", "level", "logger", "message"} <= entries[0].keys()
    assert any(e["level"] == "error" and "dead-lettered" in e["message"] for e in entries)
    assert API_KEY not in log.read_text()


def test_under_journald_each_line_carries_its_priority(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url)
    fake_omi.script.extend(["400"])
    drop_files(tmp_path / "spool", ["will be refused"])
    log = tmp_path / "log"
    log.touch()
    info = os.stat(log)
    daemon = start(config, log, JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
    try:
        assert wait_until(lambda: "dead-lettered" in log.read_text(), 20)
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    lines = log.read_text().splitlines()
    assert all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert any(line.startswith("<3>") and "dead-lettered" in line for line in lines)
    assert any(line.startswith("<6>bridge.daemon: omi-bridge running") for line in lines)
