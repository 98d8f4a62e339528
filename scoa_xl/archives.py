"""Zip archives → their members, each unpacked by zipfile only after the archive's and the member's declared
sizes, counts and compression ratios pass the limits (only stored and deflate are unpacked).

A format reader over unpacking.py: each member goes to `_item`, which opens a member that is itself an email or
archive through the walk's dispatcher.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace

from .errors import Code
from .preflight import MAX_MEMBERS, MAX_RATIO, zip_member_count
from .unpacking import (
    MAX_ARCHIVE_BYTES,
    MAX_MEMBER_BYTES,
    MAX_UNPACKED_BYTES,
    RATIO_FLOOR,
    SEPARATOR,
    Item,
    _clean_name,
    _item,
    _mb,
    _refused,
    _source,
    _unique,
    _Walk,
    _Where,
)

# ---------------------------------------------------------------------------------------------------
# .zip


def _open_zip(data: bytes, where: _Where, walk: _Walk) -> Iterator[Item]:
    if len(data) > MAX_ARCHIVE_BYTES:
        yield _refused(walk, where, Code.MAIL_001, f"a zip archive of more than {_mb(MAX_ARCHIVE_BYTES)}",
                       f"at most {_mb(MAX_ARCHIVE_BYTES)}")
        return
    declared = zip_member_count(data)
    if declared > MAX_MEMBERS:  # before the central directory is parsed into that many objects
        yield _refused(walk, where, Code.MAIL_002, f"a zip archive of {declared:,} files",
                       f"at most {MAX_MEMBERS:,}")
        return
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except Exception:
        yield _refused(walk, where, Code.MAIL_006, "a damaged zip archive", "a zip archive that opens")
        return
    if len(infos) > MAX_MEMBERS:
        yield _refused(walk, where, Code.MAIL_002, f"a zip archive of {len(infos):,} files",
                       f"at most {MAX_MEMBERS:,}")
        return
    files = [i for i in infos if not i.is_dir()]
    total = sum(i.file_size for i in files)
    ratio = total / max(1, len(data))
    if total > RATIO_FLOOR and ratio > MAX_RATIO:
        yield _refused(walk, where, Code.MAIL_008, f"a zip archive that unpacks to {_mb(total)} ({ratio:,.0f}:1)",
                       f"at most {MAX_RATIO}:1")
        return
    if total > MAX_UNPACKED_BYTES:
        yield _refused(walk, where, Code.MAIL_001, f"a zip archive that unpacks to {_mb(total)}",
                       f"at most {_mb(MAX_UNPACKED_BYTES)}")
        return
    if not files:
        yield Item(SEPARATOR.join(where.chain), _source(walk, where), what="an empty zip archive")
        return
    used: set[str] = set()
    for info in files:
        name = _unique(_clean_name(info.filename, "file"), used)
        at = replace(where, chain=(*where.chain, name))
        refusal = _member_refusal(info)
        if refusal is not None:
            code, found, expected = refusal
            yield _refused(walk, at, code, found, expected)
            continue
        try:
            with zf.open(info) as fh:
                member = fh.read(info.file_size + 1)  # zipfile stops at the declared size; a bomb's CRC then fails
            if len(member) != info.file_size:
                raise zipfile.BadZipFile("size")
        except Exception:
            yield _refused(walk, at, Code.MAIL_006, "a damaged file in a zip archive", "a file that unpacks")
            continue
        yield from _item(member, at, walk)


def _member_refusal(info: zipfile.ZipInfo) -> tuple[Code, str, str] | None:
    if info.flag_bits & 0x1:
        return (Code.MAIL_004, "a password-protected file in a zip archive",
                "a zip archive that opens without a password")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return (Code.MAIL_006, "a file in a zip archive packed in a way zip programs rarely use",
                "a zip archive made by Windows, macOS or a common zip program")
    if info.file_size > MAX_MEMBER_BYTES:
        return (Code.MAIL_001, f"a file in a zip archive that unpacks to {_mb(info.file_size)}",
                f"at most {_mb(MAX_MEMBER_BYTES)}")
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
        return (Code.MAIL_008, f"a file in a zip archive compressed {ratio:,.0f}:1", f"at most {MAX_RATIO}:1")
    return None
