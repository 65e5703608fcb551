"""Zips damaged the way disks and cut-short downloads damage them: one member's bytes changed
after the zip was written, its directory and the other members intact."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

LOCAL_HEADER = 30  # bytes before a member's name in its local header (APPNOTE 4.3.7)


def damage(path: Path, member: str) -> None:
    """Change ``member``'s data in place. Stored: one byte flipped, so only its CRC-32 tells
    (``Bad CRC-32 for file ...``). Deflated: its first block marked with the reserved block
    type, so the stream cannot be inflated (``Error -3 while decompressing data``)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + LOCAL_HEADER + name_length + extra_length
    if info.compress_type == zipfile.ZIP_STORED:
        data[start + info.compress_size // 2] ^= 0x20
    else:
        data[start] = 0b111  # BFINAL=1, BTYPE=11: reserved (RFC 1951 3.2.3)
    path.write_bytes(bytes(data))
