"""Reading the zips exports come in (a Slack export, WhatsApp's iOS chat), one member at a time.

A zip is a directory of separately packed members: one damaged member (a flipped bit on a
disk, a download cut short) leaves the others readable. zipfile reports the damage in its
own terms (``BadZipFile: Bad CRC-32 for file ...``, ``zlib.error: Error -3 while
decompressing data``, ``EOFError``) and some of them without the member's name. Here every
one becomes a ``DamagedMember`` that names the member and says in words what is wrong, so a
connector records that member as skipped and reads the rest.
"""

from __future__ import annotations

import contextlib
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from bridge.errors import SkipItem, SourceError

__all__ = ["DamagedMember", "damage_named", "member_name", "open_member", "open_zip", "read_member"]

_UNPACKED = "damaged in the zip (its compressed data is corrupt)"

try:
    from lzma import LZMAError
except ImportError:  # pragma: no cover  (Python built without lzma: zipfile cannot unpack such members either)
    class LZMAError(Exception):  # type: ignore[no-redef]
        pass


class DamagedMember(SkipItem):
    """One member of a zip cannot be read; ``member`` names it, ``reason`` says why."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(reason)
        self.member = member

    def __str__(self) -> str:
        return f"{self.member}: {self.reason}"


def open_zip(path: Path) -> zipfile.ZipFile:
    """The zip at ``path``; a file that is missing or is no zip at all is a ``SourceError``."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise SourceError(f"no such file: {path}") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path}: not a readable zip ({exc})") from None


def member_name(info: zipfile.ZipInfo) -> str:
    """A member's name as its writer meant it. Many writers (Slack among them) store UTF-8
    names without setting the UTF-8 flag, and zipfile then reads them as cp437: mended."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except UnicodeError:
        return info.filename


def read_member(archive: zipfile.ZipFile, member: str | zipfile.ZipInfo) -> bytes:
    """A member's bytes, checked against its CRC. ``KeyError`` if there is no such member."""
    info = member if isinstance(member, zipfile.ZipInfo) else archive.getinfo(member)
    with damage_named(info):
        return archive.read(info)


@contextlib.contextmanager
def open_member(archive: zipfile.ZipFile, member: str | zipfile.ZipInfo) -> Iterator[IO[bytes]]:
    """A member as a stream. Damage shows while it is read (the CRC is checked at its end):
    whatever reads it inside the ``with`` gets a ``DamagedMember``."""
    info = member if isinstance(member, zipfile.ZipInfo) else archive.getinfo(member)
    with damage_named(info), archive.open(info) as stream:
        yield stream


@contextlib.contextmanager
def damage_named(info: zipfile.ZipInfo) -> Iterator[None]:
    """zipfile's errors while ``info`` is read, as one ``DamagedMember``."""
    try:
        yield
    except zipfile.BadZipFile as exc:
        raise DamagedMember(member_name(info), _bad_zip_reason(str(exc))) from exc
    except EOFError as exc:
        raise DamagedMember(member_name(info), "cut short in the zip (its data ends early)") from exc
    except NotImplementedError as exc:  # "That compression method is not supported"
        raise DamagedMember(member_name(info), f"packed in a way that cannot be unpacked here ({exc})") from exc
    except RuntimeError as exc:
        if "encrypted" not in str(exc) and "password" not in str(exc):
            raise
        raise DamagedMember(member_name(info), "encrypted in the zip (it needs a password)") from exc
    except (zlib.error, LZMAError) as exc:
        raise DamagedMember(member_name(info), _UNPACKED) from exc
    except OSError as exc:
        if exc.errno is not None:
            raise  # the disk failed to read, the data may be fine: the caller's to handle
        raise DamagedMember(member_name(info), _UNPACKED) from exc  # bz2: "Invalid data stream"


def _bad_zip_reason(message: str) -> str:
    if "CRC" in message:
        return "damaged in the zip (CRC check failed)"
    if "magic number" in message or "differ" in message or "Truncated" in message:
        return "damaged in the zip (its header is broken)"
    if "Overlapped" in message:
        return "damaged in the zip (it overlaps another member)"
    return f"damaged in the zip ({message})"
