"""One member of a zip damaged: zipfile's own errors (as users met them), and the one error
bridge.zips turns them into, naming the member and saying what is wrong."""

from __future__ import annotations

import json
import zipfile
import zlib

import pytest

from bridge.errors import SourceError
from bridge.zips import DamagedMember, open_member, open_zip, read_member
from tests.zip_data import damage

DAY = "general/2025-03-05.json"


def _zip(path, compression: int) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("channels.json", '[{"id": "C1", "name": "general"}]')
        archive.writestr(DAY, json.dumps([{"type": "message", "user": "U1", "text": "hello " * 200,
                                           "ts": "1741168800.000100"}]))
        archive.writestr("general/2025-03-06.json", "[]")
    damage(path, DAY)


def test_the_damage_is_what_users_met_from_zipfile(tmp_path):
    """The shapes of the issue: a stored member fails its CRC, a deflated one cannot be inflated."""
    _zip(tmp_path / "stored.zip", zipfile.ZIP_STORED)
    _zip(tmp_path / "deflated.zip", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(tmp_path / "stored.zip") as archive, pytest.raises(zipfile.BadZipFile,
                                                                            match=f"Bad CRC-32 for file '{DAY}'"):
        archive.read(DAY)
    with zipfile.ZipFile(tmp_path / "deflated.zip") as archive, pytest.raises(
            zlib.error, match=r"^Error -3 while decompressing data"):
        archive.read(DAY)


@pytest.mark.parametrize(("compression", "reason"), [
    (zipfile.ZIP_STORED, "damaged in the zip (CRC check failed)"),
    (zipfile.ZIP_DEFLATED, "damaged in the zip (its compressed data is corrupt)"),
], ids=["stored", "deflated"])
def test_a_damaged_member_is_named_with_its_reason_and_the_others_still_read(tmp_path, compression, reason):
    _zip(tmp_path / "export.zip", compression)
    with open_zip(tmp_path / "export.zip") as archive:
        with pytest.raises(DamagedMember) as caught:
            read_member(archive, DAY)
        assert (caught.value.member, caught.value.reason) == (DAY, reason)
        assert str(caught.value) == f"{DAY}: {reason}"
        with pytest.raises(DamagedMember, match="damaged in the zip"), open_member(archive, DAY) as stream:
            while stream.read(64):  # streamed: the damage shows as it is read
                pass
        assert read_member(archive, "general/2025-03-06.json") == b"[]"


def test_a_file_that_is_no_zip_is_a_source_error(tmp_path):
    (tmp_path / "export.zip").write_text("not a zip")
    with pytest.raises(SourceError, match="not a readable zip"):
        open_zip(tmp_path / "export.zip")
    with pytest.raises(SourceError, match="no such file"):
        open_zip(tmp_path / "missing.zip")
