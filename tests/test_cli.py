"""The command line as a user meets it: exit codes, one-line errors, no secrets in output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bridge.store import Store
from tests.conftest import API_KEY, bridge_env, drop_files, run_cli, write_config
from tests.fake_omi import FakeOmi


def test_bad_config_is_exit_2_with_every_problem_and_no_traceback(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[omi]\napi_key = "k"\ntimeout = "slow"\n[connectors.x]\ntype = "nope"\n')
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 2
    assert "omi.timeout: " in result.stderr
    assert ("connectors.x.type: unknown connector type 'nope' "
            "(known: discord-export, eml, google-chat, imap, imessage, instagram, line, linkedin, maildir, "
            "matrix, mbox, messenger, skype, slack, slack-export, sms-backup, spool, telegram-export, "
            "whatsapp, x-dms)") in result.stderr
    assert "Traceback" not in result.stderr


def test_broken_toml_and_missing_env_var(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[omi\n")
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "not valid TOML" in result.stderr

    config.write_text('[omi]\napi_key = "${OMI_API_KEY}"\n')
    env = bridge_env()
    del env["OMI_API_KEY"]
    result = run_cli("run", "-c", str(config), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"{config}: omi.api_key: environment variable OMI_API_KEY is not set"


def test_config_from_environment_variable(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    result = run_cli("status", env=bridge_env(OMI_BRIDGE_CONFIG=str(config)))
    assert result.returncode == 0 and "no state yet" in result.stdout


def test_usage_error_is_exit_2():
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("retry", "-c", "/nonexistent.toml").returncode == 2


def test_preview_needs_no_key_and_sends_nothing(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    drop_files(tmp_path / "spool", ["preview this"])
    env = bridge_env()
    del env["OMI_API_KEY"]
    result = run_cli("preview", "-c", str(config), env=env)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    record = json.loads(line)
    assert record["state"] == "new" and record["request"]["text"] == "preview this"
    assert record["request"]["text_source"] == "message" and record["request"]["text_source_spec"] == "file"
    assert fake_omi.requests == [] and list((tmp_path / "spool").glob("*.txt"))


def test_check_reports_each_source_and_the_keys_scopes(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    (tmp_path / "spool").mkdir()
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drop: ok" in result.stdout and "conversations:write" in result.stdout

    fake_omi.keys[API_KEY] = ["conversations:read"]
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 1
    assert "the key lacks conversations:write" in result.stdout


def test_check_says_when_a_429_paused_the_bridges_writes(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert "paused" not in run_cli("check", "-c", str(config)).stdout
    store = Store(tmp_path / "state.db")
    store.set_meta("pause_until", repr(time.time() + 600))  # what a 429 leaves for the daemon
    store.close()
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 0  # the key works; the pause is Omi's and ends by itself
    assert "omi: ok" in result.stdout and "omi: writes paused until" in result.stdout


def test_check_with_a_wrong_key_or_unreachable_omi_fails_clearly(tmp_path):
    with FakeOmi(keys={"other": ["conversations:write"]}) as fake:
        config = write_config(tmp_path, fake.url)
        result = run_cli("check", "-c", str(config))
        assert result.returncode == 1 and "missing, wrong or revoked (401)" in result.stdout
        assert API_KEY not in result.stdout + result.stderr
    result = run_cli("check", "-c", str(config))  # the server is gone now
    assert result.returncode == 1 and "cannot reach" in result.stdout


def test_once_with_a_refused_key_exits_1_and_keeps_everything(tmp_path):
    with FakeOmi(keys={}) as fake:
        config = write_config(tmp_path, fake.url, auth_recheck=300)
        drop_files(tmp_path / "spool", ["kept for later"])
        result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 1
    # said once, at start, before any item is due; the last line says why the row waits
    assert result.stderr.count("cannot deliver to Omi: the API key is missing, wrong or revoked (401)") == 1
    assert "pending 1" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 row(s) wait because Omi cannot be delivered to:")
    assert "(401" in result.stdout.splitlines()[-1]
    assert API_KEY not in result.stdout + result.stderr


def test_status_retry_and_dead_rows(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    drop_files(tmp_path / "spool", ["will be rejected", "will pass"])
    names = sorted(path.name for path in (tmp_path / "spool").iterdir())
    fake_omi.script.extend(["422"])  # Omi refuses the first request as invalid
    once = run_cli("run", "--once", "-c", str(config))
    assert once.returncode == 1  # a row went dead in this run
    assert "sent 1, dead 1" in once.stdout
    refused = next(name for name in names if f"not delivered: drop: file {name}: 422" in once.stderr)
    [delivered] = [name for name in names if name != refused]
    [conversation] = fake_omi.conversations
    # each delivery is one line a person can find: the source, what it was, and Omi's id
    assert f"drop: delivered file {delivered} as Omi conversation {conversation['id']}" in once.stderr
    status = run_cli("status", "-c", str(config))
    assert status.returncode == 0
    assert "1 sent" in status.stdout and "1 dead" in status.stdout
    assert '422: {"detail": "injected 422"}' in status.stdout and f"file {refused}" in status.stdout
    data = json.loads(run_cli("status", "--json", "-c", str(config)).stdout)
    assert data["outbox"]["dead"] == 1 and data["dead"][0]["label"] == f"file {refused}"
    # and the delivered one can be found there too, with Omi's id
    assert [(d["label"], d["omi_id"]) for d in data["delivered"]] == [(f"file {delivered}", conversation["id"])]
    assert conversation["id"] in status.stdout
    dead_id = data["dead"][0]["id"]

    assert run_cli("retry", "-c", str(config)).returncode == 2  # neither ids nor --all
    result = run_cli("retry", str(dead_id), "-c", str(config))
    assert result.returncode == 0 and "1 dead row(s) back to pending" in result.stdout
    assert run_cli("run", "--once", "-c", str(config)).returncode == 0
    assert sorted(fake_omi.texts()) == ["will be rejected", "will pass"]  # revived and delivered


def test_secrets_never_appear_in_status_or_logs(tmp_path, fake_omi):
    secret = "omi_dev_SUPERSECRET_1234"
    fake_omi.keys[secret] = ["conversations:read", "conversations:write"]
    config = write_config(tmp_path, fake_omi.url)
    drop_files(tmp_path / "spool", [f"a note that quotes the key {secret} by accident"])
    env = bridge_env(OMI_API_KEY=secret)
    run = run_cli("run", "--once", "-c", str(config), "--log-level", "DEBUG", env=env)
    status = run_cli("status", "--json", "-c", str(config), env=env)
    for output in (run.stdout, run.stderr, status.stdout, status.stderr):
        assert secret not in output
    assert run.returncode == 0


def test_python_m_bridge_and_help_list_every_command():
    result = run_cli("--help")
    for command in ("run", "check", "status", "retry", "preview"):
        assert command in result.stdout


def test_options_may_come_before_the_command(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    result = run_cli("-c", str(config), "--log-level", "DEBUG", "status")
    assert result.returncode == 0 and "no state yet" in result.stdout


def test_without_c_the_error_names_every_place_it_looked(tmp_path):
    env = bridge_env(PYTHONPATH=str(Path(__file__).parent.parent))  # this checkout, from another folder
    result = subprocess.run([sys.executable, "-m", "bridge", "status"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"./config.toml in {tmp_path} and /etc/omi-bridge/config.toml" in result.stderr


def test_the_untouched_example_config_passes_check_but_for_omi(tmp_path):
    shutil.copy(Path(__file__).parent.parent / "config.example.toml", tmp_path / "config.toml")
    with FakeOmi(keys={API_KEY: ["conversations:read", "conversations:write"]}) as fake:
        text = (tmp_path / "config.toml").read_text().replace('"https://api.omi.me"', f'"{fake.url}"')
        (tmp_path / "config.toml").write_text(text)
        result = run_cli("check", "-c", str(tmp_path / "config.toml"))
    assert result.returncode == 0, result.stdout
    assert "inbox-drop: ok" in result.stdout and "created on the first poll" in result.stdout


def test_a_state_path_whose_folder_is_missing_is_refused_not_created(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    config.write_text(config.read_text().replace('path = "state.db"', 'path = "stat/state.db"'))
    result = run_cli("run", "--once", "-c", str(config))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"the state folder {tmp_path / 'stat'} does not exist (check [state] path)")
    assert not (tmp_path / "stat").exists()


def test_status_into_a_closed_pipe_is_quiet(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    drop_files(tmp_path / "spool", [f"note {i}" for i in range(3)])
    run_cli("run", "--once", "-c", str(config))
    result = subprocess.run(f"{sys.executable} -m bridge status --json -c {config} | head -1", shell=True,
                            env=bridge_env(), capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "{" and result.stderr == ""


def test_preview_right_after_a_drop_says_the_files_are_settling(tmp_path, fake_omi):
    connectors = '[connectors.drop]\ntype = "spool"\npath = "spool"\nsettle_seconds = 30\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)
    drop_files(tmp_path / "spool", ["fresh"])
    result = run_cli("preview", "-c", str(config))
    assert result.stdout == ""
    assert "drop: 1 file(s) younger than settle_seconds (30s): not shown; run preview again in" in result.stderr


def test_login_names_what_cannot_sign_in(tmp_path):
    imap = ('[connectors.pw-mail]\ntype = "imap"\nhost = "127.0.0.1"\nsecurity = "none"\nusername = "me"\n'
            'password = "imap-secret-42"\n')
    config = write_config(tmp_path, "http://127.0.0.1:9", connectors=imap + (
        '[connectors.drop]\ntype = "spool"\npath = "spool"\n'))
    unknown = run_cli("login", "work-mail", "-c", str(config), env=bridge_env(OMI_API_KEY=""))
    assert unknown.returncode == 2 and "no connector 'work-mail'" in unknown.stderr
    assert "pw-mail, drop" in unknown.stderr
    spool = run_cli("login", "drop", "-c", str(config))
    assert spool.returncode == 2 and "connectors.drop (type spool) has nothing to sign in to" in spool.stderr
    password = run_cli("login", "pw-mail", "-c", str(config))
    assert password.returncode == 2 and "connectors.pw-mail: does not sign in with OAuth2" in password.stderr
    assert "imap-secret-42" not in password.stderr and not (tmp_path / "state-tokens").exists()


def test_check_fails_where_run_would_on_the_state_folder_and_run_says_it_in_one_line(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url)
    (tmp_path / "spool").mkdir()
    config.write_text(config.read_text().replace('path = "state.db"', 'path = "stat/state.db"'))
    result = run_cli("check", "-c", str(config))
    assert result.returncode == 1
    assert f"state: FAILED: the state folder {tmp_path / 'stat'} does not exist" in result.stdout
    assert not (tmp_path / "stat").exists()

    # a folder nobody may write in, root included (tests run as root: permissions would not stop them)
    locked = tmp_path / "locked"
    locked.mkdir()
    config.write_text(config.read_text().replace('path = "stat/state.db"', 'path = "locked/state.db"'))
    if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode != 0:
        pytest.skip("this file system cannot make a folder immutable (chattr +i)")
    try:
        check = run_cli("check", "-c", str(config))
        run = run_cli("run", "--once", "-c", str(config))
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True)
    assert check.returncode == 1
    assert f"state: FAILED: cannot write in the state folder {locked}: Operation not permitted" in check.stdout
    assert "drop: ok" in check.stdout and "omi: ok" in check.stdout  # the rest is still checked
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1
    assert run.stderr.startswith(f"omi-bridge run: cannot write in the state folder {locked}: Operation not permitted")
    assert "PermissionError" not in run.stderr and "Traceback" not in run.stderr

    config.write_text(config.read_text().replace('path = "locked/state.db"', 'path = "state.db"'))
    good = run_cli("check", "-c", str(config))
    assert good.returncode == 0 and f"state: ok ({tmp_path / 'state.db'})" in good.stdout


IMAP_WITHOUT_ITS_PASSWORD = ('[connectors.mail]\ntype = "imap"\nhost = "127.0.0.1"\nsecurity = "none"\n'
                             'username = "me"\npassword = "${IMAP_PASSWORD}"\n\n'
                             '[connectors.drop]\ntype = "spool"\npath = "spool"\nsettle_seconds = 0\n')


def test_status_retry_plan_and_preview_work_without_the_secrets_they_do_not_use(tmp_path, fake_omi):
    config = write_config(tmp_path, fake_omi.url, connectors=IMAP_WITHOUT_ITS_PASSWORD)
    drop_files(tmp_path / "spool", ["a note for omi"])
    store = Store(tmp_path / "state.db")
    store.close()
    env = bridge_env()  # an admin shell: neither the service's IMAP_PASSWORD nor its OMI_API_KEY
    del env["OMI_API_KEY"]

    status = run_cli("status", "-c", str(config), env=env)
    assert status.returncode == 0, status.stderr
    assert "outbox: 0 pending" in status.stdout
    retry = run_cli("retry", "--all", "-c", str(config), env=env)
    assert retry.returncode == 0 and "0 dead row(s) back to pending" in retry.stdout, retry.stderr

    plan = run_cli("plan", "-c", str(config), env=env)
    assert plan.returncode == 0, plan.stderr
    assert "mail: cannot read the source: IMAP_PASSWORD is not set" in plan.stdout
    assert "drop: 1 item(s) read -> 1 conversation(s)" in plan.stdout
    preview = run_cli("preview", "-c", str(config), env=env)
    assert preview.returncode == 0, preview.stderr
    assert preview.stderr.strip() == "mail: IMAP_PASSWORD is not set; not read"
    assert json.loads(preview.stdout)["request"]["text"] == "a note for omi"

    login = run_cli("login", "mail", "-c", str(config), env=env)  # signing in would use it
    assert login.returncode == 2 and login.stderr.strip() == "omi-bridge login: mail: IMAP_PASSWORD is not set"

    # the commands that use every secret refuse to start, naming each one missing
    for command in ("check", "run"):
        result = run_cli(command, "-c", str(config), env=env)
        assert result.returncode == 2
        assert "connectors.mail.password: environment variable IMAP_PASSWORD is not set" in result.stderr
        assert "omi.api_key: environment variable OMI_API_KEY is not set" in result.stderr
