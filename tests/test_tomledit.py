"""The console's edits of the config file (bridge/tomledit.py) and its check of a form
(bridge/console/sources.py), without a browser: the rest of the file kept byte for byte, a write
refused when the file changed, and a form's problems in the words ``check`` uses."""

from __future__ import annotations

import os
import stat
from datetime import date

import pytest

from bridge import tomledit
from bridge.config import load_config
from bridge.console.kinds import KINDS, form_values, table_of
from bridge.console.sources import validate
from bridge.errors import ConfigError
from tests.conftest import write_config

PERSONAL = """
# Notes from my phone
[connectors.drop]   # the sync app writes here
type = "spool"
path = "spool"      # beside this file

# mail comes later
"""


def test_a_table_is_added_replaced_and_removed_keeping_every_other_byte() -> None:
    added = tomledit.with_table(PERSONAL, "home", {"type": "mbox", "path": "/srv/mail.mbox", "since": date(2026, 1, 2)})
    assert added == PERSONAL + '\n[connectors.home]\ntype = "mbox"\npath = "/srv/mail.mbox"\nsince = 2026-01-02\n'
    paused = tomledit.with_option(added, "drop", "paused", True)
    assert paused.replace("paused = true\n", "", 1) == added
    assert tomledit.with_option(paused, "drop", "paused", None) == added
    assert tomledit.without_table(added, "home") == PERSONAL
    changed = tomledit.with_table(added, "drop", {"type": "spool", "path": "inbox"})
    assert "[connectors.drop]   # the sync app writes here" in changed and 'path = "inbox"' in changed


def test_a_write_needs_the_file_as_it_was_read(tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(PERSONAL)
    config.chmod(0o640)
    read = tomledit.read(config)
    config.write_text(PERSONAL + "# typed in an editor meanwhile\n")
    with pytest.raises(tomledit.ChangedBehind):
        tomledit.write(read, "whatever")
    assert config.read_text().endswith("# typed in an editor meanwhile\n")
    again = tomledit.read(config)
    tomledit.write(again, again.text + "# from the console\n")
    assert config.read_text().endswith("meanwhile\n# from the console\n")
    assert stat.S_IMODE(config.stat().st_mode) == 0o640  # the person's mode kept


def test_a_secret_goes_to_an_owner_only_file(tmp_path) -> None:
    path = tomledit.save_secret(tmp_path / "state.db", "mail", "password", "s3cret-typed")
    assert path.read_text() == "s3cret-typed"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize(("kind", "form"), [
    ("outlook", {"username": "ann@outlook.com", "password": "app-pw"}),  # the provider refuses passwords
    ("imap", {"host": "mail.example.org", "username": "ann", "password": "pw", "security": "none"}),
    ("imap", {"host": "mail.example.org", "username": "ann", "password": "pw", "port": "99999"}),
    ("whatsapp", {"path": "/srv/chats", "timezone": "Mars/Olympus"}),
    ("slack", {"mode": "http", "bot_token": "xoxb-1"}),  # http mode without its signing secret
    ("matrix", {"homeserver": "matrix.example.org", "user_id": "me"}),
])
def test_a_form_is_refused_with_the_words_check_gives(tmp_path, kind, form) -> None:
    config_path = write_config(tmp_path, "http://127.0.0.1:9")
    os.environ.setdefault("OMI_API_KEY", "test-key")
    config = load_config(config_path)
    chosen = KINDS[kind]
    table = table_of(chosen, form_values(chosen, form))
    by_key, general, validated = validate(config, "new", table)
    assert validated is None
    # the same table written into the file by hand: what the loader (run, check) says of it
    with open(config_path, "a") as f:
        f.write(tomledit.render_table("new", table))
    with pytest.raises(ConfigError) as raised:
        load_config(config_path)
    said = [p for p in raised.value.problems if p.startswith("connectors.new")]
    shown = [f"connectors.new.{k}: {m}" for k, m in by_key.items()] + [f"connectors.new: {g}" for g in general]
    assert sorted(shown) == sorted(said)


def test_a_name_taken_or_not_a_bare_key_is_refused_beside_its_field(tmp_path) -> None:
    os.environ.setdefault("OMI_API_KEY", "test-key")
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))  # has a source called "drop"
    table = table_of(KINDS["spool"], {"path": "/srv/notes"})
    assert validate(config, "drop", table)[0] == {"name": "a source of that name exists already"}
    by_key, general, validated = validate(config, "my notes", {"type": "spool"})
    assert by_key == {"name": "a source's name is letters, digits, - and _ (up to 40)", "path": "required"}
    assert validated is None and general == []
    assert validate(config, "notes", table)[2] is not None


def test_an_outlook_form_becomes_a_table_the_provider_preset_completes(tmp_path) -> None:
    os.environ.setdefault("OMI_API_KEY", "test-key")
    config = load_config(write_config(tmp_path, "http://127.0.0.1:9"))
    kind = KINDS["outlook"]
    form = {"username": "ann@outlook.com", "oauth2_client_id": "a1b2", "group": "auto"}
    table = table_of(kind, form_values(kind, form))
    assert table == {"type": "imap", "provider": "outlook", "username": "ann@outlook.com", "oauth2_client_id": "a1b2",
                     "group": "auto"}
    validated = validate(config, "ann", table)[2]
    assert (validated.host, validated.auth) == ("outlook.office365.com", "xoauth2")
    assert validated.folders == ["INBOX", "\\Sent"]
