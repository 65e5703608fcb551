"""Docs that cannot drift: every option is in the example config, every command in the README."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from bridge.config import HttpConfig, OmiConfig, StateConfig
from bridge.registry import connector_types, load_connector_type

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "config.example.toml").read_text()
README = (ROOT / "README.md").read_text()


def _documented(option: str) -> bool:
    return re.search(rf"^#?\s*{re.escape(option)}\s*=", EXAMPLE, re.MULTILINE) is not None


@pytest.mark.parametrize("model", [OmiConfig, StateConfig, HttpConfig])
def test_every_core_option_is_in_the_example_config(model):
    missing = [name for name in model.model_fields if not _documented(name)]
    assert missing == []


BUILTIN = {"spool": "SpoolConnector", "imap": "ImapConnector", "mbox": "MboxConnector",
           "maildir": "MaildirConnector", "eml": "EmlConnector", "slack": "SlackConnector",
           "slack-export": "SlackExportConnector", "whatsapp": "WhatsAppConnector",
           "telegram-export": "TelegramConnector", "discord-export": "DiscordConnector",
           "matrix": "MatrixConnector", "messenger": "MessengerConnector", "instagram": "InstagramConnector",
           "sms-backup": "SmsBackupConnector", "imessage": "IMessageConnector", "google-chat": "GoogleChatConnector",
           "linkedin": "LinkedInConnector", "x-dms": "XDmsConnector", "skype": "SkypeConnector",
           "line": "LineConnector"}


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_every_builtin_connector_option_is_in_the_example_config(kind):
    config = load_connector_type(kind).Config
    missing = [name for name in config.model_fields if not _documented(name)]
    assert missing == []
    assert re.search(rf'^#?\s*type = "{kind}"', EXAMPLE, re.MULTILINE) or f'"{kind}"' in EXAMPLE


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_builtin_connectors_are_found_through_the_entry_point_group(kind):
    assert kind in connector_types()
    assert load_connector_type(kind).__name__ == BUILTIN[kind]
    assert f"`{kind}`" in README


@pytest.mark.parametrize("command", ["run", "run -c", "--once", "check", "status", "retry", "preview", "plan",
                                     "login", "console"])
def test_every_command_is_in_the_readme(command):
    assert f"omi-bridge {command}" in README or command in README


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    match = re.search(r"^# test\n(.+)$", README, re.MULTILINE)
    assert match, "README must give the test command under a '# test' line"
    assert match.group(1).strip() in ci


def test_the_connector_guide_names_only_what_exists():
    from bridge.connector import Sink
    from bridge.testing import ConnectorContract

    guide = (ROOT / "docs" / "connectors.md").read_text()
    for attribute in set(re.findall(r"`sink\.(\w+)", guide)):
        assert hasattr(Sink, attribute), f"docs/connectors.md names sink.{attribute}"
    for method in ("config", "connector_class", "add_items"):
        assert f"def {method}(self" in guide and hasattr(ConnectorContract, method)
    assert 'notes = "omi_bridge_notes:NotesConnector"' in guide
    assert 'notes = "omi_bridge_notes:NotesConnector"' in (ROOT / "tests/example_connector/pyproject.toml").read_text()


def test_the_service_config_the_readme_makes_reads_its_key_from_credentials_and_spools_outside_etc(tmp_path,
                                                                                                  monkeypatch):
    from bridge.config import load_config

    command = re.search(r"^(sed -e .*?) > /etc/omi-bridge/config.toml$", README.replace("\\\n", ""), re.MULTILINE)
    assert command, "the README's service set-up makes the config with sed"
    made = subprocess.run(f"{command.group(1)}", shell=True, cwd=ROOT, capture_output=True, text=True, check=True)
    (tmp_path / "config.toml").write_text(made.stdout)
    (tmp_path / "omi_api_key").write_text("the-key\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))  # what LoadCredential= gives the service
    monkeypatch.delenv("OMI_API_KEY", raising=False)
    config = load_config(tmp_path / "config.toml")
    assert config.omi.api_key is not None and config.omi.api_key.get_secret_value() == "the-key"
    assert str(config.connectors["inbox-drop"].path) == "/var/spool/omi-bridge"
    unit = (ROOT / "packaging" / "omi-bridge.service").read_text()
    assert "ReadWritePaths=/var/spool/omi-bridge" in unit and "SupplementaryGroups=omi-spool" in unit
