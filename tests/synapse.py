"""A private Synapse homeserver on loopback for tests: SQLite, registration by the admin script,
rate limits lifted, nothing outside its temporary folder.

Synapse comes from PyPI (``matrix-synapse``), in its own virtualenv so its pinned dependencies
never meet the bridge's: ``$OMI_BRIDGE_SYNAPSE_PYTHON``, else ``.synapse-venv/bin/python`` at
the repository's top (``.ci/run`` makes it), else this interpreter if it has Synapse.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parent.parent


def synapse_python() -> str | None:
    for candidate in (os.environ.get("OMI_BRIDGE_SYNAPSE_PYTHON"), str(ROOT / ".synapse-venv" / "bin" / "python"),
                      sys.executable):
        if candidate and Path(candidate).exists():
            found = subprocess.run([candidate, "-c", "import synapse"], capture_output=True)
            if found.returncode == 0:
                return candidate
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Synapse:
    def __init__(self, root: Path, python: str) -> None:
        self.root = root
        self.python = python
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = root / "homeserver.yaml"
        self.process: subprocess.Popen | None = None
        (root / "log.config").write_text(f"""
version: 1
formatters:
  plain:
    format: '%(asctime)s %(levelname)s %(name)s: %(message)s'
handlers:
  file:
    class: logging.FileHandler
    filename: {root}/homeserver.log
    formatter: plain
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
""")
        limits = "{per_second: 1000, burst_count: 1000}"
        self.config.write_text(f"""
server_name: "localhost"
pid_file: {root}/homeserver.pid
listeners:
  - port: {self.port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {root}/homeserver.db
log_config: {root}/log.config
media_store_path: {root}/media
registration_shared_secret: "{uuid.uuid4().hex}"
report_stats: false
macaroon_secret_key: "{uuid.uuid4().hex}"
form_secret: "{uuid.uuid4().hex}"
signing_key_path: {root}/signing.key
trusted_key_servers: []
suppress_key_server_warning: true
presence:
  enabled: false
rc_message: {limits}
rc_registration: {limits}
rc_joins:
  local: {limits}
  remote: {limits}
rc_login:
  address: {limits}
  account: {limits}
  failed_attempts: {limits}
rc_invites:
  per_room: {limits}
  per_user: {limits}
""")
        subprocess.run([python, "-m", "synapse.app.homeserver", "-c", str(self.config), "--generate-keys"],
                       check=True, capture_output=True, cwd=root)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> float:
        """Start it; the seconds it took to answer."""
        started = time.monotonic()
        self.process = subprocess.Popen([self.python, "-m", "synapse.app.homeserver", "-c", str(self.config)],
                                        cwd=self.root, stdout=subprocess.DEVNULL,
                                        stderr=(self.root / "start.err").open("wb"))
        deadline = started + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"synapse exited: {(self.root / 'start.err').read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/_matrix/client/versions", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("synapse did not answer within 90 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # -- users and rooms, as other clients make them --------------------------------------

    def register(self, user: str, password: str) -> str:
        """A user made by Synapse's admin script; their access token."""
        subprocess.run([self.python, "-m", "synapse._scripts.register_new_matrix_user", "-c", str(self.config),
                        "-u", user, "-p", password, "--no-admin", self.url], check=True, capture_output=True)
        answer = httpx.post(f"{self.url}/_matrix/client/v3/login", json={
            "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
        answer.raise_for_status()
        return answer.json()["access_token"]

    def call(self, token: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        answer = httpx.request(method, f"{self.url}/_matrix/client/v3{path}", json=body,
                               headers={"Authorization": f"Bearer {token}"}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def create_room(self, token: str, name: str, invite: list[str] = (), state: list[dict] = ()) -> str:
        body = {"name": name, "preset": "private_chat", "invite": list(invite), "initial_state": list(state)}
        return self.call(token, "POST", "/createRoom", body)["room_id"]

    def join(self, token: str, room: str) -> None:
        self.call(token, "POST", f"/join/{quote(room)}", {})

    def send(self, token: str, room: str, content: dict[str, Any] | str, kind: str = "m.room.message") -> str:
        if isinstance(content, str):
            content = {"msgtype": "m.text", "body": content}
        path = f"/rooms/{quote(room)}/send/{kind}/{uuid.uuid4().hex}"
        return self.call(token, "PUT", path, content)["event_id"]

    def redact(self, token: str, room: str, event_id: str) -> None:
        self.call(token, "PUT", f"/rooms/{quote(room)}/redact/{quote(event_id)}/{uuid.uuid4().hex}", {})

    def display_name(self, token: str, user: str, name: str) -> None:
        self.call(token, "PUT", f"/profile/{quote(user)}/displayname", {"displayname": name})
