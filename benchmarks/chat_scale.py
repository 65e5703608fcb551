"""A large WhatsApp export must import in well under a minute, with memory that does not grow.

    python -m benchmarks.chat_scale [--sizes 20000 200000] [--format whatsapp|messenger|sms]

For each size, in a fresh process (so peak memory is its own): a generated iOS export
(tests/chat_data.py: four people, multi-line messages, media, deleted and edited messages) is
imported by the real ``whatsapp`` connector into a state file on disk, as ``run`` does. Then an
export of the same chat 1% longer is imported: only the new messages may become conversations.
Reported: seconds and microseconds per message, conversations, peak memory (ru_maxrss) and
what the import added to it. Flat memory: the growth is the same at the small size and the large.

``--format messenger`` and ``--format sms`` measure the same chat as Messenger's JSON download
(``message_N.json`` of 10,000 messages each, its strings Latin-1-escaped) and as one SMS Backup &
Restore XML file (a thread per person, photos as MMS with their data), through the ``messenger``
and ``sms-backup`` connectors (tests/chat_formats_data.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bridge.connector import Sink  # noqa: E402
from bridge.store import Store  # noqa: E402
from connectors.chats.meta import MessengerConfig, MessengerConnector  # noqa: E402
from connectors.chats.sms import SmsBackupConfig, SmsBackupConnector  # noqa: E402
from connectors.chats.whatsapp import WhatsAppConfig, WhatsAppConnector  # noqa: E402
from tests.chat_data import write_ios  # noqa: E402
from tests.chat_formats_data import write_messenger, write_sms  # noqa: E402

# format -> (write the chat of n messages into a folder: the path to import, the connector)
FORMATS = {
    "messenger": (lambda folder, n: write_messenger(folder / "facebook", n),
                  lambda path: MessengerConnector("family", MessengerConfig(
                      type="messenger", path=path, me=["Alex"], timezone="Europe/Berlin"))),
    "sms": (lambda folder, n: write_sms(folder / "sms-backup.xml", n),
            lambda path: SmsBackupConnector("family", SmsBackupConfig(
                type="sms-backup", path=path, me=["Alex"], timezone="Europe/Berlin"))),
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_size(messages: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "WhatsApp Chat - Family.txt"
        write_ios(export, messages)
        size_mb = export.stat().st_size / 1e6
        store = Store(Path(folder) / "state.db")
        config = WhatsAppConfig(type="whatsapp", path=export, me=["Alex"], timezone="Europe/Berlin")
        before = peak_mb()
        started = time.perf_counter()
        WhatsAppConnector("family", config).poll(Sink(store, "family", config, lambda: None))
        took = time.perf_counter() - started
        after = peak_mb()
        conversations = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        items = store.conn.execute("SELECT count(*) FROM items").fetchone()[0]

        longer = messages + messages // 100  # the same chat exported again, a little later
        write_ios(export, longer)
        started = time.perf_counter()
        WhatsAppConnector("family", config).poll(Sink(store, "family", config, lambda: None))
        again = time.perf_counter() - started
        added = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] - conversations
        return {"messages": messages, "file_mb": round(size_mb, 1), "seconds": round(took, 2),
                "us_per_message": round(took / messages * 1e6, 1), "items": items, "conversations": conversations,
                "peak_mb": round(after, 1), "import_added_mb": round(after - before, 1),
                "reimport_seconds": round(again, 2), "reimport_new_conversations": added}


def one_size_of(fmt: str, messages: int) -> dict:
    """``one_size`` for another format's export of the same chat."""
    write, connector = FORMATS[fmt]
    with tempfile.TemporaryDirectory() as folder:
        export = write(Path(folder), messages)
        size_mb = sum(p.stat().st_size for p in ([export] if export.is_file() else export.rglob("*.json"))) / 1e6
        store = Store(Path(folder) / "state.db")
        source = connector(export)
        before = peak_mb()
        started = time.perf_counter()
        source.poll(Sink(store, "family", source.config, lambda: None))
        took = time.perf_counter() - started
        after = peak_mb()
        conversations = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        items = store.conn.execute("SELECT count(*) FROM items").fetchone()[0]
        write(Path(folder), messages + messages // 100)
        source = connector(export)
        started = time.perf_counter()
        source.poll(Sink(store, "family", source.config, lambda: None))
        again = time.perf_counter() - started
        added = store.conn.execute("SELECT count(*) FROM outbox").fetchone()[0] - conversations
        return {"format": fmt, "messages": messages, "file_mb": round(size_mb, 1), "seconds": round(took, 2),
                "us_per_message": round(took / messages * 1e6, 1), "items": items, "conversations": conversations,
                "peak_mb": round(after, 1), "import_added_mb": round(after - before, 1),
                "reimport_seconds": round(again, 2), "reimport_new_conversations": added}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    parser.add_argument("--format", choices=["whatsapp", *FORMATS], default="whatsapp")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one) if args.format == "whatsapp" else one_size_of(args.format, args.one)))
        return
    for size in args.sizes:
        done = subprocess.run([sys.executable, "-m", "benchmarks.chat_scale", "--one", str(size),
                               "--format", args.format],
                              capture_output=True, text=True, cwd=ROOT, check=True)
        print(done.stdout.strip())


if __name__ == "__main__":
    main()
