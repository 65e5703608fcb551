"""IMAP: every new mail in the configured folders, once, pushed by IDLE with a timer poll as the net.

New = a UID above the folder's cursor under the same UIDVALIDITY (RFC 3501 2.3.1.1). The cursor
moves in the same transaction as each message's outbox row. When UIDVALIDITY changes, the folder
is re-read (only mail since the connector first started, or since ``since``) and the outbox's
unique Message-ID key drops what was already sent; Message-IDs are fetched first so known mail
is not downloaded again. The mailbox is only ever read: folders are opened read-only and bodies
fetched with BODY.PEEK[], so no \\Seen flag is set.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import shlex
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SENT
from imapclient.util import to_unicode
from pydantic import Field, SecretStr, model_validator

from bridge import activity
from bridge.connector import Sink
from bridge.errors import ConfigError, SourceAuthError, SourceError
from bridge.groups import Assembler, GroupPolicy
from bridge.logs import hide
from bridge.models import PRIORITY_BACKFILL, PRIORITY_LIVE
from bridge.oauth import Access, AccessTokens, OAuthApp, SignInRequired, sign_in
from bridge.tokens import TokenFile
from connectors.mail.convert import Converter, Pending
from connectors.mail.providers import (
    GOOGLE_AUTHORIZE,
    GOOGLE_AUTHORIZE_PARAMS,
    GOOGLE_SCOPES,
    GOOGLE_TOKEN,
    MICROSOFT_SCOPES,
    PROVIDERS,
    Provider,
    ProviderName,
    microsoft_endpoints,
)
from connectors.mail.selection import MailSelection, MyThreads
from connectors.mail.text import MailFilter, MailJob, message_key, parse, parse_headers
from connectors.mail.threads import Into, close_threads, take

__all__ = ["ImapConfig", "ImapConnector"]

log = logging.getLogger(__name__)

SIZES_AHEAD = 5000  # messages whose RFC822.SIZE one command asks for
PIPELINE_DEPTH = 2  # fetched chunks being converted while the next one is fetched
IDLE_RENEW = 9 * 60  # servers drop IDLE at ~29-30 min (RFC 2177 asks clients to renew before), some sooner
IDLE_CHECK = 1.0  # seconds between looks at the stop flag while idling
RECONNECT_MAX = 300.0
SIGN_IN_LOOK = 1.0  # seconds between looks at the token file while signed out (a stat: cheap)
THREAD_SPAN = 86400.0  # a thread's live conversation spans at most a day, however busy


class ImapConfig(MailSelection):
    type: Literal["imap"]
    provider: ProviderName | None = Field(
        default=None, description="fills host, port, security, auth and folders; each can still be set")
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535, description="default 993 for ssl, else 143")
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = Field(min_length=1)
    password: SecretStr | None = None
    auth: Literal["password", "xoauth2", "oauthbearer"] = Field(
        default="password", description="password, or an OAuth2 bearer token by XOAUTH2 or OAUTHBEARER (RFC 7628)")
    oauth2_client_id: str | None = Field(default=None, description="your registered app: omi-bridge login signs in")
    oauth2_client_secret: SecretStr | None = Field(default=None, description="Google desktop clients have one")
    oauth2_tenant: str | None = Field(default=None, description="Microsoft: consumers, organizations or a tenant id")
    oauth2_scopes: list[str] | None = None
    oauth2_flow: Literal["device", "browser"] | None = Field(
        default=None, description="device code (Microsoft) or browser with a loopback redirect (Google)")
    oauth2_device_url: str | None = None
    oauth2_authorize_url: str | None = None
    oauth2_token_url: str | None = None
    oauth2_token_command: str | None = Field(default=None, description="prints an OAuth2 access token")
    folders: list[str] = Field(default=["INBOX"], min_length=1, description='names, or SPECIAL-USE flags: "\\Sent"')
    since: date | None = Field(default=None, description="backfill horizon; default: only new mail")
    idle: bool = True
    poll_interval: float = Field(default=300, gt=0)
    text_source_spec: str = Field(default="email", min_length=1)
    skip_automated: bool = True
    group: Literal["auto", "thread", "message"] = Field(
        default="auto", description="auto: backfill by thread and day, new mail one conversation each; "
        "thread: new mail of a thread within quiet_period is one conversation; message: one each")
    quiet_period: float = Field(default=600, gt=0, description='group = "thread": silence that ends a conversation')
    reply_languages: list[str] = Field(
        default=["en"], description="languages of signature phrases to cut (quote headers: every language)")
    timeout: float = Field(default=60, gt=0, description="seconds a socket read may take")
    fetch_messages: int = Field(default=200, ge=1, description="messages per FETCH")
    fetch_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="bytes per FETCH, roughly")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        """The provider's settings where the config gives none; auth follows what is given."""
        if not isinstance(data, dict):
            return data
        preset = PROVIDERS.get(data.get("provider"))  # type: ignore[arg-type]
        data = dict(data)
        if preset is not None:
            data.setdefault("host", preset.host)
            if "security" not in data:  # a security of one's own brings its own default port
                data.setdefault("port", preset.port)
                data["security"] = preset.security
            data.setdefault("folders", list(preset.folders))
        if "auth" not in data:
            if data.get("password") is not None:
                data["auth"] = "password"
            elif data.get("oauth2_client_id") or data.get("oauth2_token_command"):
                data["auth"] = "xoauth2"
            elif preset is not None:
                data["auth"] = preset.auth
        return data

    @model_validator(mode="after")
    def _consistent(self) -> ImapConfig:
        preset = self.preset
        if self.security == "none" and not _is_loopback(self.host):
            raise ValueError('security = "none" sends the password in clear: only allowed for a loopback host')
        if self.auth == "password":
            if preset is not None and not preset.password_ok:
                raise ValueError(f"{preset.label} takes only OAuth2 for IMAP (passwords, app passwords too, are "
                                 "refused): set oauth2_client_id instead of password, then run omi-bridge login")
            if self.password is None:
                page = f" (an app password: {preset.app_password_page})" if preset and preset.app_password_page else ""
                raise ValueError(f"password (or password_file) is required with auth = \"password\"{page}")
        else:
            if bool(self.oauth2_token_command) == bool(self.oauth2_client_id):
                raise ValueError(f'auth = "{self.auth}" needs oauth2_client_id (then omi-bridge login signs in) '
                                 "or oauth2_token_command (a program that prints a token), one of them")
            if self.oauth2_client_id:
                self._oauth_endpoints(preset)
        if self.backfill == "direct" and not self.my_addresses(self.username):
            raise ValueError('backfill = "direct" needs me = ["your@address", ...] (the login name is not one)')
        return self

    @property
    def preset(self) -> Provider | None:
        return PROVIDERS.get(self.provider) if self.provider else None

    def _oauth_endpoints(self, preset: Provider | None) -> None:
        """Fill the OAuth settings the provider implies; say which are missing without one."""
        kind = preset.oauth if preset else None
        if kind == "microsoft":
            device, token = microsoft_endpoints(self.oauth2_tenant or preset.tenant or "common")  # type: ignore[union-attr]
            self.oauth2_device_url = self.oauth2_device_url or device
            self.oauth2_token_url = self.oauth2_token_url or token
            self.oauth2_scopes = self.oauth2_scopes or list(MICROSOFT_SCOPES)
            self.oauth2_flow = self.oauth2_flow or "device"
        elif kind == "google":
            self.oauth2_authorize_url = self.oauth2_authorize_url or GOOGLE_AUTHORIZE
            self.oauth2_token_url = self.oauth2_token_url or GOOGLE_TOKEN
            self.oauth2_scopes = self.oauth2_scopes or list(GOOGLE_SCOPES)
            self.oauth2_flow = self.oauth2_flow or "browser"
            if self.oauth2_client_secret is None and self.oauth2_token_url == GOOGLE_TOKEN:
                raise ValueError("oauth2_client_secret is required for Google: a Desktop app client has one "
                                 "(Google says it is not a secret, yet asks for it)")
        if self.oauth2_flow is None:
            self.oauth2_flow = "device" if self.oauth2_device_url else "browser"
        url = self.oauth2_device_url if self.oauth2_flow == "device" else self.oauth2_authorize_url
        if not (url and self.oauth2_token_url and self.oauth2_scopes):
            raise ValueError("oauth2_client_id without a provider that knows its endpoints needs oauth2_token_url, "
                             "oauth2_scopes and oauth2_device_url (device code) or oauth2_authorize_url (browser)")

    @property
    def signs_in(self) -> bool:
        """Tokens come from ``omi-bridge login`` (not a password, not a token command)."""
        return bool(self.oauth2_client_id) and self.auth != "password"

    def oauth_app(self) -> OAuthApp | None:
        """The OAuth client ``omi-bridge login`` and the token refresh use; None without one."""
        if not self.signs_in:
            return None
        google = self.preset is not None and self.preset.oauth == "google"
        return OAuthApp(
            client_id=self.oauth2_client_id, scopes=tuple(self.oauth2_scopes or ()),
            token_url=self.oauth2_token_url or "", flow=self.oauth2_flow or "device",
            device_url=self.oauth2_device_url, authorize_url=self.oauth2_authorize_url,
            client_secret=self.oauth2_client_secret.get_secret_value() if self.oauth2_client_secret else None,
            authorize_params=GOOGLE_AUTHORIZE_PARAMS if google else (), timeout=self.timeout)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ImapConnector:
    Config = ImapConfig
    _gmail = False  # the server speaks Gmail's extensions (X-GM-THRID, X-GM-MSGID, X-GM-LABELS)
    _mine: MyThreads | None = None
    tokens: TokenFile | None = None  # where omi-bridge login keeps this account's tokens (set by the daemon)
    _access_tokens: AccessTokens | None = None
    _tls_context: ssl.SSLContext | None = None

    def __init__(self, name: str, config: ImapConfig) -> None:
        self.name = name
        self.config = config
        self.port = config.port or (993 if config.security == "ssl" else 143)
        languages = [*config.reply_languages, config.language]
        self.languages = tuple(dict.fromkeys(languages))

    # -- connection -------------------------------------------------------------------------

    def connect(self) -> IMAPClient:
        """A logged-in client; SourceAuthError for refused credentials, SourceError otherwise."""
        return self._connect()[0]

    def _connect(self) -> tuple[IMAPClient, float]:
        """A logged-in client, and the time (epoch) by which to remake the connection: when its
        access token expires (Microsoft ends such sessions), else never."""
        cfg = self.config
        where = f"{cfg.host}:{self.port}"
        # a signed-out source fails here, without a connection (and a failed login) each retry
        access = self._tokens().get() if cfg.signs_in else None
        try:
            client = IMAPClient(cfg.host, port=self.port, ssl=cfg.security == "ssl",
                                ssl_context=self._tls() if cfg.security == "ssl" else None, timeout=cfg.timeout)
        except TimeoutError:
            raise SourceError(f"cannot reach {where}: no answer within {cfg.timeout:g} s") from None
        except (OSError, IMAPClientError) as exc:
            raise SourceError(f"cannot connect to {where}: {exc}") from None
        try:
            if cfg.security == "starttls":
                client.starttls(self._tls())
            renew_at = self._log_in(client, access)
        except LoginError as exc:
            _close(client)
            raise SourceAuthError(f"{where} refused the login for {cfg.username}: {to_unicode(str(exc))}"
                                  f"{self._app_password_hint()}") from None
        except TimeoutError:
            with contextlib.suppress(Exception):  # no LOGOUT: it would wait as long again
                client.shutdown()
            raise SourceError(f"{where} stopped answering (nothing within {cfg.timeout:g} s)") from None
        except (OSError, IMAPClientError) as exc:
            _close(client)
            raise SourceError(f"{where}: {exc}") from None
        except SourceError:
            _close(client)
            raise
        return client, renew_at

    def _tls(self) -> ssl.SSLContext:
        """The TLS settings every connection of this account uses, made once: loading the
        system's CA certificates takes about a tenth of a second, which a poll for one new mail
        (pushed by IDLE) would otherwise pay each time. One context serves every thread."""
        if self._tls_context is None:
            self._tls_context = ssl.create_default_context()
        return self._tls_context

    def _log_in(self, client: IMAPClient, access: Access | None) -> float:
        cfg = self.config
        if cfg.auth == "password":
            assert cfg.password is not None
            client.login(cfg.username, cfg.password.get_secret_value())
            return math.inf
        if access is None:
            self._authenticate(client, self._oauth2_token())
            return math.inf
        try:
            self._authenticate(client, access.token)
        except LoginError:
            # refused before its time (revoked, or a password change ended the sessions): one
            # refresh, which also tells a sign-in that is gone from a token that merely expired
            self._tokens().distrust(access.token)
            access = self._tokens().get()
            try:
                self._authenticate(client, access.token)
            except LoginError:
                raise LoginError("it refused a token just issued: is IMAP on for this account, and is "
                                 "username the account that signed in?") from None
        return access.renew_at()

    def _authenticate(self, client: IMAPClient, token: str) -> None:
        cfg = self.config
        if cfg.auth == "oauthbearer":  # RFC 7628 3.1: a GS2 header, then key=value pairs
            name = cfg.username.replace("=", "=3D").replace(",", "=2C")
            first = f"n,a={name},\x01host={cfg.host}\x01port={self.port}\x01auth=Bearer {token}\x01\x01"
        else:  # XOAUTH2, as Google and Microsoft take it
            first = f"user={cfg.username}\x01auth=Bearer {token}\x01\x01"
        answers = iter([first])
        # a refused token comes back as a challenge holding the error as JSON; the client answers it
        # with an empty response and then gets the NO (RFC 7628 3.2.3; imapclient's own
        # oauth2_login would send the token a second time)
        client.sasl_login(cfg.auth.upper(), lambda challenge: next(answers, b""))

    def _tokens(self) -> AccessTokens:
        if self._access_tokens is None:
            app = self.config.oauth_app()
            if app is None or self.tokens is None:
                raise SourceAuthError(f"{self.name}: no OAuth client or token file")
            self._access_tokens = AccessTokens(self.name, app, self.tokens)
        return self._access_tokens

    def _oauth2_token(self) -> str:
        command = shlex.split(self.config.oauth2_token_command or "")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        except (OSError, subprocess.SubprocessError) as exc:
            raise SourceAuthError(f"oauth2_token_command failed: {type(exc).__name__}") from None
        token = done.stdout.strip()
        hide(token)
        return token

    def _app_password_hint(self) -> str:
        preset = self.config.preset
        if self.config.auth != "password" or preset is None or preset.app_password_page is None:
            return ""
        return f" ({preset.label} takes an app password, not your account's: {preset.app_password_page})"

    def login(self, say: Callable[[str], None], pasted: Iterable[str]) -> str:
        """``omi-bridge login``: sign the account in, keep its tokens, and log in to IMAP with them."""
        app = self.config.oauth_app()
        if app is None or self.tokens is None:
            raise ConfigError([f"connectors.{self.name}: does not sign in with OAuth2: it needs oauth2_client_id "
                               '(and auth = "xoauth2" or "oauthbearer")'])
        record = sign_in(app, say, pasted)
        with self.tokens.locked():
            self.tokens.write(record)
        self._access_tokens = None
        return self.check()

    def _folder(self, client: IMAPClient, folder: str) -> str:
        """A configured folder's name: itself, or for a SPECIAL-USE flag (RFC 6154) such as
        ``\\Sent`` the folder that carries it (names differ by language and provider)."""
        if not folder.startswith("\\"):
            return folder
        found = client.find_special_folder(folder.encode())
        if found is None:
            raise SourceError(f"no folder is marked {folder} on {self.config.host}")
        return found

    def check(self) -> str:
        client = self.connect()
        try:
            missing = []
            for folder in self.config.folders:
                try:
                    if not client.folder_exists(self._folder(client, folder)):
                        missing.append(folder)
                except SourceError:
                    missing.append(folder)
            if missing:
                raise SourceError(f"no such folder: {', '.join(missing)}")
            idle = "IDLE" if client.has_capability("IDLE") else "no IDLE (polling only)"
            return f"{self.config.username}@{self.config.host}, {len(self.config.folders)} folder(s), {idle}"
        finally:
            _close(client)

    # -- polling ----------------------------------------------------------------------------

    def poll(self, sink: Sink) -> None:
        cursor = sink.cursor or {"started": time.time(), "folders": {}}
        assembler = sink.assembler(GroupPolicy(self.config.quiet_period, THREAD_SPAN))
        client = self.connect()
        self._mine = None  # the threads I wrote in, read from Sent when a backfill needs them
        try:
            self._gmail = client.has_capability("X-GM-EXT-1")
            for folder in self.config.folders:
                if sink.closing:
                    return
                self._poll_folder(client, self._folder(client, folder), cursor, sink, assembler)
        except (OSError, IMAPClientError) as exc:
            raise SourceError(f"{self.config.host}: {exc}") from None
        finally:
            activity.clear(self.name, "poll")
            _close(client)
        close_threads(assembler, sink)  # threads whose quiet period (or day) is over

    def _poll_folder(self, client: IMAPClient, folder: str, cursor: dict, sink: Sink, assembler: Assembler) -> None:
        try:
            info = client.select_folder(folder, readonly=True)
        except IMAPClientError as exc:
            raise SourceError(f"cannot open folder {folder!r}: {exc}") from None
        validity = int(info[b"UIDVALIDITY"])
        uidnext = int(info.get(b"UIDNEXT") or 0)
        since = self.config.since
        state = cursor["folders"].get(folder)
        if state is not None and state["uidvalidity"] == validity:
            # the usual case: what is above the cursor
            criteria: list[Any] = ["UID", f"{state['uid'] + 1}:*"] + (["SINCE", since] if since else [])
            uids = sorted(u for u in client.search(criteria) if u > state["uid"])  # n:* always matches the top
            # finishing a backfill or re-read a restart interrupted: still history, held to its rules
            full_pass = bool(state.get("reading")) or "not_before" in state
        elif state is None and since is None:
            # first start without a backfill horizon: only mail that arrives from now on
            top = uidnext - 1 if uidnext else max(client.search(["ALL"]) or [0])
            self._advance(cursor, folder, {"uidvalidity": validity, "uid": top}, sink)
            return
        else:
            full_pass = True
            state = {"uidvalidity": validity, "uid": 0, "reading": True}  # until the pass is through
            if folder in cursor["folders"]:
                log.warning("%s: %s changed UIDVALIDITY (%s -> %s); re-reading it, mail already sent is "
                            "recognised by Message-ID", self.name, folder,
                            cursor["folders"][folder]["uidvalidity"], validity)
                if since is None:  # mail that was there before our first start stays unsent
                    # INTERNALDATE has whole seconds: mail of the first start's own second is
                    # re-read (the Message-ID check keeps what was sent from going twice)
                    state["not_before"] = math.floor(cursor["started"])
                found = sorted(client.search(["SINCE", since or datetime.fromtimestamp(cursor["started"], UTC).date()]))
                uids = self._unknown(client, found, sink)
                log.debug("%s: %s: %d message(s) since the horizon, %d not sent before: %s", self.name, folder,
                          len(found), len(uids), _span(uids))
            else:
                uids = sorted(client.search(["SINCE", since]))
        backfill = since is not None and full_pass
        priority = PRIORITY_BACKFILL if backfill else PRIORITY_LIVE
        group = self.config.group
        threads = group == "thread" or (group == "auto" and backfill)
        mine = None
        if backfill and self.config.backfill == "replied" and uids:
            if self._mine is None:
                self._mine = self._my_threads(client)
                client.select_folder(folder, readonly=True)
            mine = self._mine
        into = Into(assembler, by_day=backfill, live_threads=group == "thread", mine=mine)
        if not threads:
            into = into._replace(assembler=None)
        filters = self.config.mail_filter(backfill=backfill, login=self.config.username)
        if uids:  # the console's "doing now"; the count moves as chunks are fetched
            doing = f"backfilling {folder} (mail since {since})" if backfill else f"syncing a gap in {folder}"
            activity.report(self.name, "poll", doing, 0, len(uids))
        state = self._deliver(client, folder, uids, state, cursor, sink, priority, into, filters)
        if state is None:
            return  # stopping
        if full_pass:
            # the folder has been read through: new mail is what lands above its top
            top = max(uidnext - 1, state["uid"])
            self._advance(cursor, folder, {"uidvalidity": validity, "uid": top}, sink)

    def _advance(self, cursor: dict, folder: str, state: dict, sink: Sink) -> None:
        cursor["folders"][folder] = state
        sink.advance(cursor)

    def _unknown(self, client: IMAPClient, uids: list[int], sink: Sink) -> list[int]:
        """After a UIDVALIDITY change: the UIDs whose Message-ID the outbox does not know."""
        unknown = []
        for chunk in _chunks(uids, 1000):
            headers = client.fetch(chunk, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for uid in chunk:
                raw = next((v for k, v in headers.get(uid, {}).items() if k.startswith(b"BODY[HEADER")), b"")
                key = message_key(parse(raw or b""), raw or b"")
                if not key.startswith("mid:") or not sink.known(key):
                    unknown.append(uid)
        return unknown

    def _deliver(self, client: IMAPClient, folder: str, uids: list[int], state: dict, cursor: dict,
                 sink: Sink, priority: int, into: Into, filters: MailFilter | None) -> dict | None:
        """Fetch, convert and submit ``uids`` chunk by chunk: each chunk's rows and the cursor at
        its last UID commit together, and the next chunk is fetched while this one converts."""
        not_before = state.get("not_before")
        waiting: deque[tuple[Pending, dict]] = deque()
        with Converter(len(uids)) as converter:
            for batch in self._fetch(client, uids):
                if sink.closing:
                    return None
                jobs = []
                for uid, data in batch:
                    internal = data.get(b"INTERNALDATE")
                    if isinstance(internal, datetime) and internal.tzinfo is None:
                        internal = internal.astimezone()  # imapclient gives local time without tzinfo
                    if not_before is not None and isinstance(internal, datetime) and internal.timestamp() < not_before:
                        log.debug("%s: %s UID %d arrived %s, before the first start (%s): left alone", self.name,
                                  folder, uid, internal.isoformat(),
                                  datetime.fromtimestamp(not_before, UTC).isoformat(timespec="milliseconds"))
                        continue  # was in the mailbox before our first start
                    thread_id, gmail_id = data.get(b"X-GM-THRID"), data.get(b"X-GM-MSGID")
                    labels = tuple(to_unicode(label) for label in data.get(b"X-GM-LABELS") or ())
                    jobs.append(MailJob(data.get(b"BODY[]") or b"", internal, f"{folder} UID {uid}",
                                        self.config.skip_automated, self.languages, priority, as_piece=True,
                                        gmail_thread=str(thread_id) if thread_id is not None else None,
                                        filters=filters, gmail_id=str(gmail_id) if gmail_id is not None else None,
                                        gmail_labels=labels, threads=into.assembler is not None))
                state = {**state, "uid": batch[-1][0]}
                waiting.append((converter.start(jobs), state))
                if len(waiting) > PIPELINE_DEPTH:  # keep the workers fed while we fetch
                    self._commit(folder, *waiting.popleft(), cursor, sink, into)
            while waiting:
                self._commit(folder, *waiting.popleft(), cursor, sink, into)
        return state

    def _commit(self, folder: str, pending: Pending, state: dict, cursor: dict, sink: Sink, into: Into) -> None:
        cursor["folders"][folder] = state
        converted = pending.result()
        take(converted, into, sink, cursor)
        activity.advanced(self.name, "poll", len(converted))

    def _my_threads(self, client: IMAPClient) -> MyThreads:
        """The threads I wrote in, from the headers of the whole Sent folder (SPECIAL-USE \\Sent,
        or a folder with a usual name)."""
        sent = client.find_special_folder(SENT)
        if sent is None:
            raise SourceError('backfill = "replied" needs a Sent folder (SPECIAL-USE \\Sent); none found')
        client.select_folder(sent, readonly=True)
        uids = client.search(["ALL"])  # all of it: a thread I wrote in before `since` may go on after it
        mine = MyThreads()
        fields = ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO)]",
                  *(["X-GM-THRID"] if self._gmail else [])]
        for chunk in _chunks(sorted(uids), 1000):
            for data in client.fetch(chunk, fields).values():
                raw = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"") or b""
                thread_id = data.get(b"X-GM-THRID")
                mine.add(parse_headers(raw), str(thread_id) if thread_id is not None else None)
        log.info("%s: %d mail(s) in %s: backfilling only the threads they belong to", self.name, len(uids), sent)
        return mine

    def _fetch(self, client: IMAPClient, uids: list[int]) -> Iterator[list[tuple[int, dict]]]:
        """Chunks of (uid, data) in UID order, bounded by count and by bytes (RFC822.SIZE). The
        sizes are asked for SIZES_AHEAD messages at a time, as the fetch gets to them: memory
        that does not grow with the mailbox."""
        batch: list[int] = []
        batch_bytes = 0
        for ahead in _chunks(uids, SIZES_AHEAD):
            sizes = {uid: int(data.get(b"RFC822.SIZE", 0))
                     for uid, data in client.fetch(ahead, ["RFC822.SIZE"]).items()}
            for uid in ahead:
                if uid not in sizes:
                    log.debug("%s: UID %d is gone since the search (expunged)", self.name, uid)
                    continue
                if batch and (len(batch) >= self.config.fetch_messages
                              or batch_bytes + sizes[uid] > self.config.fetch_bytes):
                    yield self._fetch_batch(client, batch)
                    batch, batch_bytes = [], 0
                batch.append(uid)
                batch_bytes += sizes[uid]
        if batch:
            yield self._fetch_batch(client, batch)

    def _fetch_batch(self, client: IMAPClient, batch: list[int]) -> list[tuple[int, dict]]:
        gmail = ["X-GM-THRID", "X-GM-MSGID", "X-GM-LABELS"] if self._gmail else []
        fetched = client.fetch(batch, ["BODY.PEEK[]", "INTERNALDATE", *gmail])
        if gone := [uid for uid in batch if uid not in fetched]:
            log.debug("%s: UID(s) %s gone before their fetch (expunged)", self.name, _span(gone))
        return [(uid, fetched[uid]) for uid in batch if uid in fetched]

    # -- push -------------------------------------------------------------------------------

    def watch(self, trigger: Callable[[], None], stop: threading.Event) -> None:
        """IDLE on every folder (one connection each) and call ``trigger`` when mail arrives."""
        if not self.config.idle:
            return
        threads = [
            threading.Thread(target=self._idle, args=(folder, trigger, stop), name=f"idle {self.name} {folder}",
                             daemon=True)
            for folder in self.config.folders
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _idle(self, folder: str, trigger: Callable[[], None], stop: threading.Event) -> None:
        delay = 1.0
        failing = False
        while not stop.is_set():
            client = None
            signed_in = self.tokens.stamp() if self.tokens is not None else None  # before the connect's verdict
            try:
                client, renew_at = self._connect()
                client.select_folder(self._folder(client, folder), readonly=True)
                if not client.has_capability("IDLE"):
                    log.info("%s: %s has no IDLE; polling every %ss", self.name, self.config.host,
                             self.config.poll_interval)
                    return
                if failing:
                    log.warning("%s: IDLE on %s recovered", self.name, folder)
                    failing = False
                trigger()  # whatever arrived while we were not listening
                delay = 1.0
                activity.report(self.name, f"idle {folder}", f"IDLE connected on {folder}: new mail comes at once")
                self._idle_until_stopped(client, trigger, stop, max(renew_at, time.time() + 1.0))
                continue  # the access token is running out: a new connection with a new one
            except SignInRequired:  # the poll says this one, once; not again per folder
                # signed in anew: connect now (and the connect's trigger polls); else back off
                delay = 1.0 if self._await_sign_in(stop, delay, signed_in) else min(delay * 2, RECONNECT_MAX)
            except (SourceError, OSError, IMAPClientError) as exc:
                if not failing:
                    log.warning("%s: IDLE on %s failing (%s); reconnecting with backoff", self.name, folder,
                                " ".join(str(exc).split()))
                    failing = True
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX)
            finally:
                activity.clear(self.name, f"idle {folder}")
                if client is not None:
                    _close(client)

    def _await_sign_in(self, stop: threading.Event, seconds: float, stamp: tuple[int, int] | None) -> bool:
        """Wait ``seconds`` (or until stopped); True as soon as the token file differs from
        ``stamp``: ``omi-bridge login`` signed the account in again, and mail should not wait
        for the back-off (up to RECONNECT_MAX) to run out."""
        deadline = time.monotonic() + seconds
        while not stop.wait(min(SIGN_IN_LOOK, max(0.0, deadline - time.monotonic()))):
            if self.tokens is not None and self.tokens.stamp() != stamp:
                log.debug("%s: signed in again: IDLE reconnects now", self.name)
                return True
            if time.monotonic() >= deadline:
                return False
        return False

    def _idle_until_stopped(self, client: IMAPClient, trigger: Callable[[], None], stop: threading.Event,
                            reconnect_at: float = math.inf) -> None:
        """IDLE until stopped, renewed every IDLE_RENEW; returns at ``reconnect_at`` (epoch), when
        the connection's access token is about to expire."""
        client.idle()
        renew_at = time.monotonic() + IDLE_RENEW
        try:
            while not stop.is_set():
                responses = client.idle_check(timeout=IDLE_CHECK)
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    trigger()
                if time.time() >= reconnect_at:
                    log.debug("%s: the IDLE connection's access token expires soon: reconnecting", self.name)
                    return
                if time.monotonic() >= renew_at:
                    client.idle_done()
                    client.idle()
                    renew_at = time.monotonic() + IDLE_RENEW
        finally:
            with contextlib.suppress(OSError, IMAPClientError):
                client.idle_done()


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _span(uids: list[int]) -> str:
    """UIDs for a log line: all of a few, the ends of many."""
    return ", ".join(map(str, uids)) if len(uids) <= 10 else f"{uids[0]}..{uids[-1]}"


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError):
        with contextlib.suppress(Exception):  # the socket may already be gone
            client.shutdown()
