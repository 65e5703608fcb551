"""SIGHUP reloads the config of a running daemon: a real process, a real signal, a real config file."""

from __future__ import annotations

import signal

from tests.conftest import drop_files, start_daemon, wait_until, write_config

NOTES = '[connectors.notes]\ntype = "spool"\npath = "notes"\npoll_interval = 0.5\nsettle_seconds = 0\n'


def test_sighup_reloads_the_config_restarting_only_what_changed_and_refuses_a_broken_one(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    log = tmp_path / "log"
    daemon = start_daemon(config, log)
    try:
        drop_files(tmp_path / "spool", ["before any reload"])
        assert wait_until(lambda: fake_omi.texts() == ["before any reload"], 20)

        # a connector added: it starts; the other keeps running untouched
        config.write_text(config.read_text() + "\n" + NOTES)
        daemon.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload: added: notes" in log.read_text(), 20)
        drop_files(tmp_path / "notes", ["into the added source"])
        assert wait_until(lambda: "into the added source" in fake_omi.texts(), 20)

        # a broken config: one ERROR line with the problems, and the daemon runs on as it was
        good = config.read_text()
        config.write_text(good.replace("settle_seconds = 0\n", "settle_seconds = 0\nsettle_secnds = 1\n", 1))
        daemon.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "is not valid, still running on the config as it was" in log.read_text(), 20)
        drop_files(tmp_path / "spool", ["after the broken reload"])
        assert wait_until(lambda: "after the broken reload" in fake_omi.texts(), 20)

        # one connector's setting changed: only that one restarts, and [omi] waits for a restart
        config.write_text(good.replace('path = "notes"\npoll_interval = 0.5', 'path = "notes"\npoll_interval = 0.4')
                          .replace("retry_max = 2", "retry_max = 3"))
        daemon.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reload: restarted with new settings: notes" in log.read_text(), 20)
        drop_files(tmp_path / "notes", ["after the restart of one source"])
        assert wait_until(lambda: "after the restart of one source" in fake_omi.texts(), 20)
        assert daemon.poll() is None  # SIGHUP never stops it
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
    assert code == 0
    text = log.read_text()
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "settle_secnds" in errors[0], text
    assert "[omi] changed too: that takes a restart" in text
    assert "source failing" not in text and "Traceback" not in text
    assert sorted(fake_omi.texts()) == sorted(["before any reload", "into the added source", "after the broken reload",
                                               "after the restart of one source"])
