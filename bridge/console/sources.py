"""Adding a source from the console: the kinds a person picks from, the form each asks, and the
table it becomes; the form checked by the config loader's own validation (the same messages
``check`` gives), and tried before saving by the connector's ``check`` and ``plan``.

The form asks only for what a kind needs: a provider's preset (connectors/mail/providers.py)
fills host, port, security, folders and the way of signing in. A secret typed into the form is
never written into the config file, nor shown again: on saving it goes to an owner-only file in
the state folder, which the table names with ``X_file`` (bridge/tomledit.py).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bridge.config import Config
    from bridge.store import Store

__all__ = ["KINDS", "NAME", "Kind", "Option", "form_values", "table_of", "try_source", "validate"]

NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")  # a bare TOML key, and what logs and pages call the source


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    help: str  # one line, as the example config explains the option
    kind: str = "text"  # text | password | number | date | list | select
    choices: tuple[str, ...] = ()
    required: bool = False
    placeholder: str = ""


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    type: str  # the connector type the table names
    intro: str
    options: tuple[Option, ...]
    fixed: dict[str, Any] = field(default_factory=dict)  # keys every table of this kind has (provider = ...)


SINCE = Option("since", "Bring mail since", "a date (YYYY-MM-DD): mail from then on is sent too; empty: only mail "
               "that arrives from now on", "date")
GROUP = Option("group", "Grouping", "auto: old mail by thread and day, new mail one conversation each; thread: a "
               "thread's new mail within quiet_period is one; message: one conversation per mail", "select",
               ("auto", "thread", "message"))
FOLDERS = Option("folders", "Folders", 'comma-separated names, or special-use flags like \\Sent; default INBOX',
                 "list", placeholder="INBOX, \\Sent")


def _password_provider(provider: str, label: str) -> Kind:
    from connectors.mail.providers import PROVIDERS

    page = PROVIDERS[provider].app_password_page
    return Kind(provider, label, "imap", f"{label} over IMAP with an app password (made at {page}); host, port and "
                "folders come from the provider's settings.",
                (Option("username", "Address", "the account's full email address", required=True),
                 Option("password", "App password", "made at the provider's page above; kept in an owner-only file "
                        "beside the state, never in the config", "password", required=True),
                 SINCE, GROUP), {"provider": provider})


def _oauth_provider(provider: str, label: str) -> Kind:
    return Kind(provider, label, "imap", f"{label} over IMAP, signed in with OAuth2: after saving, the Sign in page "
                "shows a code to enter at Microsoft; no password is kept.",
                (Option("username", "Address", "the account's full email address", required=True),
                 Option("oauth2_client_id", "Application (client) id", "the id of the app you registered for IMAP "
                        "access (see the README's OAuth2 section)", required=True),
                 SINCE, GROUP), {"provider": provider})


def _kinds() -> dict[str, Kind]:
    path = Option("path", "Folder or file", "where it is on this machine (a path the bridge's user can read)",
                  required=True)
    chat = (path, Option("me", "Your names", "your name(s) as the export shows them, comma-separated: your lines are "
                         "marked", "list"),
            Option("timezone", "Time zone", "where the chats happened (Europe/Berlin); empty: the machine's"))
    kinds = [
        Kind("imap", "Other IMAP", "imap", "Any mailbox reached over IMAP with a user name and a password.",
             (Option("host", "Server", "the IMAP server's name, as your mail program has it", required=True,
                     placeholder="imap.example.org"),
              Option("port", "Port", "empty: 993 with ssl, 143 otherwise", "number"),
              Option("security", "Security", "ssl: TLS from the start; starttls: upgraded after connecting; none: "
                     "only for a server on this machine", "select", ("ssl", "starttls", "none")),
              Option("username", "User name", "the login name, often the full address", required=True),
              Option("password", "Password", "kept in an owner-only file beside the state, never in the config",
                     "password", required=True),
              FOLDERS, SINCE, GROUP)),
        _password_provider("gmail", "Gmail"),
        _oauth_provider("outlook", "Outlook.com"),
        _oauth_provider("office365", "Microsoft 365"),
        _password_provider("icloud", "iCloud Mail"),
        _password_provider("fastmail", "Fastmail"),
        _password_provider("yahoo", "Yahoo Mail"),
        Kind("spool", "Spool folder", "spool", "Text files dropped into a folder (by a script, a phone sync) are sent, "
             "one conversation each.",
             (path, Option("settle_seconds", "Settle time", "seconds a file must be left alone before it is read",
                           "number"))),
        Kind("mbox", "Mail archive (mbox)", "mbox", "An mbox file or a folder of them (Thunderbird, Google Takeout).",
             (path, SINCE)),
        Kind("maildir", "Mail archive (Maildir)", "maildir", "A Maildir folder (cur/, new/).", (path, SINCE)),
        Kind("eml", "Mail archive (.eml files)", "eml", "A folder of .eml files; files added later are read too.",
             (path, SINCE)),
        Kind("whatsapp", "WhatsApp exports", "whatsapp", 'A folder of "Export chat" files (.txt or .zip).', chat),
        Kind("telegram-export", "Telegram export", "telegram-export", "Telegram Desktop's JSON export (result.json).",
             chat),
        Kind("discord-export", "Discord export", "discord-export", "DiscordChatExporter's JSON files.", chat),
        Kind("slack-export", "Slack export", "slack-export", "A workspace export (.zip or its folder).",
             (path, Option("channels", "Channels", "names or ids, comma-separated; empty: every channel", "list"),
              Option("group", "Grouping", "day: a channel's day is one conversation; burst: messages until a quiet "
                     "spell", "select", ("day", "burst")))),
    ]
    return {k.id: k for k in kinds}


KINDS = _kinds()


def form_values(kind: Kind, form: dict[str, str]) -> dict[str, Any]:
    """What the person typed, as TOML values: empty fields left out (the defaults apply)."""
    values: dict[str, Any] = {}
    for option in kind.options:
        raw = str(form.get(option.key, "")).strip()
        if not raw:
            continue
        if option.kind == "list":
            values[option.key] = [part.strip() for part in raw.split(",") if part.strip()]
        elif option.kind == "number":
            try:
                number = float(raw)
                values[option.key] = int(number) if number.is_integer() else number
            except ValueError:
                values[option.key] = raw  # the loader says what is wrong with it
        elif option.kind == "date":
            from datetime import date

            try:
                values[option.key] = date.fromisoformat(raw)
            except ValueError:
                values[option.key] = raw
        else:
            values[option.key] = raw
    return values


def table_of(kind: Kind, values: dict[str, Any], secret_files: dict[str, str] | None = None) -> dict[str, Any]:
    """The table to write: the type first, then the kind's fixed keys, then the form's (a secret
    as ``X_file`` when it was saved to one)."""
    table: dict[str, Any] = {"type": kind.type, **kind.fixed}
    secrets = {o.key for o in kind.options if o.kind == "password"}
    # in the form's order (a secret kept from the test would come last otherwise)
    for key, value in sorted(values.items(), key=lambda kv: [o.key for o in kind.options].index(kv[0])):
        if key in secrets and secret_files is not None:
            table[f"{key}_file"] = secret_files[key]
        else:
            table[key] = value
    return table


def validate(config: Config, name: str, table: dict[str, Any]) -> tuple[dict[str, str], list[str], Any]:
    """Validate one ``[connectors.NAME]`` table as ``load_config`` does (its own steps, so the
    messages are ``check``'s): problems by option, the rest, and the connector's config or None."""
    from bridge.config import check_connector_table

    by_key: dict[str, str] = {}
    if not NAME.match(name):
        by_key["name"] = "a source's name is letters, digits, - and _ (up to 40)"
    elif name in config.connectors:
        by_key["name"] = "a source of that name exists already"
    name = name if "name" not in by_key else "new"  # the table is still checked, under a name TOML takes
    where = f"connectors.{name}"
    validated, problems = check_connector_table(name, table, config.source.resolve().parent)
    rest: list[str] = []
    for problem in problems:
        key, _, message = problem.partition(": ")
        option = key.removeprefix(where + ".").split(".")[0] if key.startswith(where + ".") else ""
        option = option.removesuffix("_file")
        if option and option not in by_key:
            by_key[option] = message
        else:
            rest.append(problem.removeprefix(where + ": ") if key == where else problem)
    return by_key, rest, validated if not problems and "name" not in by_key else None


def try_source(config: Config, store: Store, name: str, validated: Any) -> dict[str, Any]:
    """What ``check`` and ``plan`` say of this one source, nothing sent and nothing stored."""
    from bridge.connector import call
    from bridge.errors import one_line
    from bridge.plan import plan
    from bridge.registry import build_connector

    alone = config.model_copy(update={"connectors": {name: validated}})
    connector = build_connector(alone, name)
    try:
        checked, good = asyncio.run(call(connector.check)), True
    except Exception as exc:
        checked, good = one_line(exc), False
    found = plan(alone, store, {name: connector}) if good else None
    return {"check": str(checked), "good": good, "plan": found}
