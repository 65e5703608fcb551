"""A private Dovecot on loopback for tests and benchmarks: its own config, users, port and mail folder.

Needs Debian's ``dovecot-imapd``. Nothing outside the temporary folder is touched; mail is
delivered with IMAP APPEND (or, for bulk seeding, written straight into the Maildir).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
import uuid
from datetime import datetime
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"


def available() -> bool:
    return os.path.exists(DOVECOT) and os.path.exists(DOVEADM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    def __init__(self, root: Path, oauth2_introspection_url: str | None = None) -> None:
        """``oauth2_introspection_url``: also accept XOAUTH2 and OAUTHBEARER logins, each token
        checked at that RFC 7662 endpoint (tests.fake_oauth) on every login; the password
        passdb then serves only PLAIN and LOGIN (the harness's own ``client`` and ``append``)."""
        self.root = root
        self.port = _free_port()
        self.users: dict[str, str] = {}
        self.config = root / "dovecot.conf"
        if os.geteuid() == 0:
            # root may not own mail: run mail processes as Debian's dovecot user
            mail_user = pwd.getpwnam("dovecot")
            login_user, internal_user = "dovenull", "dovecot"
        else:
            mail_user = pwd.getpwuid(os.geteuid())
            login_user = internal_user = mail_user.pw_name
        self.uid, self.gid = mail_user.pw_uid, mail_user.pw_gid
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        os.chown(root / "mail", self.uid, self.gid) if os.geteuid() == 0 else None
        (root / "passwd").write_text("")
        mechanisms, password_mechanisms, oauth2_passdb = "plain login", "", ""
        if oauth2_introspection_url:
            mechanisms += " xoauth2 oauthbearer"
            password_mechanisms = "  mechanisms = plain login\n"
            # force_introspection: no tokeninfo_url, so the introspection answer is the verdict;
            # auth_cache_size stays 0 (the default): every login asks the endpoint afresh
            (root / "dovecot-oauth2.conf.ext").write_text(
                "introspection_mode = post\n"
                f"introspection_url = {oauth2_introspection_url}\n"
                "force_introspection = yes\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n")
            # auth_verbose: a refused token is logged with Dovecot's reason ("Introspection failed:
            # Provided token is not valid"), not just "auth failed"; tokens themselves are not logged
            oauth2_passdb = f"""auth_verbose = yes
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""
        self.config.write_text(f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
default_login_user = {login_user}
default_internal_user = {internal_user}
first_valid_uid = {self.uid}
mail_location = maildir:{root}/mail/%u/Maildir
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
{password_mechanisms}}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 50
}}
""")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        # the daemon keeps inherited pipes open: capture_output would wait for it forever
        done = subprocess.run([DOVECOT, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                              stderr=(self.root / "start.err").open("wb"))
        if done.returncode != 0:
            raise RuntimeError(f"dovecot failed to start: {(self.root / 'start.err').read_text()[-2000:]}")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    if s.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}")

    def stop(self) -> None:
        subprocess.run([DOVECOT, "-c", str(self.config), "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- users and mail -------------------------------------------------------------------

    def add_user(self, name: str, password: str) -> None:
        self.users[name] = password
        with (self.root / "passwd").open("a") as f:
            f.write(f"{name}:{{PLAIN}}{password}\n")

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, self.users[user])
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX", when: datetime | None = None) -> None:
        client = self.client(user)
        try:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw, msg_time=when)
        finally:
            client.logout()

    def seen_flags(self, user: str, folder: str = "INBOX") -> dict[int, tuple]:
        client = self.client(user)
        try:
            client.select_folder(folder, readonly=True)
            return {uid: data[b"FLAGS"] for uid, data in client.fetch(client.search("ALL"), ["FLAGS"]).items()}
        finally:
            client.logout()

    def set_uid_validity(self, user: str, folder: str, value: int) -> None:
        subprocess.run([DOVEADM, "-c", str(self.config), "mailbox", "update", "--uid-validity", str(value),
                        "-u", user, folder], check=True, capture_output=True)

    def maildir_new(self, user: str) -> Path:
        """The INBOX's new/ folder, for seeding many messages fast (benchmarks)."""
        base = self.root / "mail" / user / "Maildir"
        for sub in ("new", "cur", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in [self.root / "mail" / user, base, *(base / s for s in ("new", "cur", "tmp"))]:
                os.chown(path, self.uid, self.gid)
        return base / "new"

    def deliver_file(self, user: str, raw: bytes, n: int) -> None:
        path = self.maildir_new(user) / f"{int(time.time())}.{n}_{uuid.uuid4().hex[:8]}.bench"
        path.write_bytes(raw)
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)
