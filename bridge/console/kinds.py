"""The kinds of source a person picks from in the console, the form each asks, and the table a
form becomes (or, to change a source, the form a table fills).

A form asks only for what a kind needs: a provider's preset (connectors/mail/providers.py) fills
host, port, security, folders and the way of signing in; those stay changeable in a form's
"advanced" part, as the normal options the example config documents (a server of one's own, or
the loopback servers of the tests). A secret is never shown: the form says one is kept, and a
new one typed replaces its file.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

__all__ = ["KINDS", "Kind", "Option", "form_of", "form_values", "kind_of", "secret_keys", "table_of"]


@dataclass(frozen=True)
class Option:
    key: str
    label: str
    help: str  # one line, as the example config explains the option
    kind: str = "text"  # text | password | number | date | list | select
    choices: tuple[str, ...] = ()
    required: bool = False
    placeholder: str = ""
    advanced: bool = False  # shown folded: the preset has it right for nearly everyone
    on_change: str = ""  # what changing it on a running source does (said on the change form)


@dataclass(frozen=True)
class Kind:
    id: str
    label: str
    type: str  # the connector type the table names
    intro: str
    options: tuple[Option, ...]
    fixed: dict[str, Any] = field(default_factory=dict)  # keys every table of this kind has (provider = ...)
    # "here": a device code in the page after saving; "browser": the Sign in page's button to the
    # provider; "password": the Sign in page asks for it
    signs_in: str = ""


NOT_AGAIN = "what was sent stays in Omi and is not sent again"
SINCE = Option("since", "Bring mail since", "a date (YYYY-MM-DD): mail from then on is sent too; empty: only mail "
               "that arrives from now on", "date",
               on_change="counts only for a folder read for the first time: a folder already read goes on from "
                         f"where it got to, older mail is not fetched; {NOT_AGAIN}")
GROUP = Option("group", "Grouping", "auto: old mail by thread and day, new mail one conversation each; thread: a "
               "thread's new mail within quiet_period is one; message: one conversation per mail", "select",
               ("auto", "thread", "message"), on_change=f"applies to mail read from now on; {NOT_AGAIN}")
BACKFILL = Option("backfill", "History to bring", "all: every mail since the date; direct: mail addressed to you "
                  "(To or Cc), not bulk; replied: only threads you wrote in (found in Sent)", "select",
                  ("all", "direct", "replied"), on_change=f"applies to history read from now on; {NOT_AGAIN}")
FOLDERS = Option("folders", "Folders", 'comma-separated names, or special-use flags like \\Sent; default INBOX',
                 "list", placeholder="INBOX, \\Sent",
                 on_change="a folder added is read like a new source (from the date above, or only new mail); a "
                           f"folder taken out is no longer read; a mail in two folders is sent once; {NOT_AGAIN}")
CHANNELS = ("channels", "Channels", "names or ids, comma-separated; empty: every channel")
CHAT_GROUP = Option("group", "Grouping", "burst: a conversation ends after quiet_period of silence; day: a channel's "
                    "day is one conversation", "select", ("burst", "day"),
                    on_change=f"applies to messages read from now on; {NOT_AGAIN}")
TIMEZONE = Option("timezone", "Time zone", "where the chats happened (Europe/Berlin); empty: the machine's")


def _server(host: str = "", advanced: bool = False) -> tuple[Option, ...]:
    """Where the IMAP server is: asked for "other IMAP", folded away under a preset."""
    return (Option("host", "Server", "the IMAP server's name, as your mail program has it", required=not advanced,
                   placeholder=host or "imap.example.org", advanced=advanced),
            Option("port", "Port", "empty: 993 with ssl, 143 otherwise", "number", advanced=advanced),
            Option("security", "Security", "ssl: TLS from the start; starttls: upgraded after connecting; none: "
                   "only for a server on this machine", "select", ("", "ssl", "starttls", "none") if advanced
                   else ("ssl", "starttls", "none"), advanced=advanced))


def _password_provider(provider: str, label: str) -> Kind:
    from connectors.mail.providers import PROVIDERS

    page = PROVIDERS[provider].app_password_page
    return Kind(provider, label, "imap", f"{label} over IMAP with an app password (made at {page}); host, port and "
                "folders come from the provider's settings.",
                (Option("username", "Address", "the account's full email address", required=True),
                 Option("password", "App password", "made at the provider's page above; kept in an owner-only file "
                        "beside the state, never in the config", "password", required=True),
                 SINCE, BACKFILL, GROUP), {"provider": provider})


def _oauth_provider(provider: str, label: str) -> Kind:
    from connectors.mail.providers import PROVIDERS, microsoft_endpoints

    preset = PROVIDERS[provider]
    device, token = microsoft_endpoints(preset.tenant or "common")
    endpoint = "the provider's {} endpoint; empty: " + "{}"
    return Kind(provider, label, "imap", f"{label} over IMAP, signed in with OAuth2: after saving, the Sign in page "
                "shows a code to enter at Microsoft; no password is kept.",
                (Option("username", "Address", "the account's full email address", required=True),
                 Option("oauth2_client_id", "Application (client) id", "the id of the app you registered for IMAP "
                        "access (see the README's OAuth2 section)", required=True),
                 SINCE, BACKFILL, GROUP,
                 *_server(preset.host, advanced=True),
                 Option("oauth2_device_url", "Device code endpoint", endpoint.format("device authorization", device),
                        placeholder=device, advanced=True),
                 Option("oauth2_token_url", "Token endpoint", endpoint.format("token", token), placeholder=token,
                        advanced=True)),
                {"provider": provider}, signs_in="here")


def _google_kind() -> Kind:
    """Gmail signed in with Google (OAuth2 in the browser), for a person with a Google Cloud
    client of their own; the Sign in page sends them to Google and back to the console."""
    from connectors.mail.providers import GOOGLE_AUTHORIZE, GOOGLE_TOKEN

    endpoint = "Google's {} endpoint; empty: {}"
    return Kind("gmail-signin", "Gmail (sign in with Google)", "imap", "Gmail over IMAP, signed in with Google: "
                "after saving, the Sign in page sends you to Google and back (register the console's callback "
                "address with your client: see the README's OAuth2 section); no password is kept.",
                (Option("username", "Address", "the account's full email address", required=True),
                 Option("oauth2_client_id", "OAuth client id", "your Desktop app client from the Google Cloud "
                        "console", required=True),
                 Option("oauth2_client_secret", "OAuth client secret", "that client's secret; kept in an owner-only "
                        "file beside the state, never in the config", "password", required=True),
                 SINCE, BACKFILL, GROUP,
                 *_server("imap.gmail.com", advanced=True),
                 Option("oauth2_authorize_url", "Authorization endpoint",
                        endpoint.format("authorization", GOOGLE_AUTHORIZE), placeholder=GOOGLE_AUTHORIZE,
                        advanced=True),
                 Option("oauth2_token_url", "Token endpoint", endpoint.format("token", GOOGLE_TOKEN),
                        placeholder=GOOGLE_TOKEN, advanced=True)),
                {"provider": "gmail"}, signs_in="browser")


def _kinds() -> dict[str, Kind]:
    path = Option("path", "Folder or file", "where it is on this machine (a path the bridge's user can read)",
                  required=True, on_change="the new place is read from its start; what was sent from the old one "
                                           f"is recognised and not sent again; {NOT_AGAIN}")
    chat = (path, Option("me", "Your names", "your name(s) as the export shows them, comma-separated: your lines are "
                         "marked", "list"), TIMEZONE)
    archive = (path, Option("me", "Your addresses", "comma-separated; needed by backfill direct or replied", "list"),
               BACKFILL, Option("group", "Grouping", "thread: a thread's mails of a day are one conversation; "
                                "message: one per mail", "select", ("thread", "message"),
                                on_change=f"applies to mail read from now on; {NOT_AGAIN}"))
    kinds = [
        Kind("imap", "Other IMAP", "imap", "Any mailbox reached over IMAP with a user name and a password.",
             (*_server(),
              Option("username", "User name", "the login name, often the full address", required=True),
              Option("password", "Password", "kept in an owner-only file beside the state, never in the config",
                     "password", required=True),
              FOLDERS, SINCE, BACKFILL, GROUP)),
        _password_provider("gmail", "Gmail"),
        _google_kind(),
        _oauth_provider("outlook", "Outlook.com"),
        _oauth_provider("office365", "Microsoft 365"),
        _password_provider("icloud", "iCloud Mail"),
        _password_provider("fastmail", "Fastmail"),
        _password_provider("yahoo", "Yahoo Mail"),
        Kind("slack", "Slack", "slack", "A Slack workspace, live: a thread or a burst of channel messages becomes one "
             "conversation. Make a Slack app with the bot scopes channels:history, groups:history, channels:read, "
             "groups:read and users:read, and invite its bot to the channels (the README says how).",
             (Option("mode", "Connection", "socket: the bridge connects out to Slack (no public address needed; "
                     "needs the app token); http: Slack posts events to this bridge's listener (needs the signing "
                     "secret)", "select", ("socket", "http")),
              Option("bot_token", "Bot token", "xoxb-..., from the app's OAuth & Permissions page; kept in an "
                     "owner-only file", "password", required=True),
              Option("app_token", "App token", "xapp-... with connections:write (socket mode), from Basic "
                     "Information; kept in an owner-only file", "password"),
              Option("signing_secret", "Signing secret", "http mode: from Basic Information; kept in an owner-only "
                     "file", "password"),
              Option(*CHANNELS, "list", on_change=f"a channel added is read from now on; {NOT_AGAIN}"),
              CHAT_GROUP, TIMEZONE)),
        Kind("matrix", "Matrix", "matrix", "Rooms on a Matrix homeserver, live. After saving, sign in next: the Sign "
             "in page asks for the account's password once and keeps only the access token it gets.",
             (Option("homeserver", "Homeserver", "the address of your homeserver", required=True,
                     placeholder="https://matrix.example.org"),
              Option("user_id", "User", "your full Matrix id", required=True, placeholder="@me:example.org"),
              Option("rooms", "Rooms", "room ids or aliases, comma-separated; empty: every room you are in", "list",
                     placeholder="#family:example.org", on_change=f"a room added is read from now on; {NOT_AGAIN}"),
              CHAT_GROUP, TIMEZONE), signs_in="password"),
        Kind("spool", "Spool folder", "spool", "Text files dropped into a folder (by a script, a phone sync) are sent, "
             "one conversation each.",
             (path, Option("settle_seconds", "Settle time", "seconds a file must be left alone before it is read",
                           "number"))),
        Kind("mbox", "Mail archive (mbox)", "mbox", "An mbox file or a folder of them (Thunderbird, Google Takeout).",
             archive),
        Kind("maildir", "Mail archive (Maildir)", "maildir", "A Maildir folder (cur/, new/).", archive),
        Kind("eml", "Mail archive (.eml files)", "eml", "A folder of .eml files; files added later are read too.",
             archive),
        Kind("whatsapp", "WhatsApp exports", "whatsapp", 'A folder of "Export chat" files (.txt or .zip).', chat),
        Kind("telegram-export", "Telegram export", "telegram-export", "Telegram Desktop's JSON export (result.json).",
             chat),
        Kind("discord-export", "Discord export", "discord-export", "DiscordChatExporter's JSON files.", chat),
        Kind("slack-export", "Slack export", "slack-export", "A workspace export (.zip or its folder).",
             (path, Option(*CHANNELS, "list"),
              replace(CHAT_GROUP, help="day: a channel's day is one conversation; burst: messages until a quiet spell",
                      choices=("day", "burst")))),
    ]
    return {k.id: k for k in kinds}


KINDS = _kinds()


def secret_keys(kind: Kind) -> set[str]:
    return {o.key for o in kind.options if o.kind == "password"}


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
    secrets = secret_keys(kind)
    order = [o.key for o in kind.options]
    # in the form's order (a secret kept from the test would come last otherwise)
    for key, value in sorted(values.items(), key=lambda kv: order.index(kv[0])):
        if key in secrets and secret_files is not None:
            table[f"{key}_file"] = secret_files[key]
        else:
            table[key] = value
    return table


def kind_of(table: dict[str, Any]) -> Kind | None:
    """The kind whose form edits this table: its type, and its provider where it has one."""
    provider = table.get("provider")
    if table.get("type") == "imap":
        if provider == "gmail" and "oauth2_client_id" in table:
            return KINDS["gmail-signin"]
        return KINDS.get(provider) if provider in KINDS else KINDS["imap"]
    return next((k for k in KINDS.values() if k.type == table.get("type") and not k.fixed), None)


def form_of(kind: Kind, table: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """A table as its form's fields, and the secrets it keeps (their values never in the form)."""
    form: dict[str, str] = {}
    for option in kind.options:
        value = table.get(option.key)
        if option.kind == "password" or value is None:
            continue
        form[option.key] = ", ".join(map(str, value)) if isinstance(value, list) else (
            value.isoformat() if isinstance(value, date) else str(value))
    kept = {key for key in secret_keys(kind) if key in table or f"{key}_file" in table}
    return form, kept
