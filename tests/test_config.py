from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import load_config, secrets_of
from bridge.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def _problems(path: Path, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return info.value.problems


def test_example_config_loads_with_only_the_api_key_set(monkeypatch):
    monkeypatch.setenv("OMI_API_KEY", "omi_dev_example")
    config = load_config(ROOT / "config.example.toml")
    assert config.omi.api_key.get_secret_value() == "omi_dev_example"
    assert config.omi.base_url == "https://api.omi.me"
    spool = config.connectors["inbox-drop"]
    assert spool.type == "spool"
    assert spool.path == ROOT / "spool"  # relative to the config file, not the working directory
    assert config.state_path == ROOT / "omi-bridge.db"


def test_env_expansion_and_escape(tmp_path, monkeypatch):
    monkeypatch.setenv("KEY", "k-123")
    monkeypatch.setenv("SPEC", "notes")
    path = _write(tmp_path, '[omi]\napi_key = "${KEY}"\n[connectors.a]\ntype = "spool"\n'
                            'path = "$${literal}"\ntext_source_spec = "${SPEC}"\n')
    config = load_config(path)
    assert config.omi.api_key.get_secret_value() == "k-123"
    assert config.connectors["a"].text_source_spec == "notes"
    assert config.connectors["a"].path == tmp_path / "${literal}"


def test_every_problem_is_listed_with_its_key_path(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = _write(tmp_path, """
[omi]
api_key = "${NOPE_NOT_SET}"
timeout = -1
max_in_flight = "many"
colour = "blue"

[connectors.a]
type = "spool"
poll_interval = 0

[connectors.b]
type = "carrier-pigeon"
""")
    problems = _problems(path)
    assert "omi.api_key: environment variable NOPE_NOT_SET is not set" in problems
    assert any(p.startswith("omi.timeout: ") for p in problems)
    assert any(p.startswith("omi.max_in_flight: ") for p in problems)
    assert "omi.colour: unknown option" in problems
    assert "connectors.a.path: required" in problems
    assert any(p.startswith("connectors.a.poll_interval: ") for p in problems)
    assert any(p.startswith("connectors.b.type: unknown connector type 'carrier-pigeon'") for p in problems)
    assert len(problems) == 7


def test_connector_problems_name_the_connector(tmp_path):
    path = _write(tmp_path, """
[omi]
api_key = "k"
[connectors.a]
type = "spool"
poll_interval = 0
extra = 1
[connectors.b]
type = "carrier-pigeon"
[connectors.c]
path = "x"
""")
    problems = _problems(path)
    assert "connectors.a.path: required" in problems
    assert any(p.startswith("connectors.a.poll_interval: ") for p in problems)
    assert "connectors.a.extra: unknown option" in problems
    assert ("connectors.b.type: unknown connector type 'carrier-pigeon' "
            "(known: discord-export, eml, google-chat, imap, imessage, instagram, line, linkedin, maildir, "
            "matrix, mbox, messenger, skype, slack, slack-export, sms-backup, spool, telegram-export, "
            "whatsapp, x-dms)") in problems
    assert any(p.startswith("connectors.c.type: required") for p in problems)


def test_broken_toml_is_one_clear_line(tmp_path):
    path = _write(tmp_path, "[omi\napi_key = 1\n")
    (problem,) = _problems(path)
    assert problem.startswith("not valid TOML: ") and "line 1" in problem


def test_missing_file_says_how_to_point_at_one(tmp_path):
    (problem,) = _problems(tmp_path / "nope.toml")
    assert "OMI_BRIDGE_CONFIG" in problem


def test_api_key_from_file_relative_to_credentials_directory(tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "omi_api_key").write_text("from-file-key\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = _write(tmp_path, '[omi]\napi_key_file = "omi_api_key"\n')
    assert load_config(path).omi.api_key.get_secret_value() == "from-file-key"


def test_unreadable_secret_file_and_double_secret_are_reported(tmp_path):
    path = _write(tmp_path, '[omi]\napi_key_file = "missing"\n')
    (problem,) = _problems(path)
    assert problem.startswith("omi.api_key_file: cannot read ") and "missing" in problem
    path = _write(tmp_path, '[omi]\napi_key = "a"\napi_key_file = "b"\n')
    assert _problems(path) == ["omi.api_key: set either api_key or api_key_file, not both"]


def test_api_key_required_except_for_preview(tmp_path):
    path = _write(tmp_path, '[omi]\napi_key = "${UNSET_FOR_TEST}"\n')
    assert _problems(path) == ["omi.api_key: environment variable UNSET_FOR_TEST is not set"]
    assert load_config(path, need_secrets=False).omi.api_key is None
    path = _write(tmp_path, "")
    assert _problems(path)[0].startswith("omi.api_key: required")


def test_secret_values_never_appear_in_errors(tmp_path):
    path = _write(tmp_path, '[omi]\napi_key = "sk-very-secret-value"\ntimeout = "sk-very-secret-value"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "sk-very-secret-value" not in info.value.render()
    assert repr(load_config(_write(tmp_path, '[omi]\napi_key = "sk-very-secret-value"\n')).omi).find(
        "sk-very-secret-value") == -1


def test_state_defaults_to_systemd_state_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    path = _write(tmp_path, '[omi]\napi_key = "k"\n')
    assert load_config(path).state_path == tmp_path / "state" / "omi-bridge.db"


def test_rate_limit_is_parsed(tmp_path):
    path = _write(tmp_path, '[omi]\napi_key = "k"\nrate_limit = "25/hour"\n')
    assert load_config(path).omi.pacing() == (25, 3600.0)
    path = _write(tmp_path, '[omi]\napi_key = "k"\nrate_limit = "lots"\n')
    assert _problems(path)[0].startswith("omi.rate_limit: must look like")


def test_imap_refuses_cleartext_to_a_remote_host_and_needs_a_secret(tmp_path):
    path = _write(tmp_path, """
[omi]
api_key = "k"
[connectors.m]
type = "imap"
host = "mail.example.com"
security = "none"
username = "me"
password = "pw"
[connectors.n]
type = "imap"
host = "mail.example.com"
username = "me"
""")
    problems = _problems(path)
    assert any(p.startswith("connectors.m: security = \"none\" sends the password in clear") for p in problems)
    assert any(p.startswith("connectors.n: password (or password_file) is required") for p in problems)


def test_imap_password_file_and_loopback_cleartext(tmp_path):
    (tmp_path / "imap_pw").write_text("s3cret\n")
    path = _write(tmp_path, '[omi]\napi_key = "k"\n[connectors.m]\ntype = "imap"\nhost = "127.0.0.1"\n'
                            'security = "none"\nusername = "me"\npassword_file = "imap_pw"\n')
    config = load_config(path).connectors["m"]
    assert config.password.get_secret_value() == "s3cret"
    assert config.folders == ["INBOX"] and config.idle is True and config.text_source_spec == "email"


def test_imap_provider_presets_fill_what_is_unset_and_yield_to_what_is_set(tmp_path):
    (tmp_path / "google_secret").write_text("GOCSPX-desktop-secret\n")
    path = _write(tmp_path, """
[omi]
api_key = "k"
[connectors.gmail]
type = "imap"
provider = "gmail"
username = "me@gmail.com"
oauth2_client_id = "123.apps.googleusercontent.com"
oauth2_client_secret_file = "google_secret"
[connectors.outlook]
type = "imap"
provider = "outlook"
username = "me@outlook.com"
oauth2_client_id = "00000000-1111-2222-3333-444444444444"
[connectors.work]
type = "imap"
provider = "office365"
username = "me@contoso.com"
oauth2_client_id = "c"
oauth2_tenant = "contoso.onmicrosoft.com"
folders = ["INBOX"]
[connectors.fastmail]
type = "imap"
provider = "fastmail"
username = "me@fastmail.com"
password = "app-password"
security = "starttls"
""")
    config = load_config(path)
    gmail, outlook, work, fastmail = (config.connectors[n] for n in ("gmail", "outlook", "work", "fastmail"))
    assert (gmail.host, gmail.port, gmail.security, gmail.auth) == ("imap.gmail.com", 993, "ssl", "xoauth2")
    assert gmail.folders == ["INBOX", "\\Sent"]  # Sent by its SPECIAL-USE flag; never Spam or Trash
    app = gmail.oauth_app()
    assert app.flow == "browser" and app.scopes == ("https://mail.google.com/",)
    assert app.client_secret == "GOCSPX-desktop-secret" and ("access_type", "offline") in app.authorize_params
    assert "GOCSPX-desktop-secret" in secrets_of(config)  # scrubbed from logs like any secret
    assert outlook.host == "outlook.office365.com" and outlook.oauth_app().flow == "device"
    assert outlook.oauth2_device_url == "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode"
    assert outlook.oauth_app().scopes == ("https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access")
    assert work.oauth2_token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    assert work.folders == ["INBOX"]
    # a security of one's own: the preset's 993 would not fit it; the connector's default (143) does
    assert (fastmail.host, fastmail.port, fastmail.security, fastmail.auth) == (
        "imap.fastmail.com", None, "starttls", "password")
    assert fastmail.oauth_app() is None


def test_imap_provider_mistakes_are_one_line_each(tmp_path):
    path = _write(tmp_path, """
[omi]
api_key = "k"
[connectors.hotmail]
type = "imap"
provider = "outlook"
username = "me@hotmail.com"
password = "old-password"
[connectors.gmail]
type = "imap"
provider = "gmail"
username = "me@gmail.com"
oauth2_client_id = "123.apps.googleusercontent.com"
[connectors.icloud]
type = "imap"
provider = "icloud"
username = "me@icloud.com"
[connectors.custom]
type = "imap"
host = "mail.example.com"
username = "me"
oauth2_client_id = "c"
[connectors.both]
type = "imap"
host = "mail.example.com"
username = "me"
auth = "xoauth2"
oauth2_client_id = "c"
oauth2_token_command = "helper"
""")
    problems = _problems(path)
    assert len(problems) == 5
    assert any(p.startswith("connectors.hotmail: Outlook.com takes only OAuth2 for IMAP") for p in problems)
    assert any(p.startswith("connectors.gmail: oauth2_client_secret is required for Google") for p in problems)
    assert any(p.startswith("connectors.icloud: password (or password_file) is required") and
               "account.apple.com" in p for p in problems)
    assert any(p.startswith("connectors.custom: oauth2_client_id without a provider") for p in problems)
    assert any(p.startswith('connectors.both: auth = "xoauth2" needs oauth2_client_id') for p in problems)
    assert all("old-password" not in p for p in problems)


def test_a_secret_without_a_value_is_noted_for_the_commands_that_need_none(tmp_path):
    (tmp_path / "token").write_text("xoxb-real-bot-token\n")
    path = _write(tmp_path, """
[omi]
api_key_file = "no-such-key-file"
[connectors.mail]
type = "imap"
host = "127.0.0.1"
security = "none"
username = "me"
password = "${UNSET_IMAP_PASSWORD}"
[connectors.chat]
type = "slack"
bot_token_file = "token"
app_token = "${UNSET_APP_TOKEN}"
[connectors.notes]
type = "spool"
path = "${UNSET_SPOOL_DIR}"
""")
    problems = _problems(path)
    assert "connectors.mail.password: environment variable UNSET_IMAP_PASSWORD is not set" in problems
    assert any(p.startswith("omi.api_key_file: cannot read ") for p in problems)
    # a variable that is no secret is needed by every command
    assert _problems(path, need_secrets=False) == [
        "connectors.notes.path: environment variable UNSET_SPOOL_DIR is not set"]

    path.write_text(path.read_text().replace("${UNSET_SPOOL_DIR}", "spool"))
    config = load_config(path, need_secrets=False)
    assert config.omi.api_key is None
    assert config.missing_for("mail") == "UNSET_IMAP_PASSWORD is not set"
    assert config.missing_for("chat") == "UNSET_APP_TOKEN is not set"
    assert config.missing_for("notes") is None
    assert secrets_of(config) == ["xoxb-real-bot-token"]  # a placeholder is no secret to scrub
