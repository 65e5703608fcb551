"""kill -9 at random moments while the daemon ingests and sends: nothing lost, nothing twice."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter

import pytest

from tests.conftest import drop_files, run_cli, start_daemon, wait_until, write_config

pytestmark = pytest.mark.slow

KILLS = 12


def test_kill_9_at_random_moments_then_once_delivers_everything_exactly_once(tmp_path, fake_omi):
    rng = random.Random(20261123)
    fake_omi.fault_rates = {"500": 0.03, "500-after": 0.04, "drop": 0.08, "drop-before": 0.04, "429:1": 0.03}
    fake_omi.latency = 0.15  # wide window for a kill while a request is inside Omi
    # reconcile_delay > latency: a request abandoned by a kill has finished in Omi before we look
    config = write_config(tmp_path, fake_omi.url, reconcile_delay=1)
    spool = tmp_path / "spool"
    log = tmp_path / "daemon.log"
    texts: list[str] = []
    killed_with_work_in_flight = 0

    for round_ in range(KILLS):
        batch = [f"round {round_} item {i}" for i in range(rng.randint(3, 8))]
        drop_files(spool, batch[::2])
        # half of them dated days back, where Omi files them (a lost answer is looked up there)
        drop_files(spool, [json.dumps({"text": text, "started_at": f"2026-11-{10 + round_ % 9:02d}T08:{i:02d}:00Z"})
                           for i, text in enumerate(batch[1::2])], suffix=".json")
        texts += batch
        daemon = start_daemon(config, log)
        time.sleep(rng.uniform(0.3, 1.6))
        before = fake_omi.arrived
        daemon.send_signal(signal.SIGKILL)
        daemon.wait(10)
        killed_with_work_in_flight += fake_omi.arrived > len(fake_omi.posts())
        assert before <= fake_omi.arrived

    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert wait_until(lambda: Counter(fake_omi.texts()) == Counter(texts), 5), (
        Counter(fake_omi.texts()) - Counter(texts), Counter(texts) - Counter(fake_omi.texts()))
    assert fake_omi.violations == []
    assert killed_with_work_in_flight >= 1  # some kills really hit a request inside Omi
    assert not list(spool.glob("*.txt"))  # every file taken out of the spool
