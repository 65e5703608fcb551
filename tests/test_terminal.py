"""What a person at a terminal sees: progress bars and log lines that never overwrite each other,
and progress while plan and preview read a large source. Run in a real pseudo-terminal; its
output is played on a small screen model (carriage return, newline, cursor up, erase line)."""

from __future__ import annotations

import fcntl
import mailbox
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.conftest import bridge_env, write_config
from tests.mail_data import ME, make_year
from tests.slack_data import make_export

COLUMNS = 250
_CSI = re.compile(r"\x1b\[(\d*)([A-Za-z])")
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.-]+: ")


def in_a_terminal(*args: str, timeout: float = 120) -> str:
    """Run ``python -m bridge ARGS`` with a pseudo-terminal for stdin, stdout and stderr; its output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "bridge", *args], stdin=slave, stdout=slave, stderr=slave,
                               env=bridge_env(), close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every copy of the terminal's other side is closed
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(master)
    assert process.wait(timeout=30) is not None
    return b"".join(chunks).decode("utf-8", "replace")


def screen(output: str) -> list[str]:
    """The rows a terminal shows after ``output`` (scrollback included; lines never wrap here)."""
    rows: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(output):
        char = output[i]
        if char == "\x1b" and (match := _CSI.match(output, i)):
            count, code = int(match.group(1) or 1), match.group(2)
            if code == "A":
                row = max(0, row - count)
            elif code == "K":
                del rows[row][col:]
            i = match.end()
            continue
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            while len(rows) <= row:
                rows.append([])
        elif char >= " ":
            line = rows[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = char
            else:
                line.append(char)
            col += 1
        i += 1
    return ["".join(r).rstrip() for r in rows]


def _sources(folder: Path) -> str:
    box = mailbox.mbox(folder / "all.mbox")
    for raw in make_year(500, seed=4).all:
        box.add(raw)
    box.close()
    make_export(folder / "export.zip", 3000, seed=2)
    return (f'[connectors.mail]\ntype = "mbox"\npath = "all.mbox"\nme = ["{ME}"]\n\n'
            '[connectors.chat]\ntype = "slack-export"\npath = "export.zip"\ntimezone = "UTC"\n')


def test_log_lines_written_while_bars_run_stay_whole_and_no_bar_is_left_half_drawn(tmp_path, fake_omi) -> None:
    config = write_config(tmp_path, fake_omi.url, connectors=_sources(tmp_path))
    # at DEBUG every skipped mail is a line, written while the mail's bar (and the chat's) run
    output = in_a_terminal("run", "--once", "-c", str(config), "--log-level", "DEBUG")
    rows = screen(output)
    logged = [r for r in rows if re.search(r" (DEBUG|INFO|WARNING|ERROR) ", r)]
    assert sum(" mail: skipped " in r for r in logged) > 100
    broken = [r for r in logged if not _LOG_LINE.match(r)]
    assert broken == [], broken[:5]
    # a bar still on the screen is a finished one (an archive's stays, to say how far it went)
    bars = [r for r in rows if re.search(r"\d+%\||\[\d\d:\d\d", r)]
    assert all("100%|" in bar for bar in bars), bars
    assert any(r.startswith("sent ") for r in rows)


def test_plan_and_preview_show_what_they_have_read_while_they_read(tmp_path, fake_omi) -> None:
    box = mailbox.mbox(tmp_path / "all.mbox")
    for raw in make_year(1500, seed=6).all:
        box.add(raw)
    box.close()
    connectors = f'[connectors.mail]\ntype = "mbox"\npath = "all.mbox"\nme = ["{ME}"]\nprogress = false\n'
    config = write_config(tmp_path, fake_omi.url, connectors=connectors)  # no bar of the mbox's own
    for command in ("plan", "preview"):
        output = in_a_terminal(command, "-c", str(config))
        assert re.search(r"mail: reading: [1-9][\d,]* item", output), output[:300]  # drawn while reading
        rows = screen(output)
        assert not any("mail: reading" in r for r in rows)  # and gone once the source was read
        if command == "plan":
            assert any(r.startswith("mail: 1,500 item(s) read -> ") for r in rows), rows
        else:
            assert sum('"state": "would skip"' in r for r in rows) > 300
