"""Emails and archives → every attachment or member inside them, judged by content, with where it came from.

Returns arrive by email: saved as .eml (Outlook on the web, Thunderbird, Apple Mail), dragged out of desktop
Outlook as .msg, exported as an .mbox, or zipped. Each attachment or member becomes an `Item`: a spreadsheet
(its bytes, for the same pre-flight and reader as a file) or a row saying what else it is. Nested messages and
archives are followed: `Inbox.mbox > Fwd SCOA.eml > Leeds return.xlsx`.

Everything here is hostile until shown otherwise:
- sizes are bounded before a parser runs (a message, each message of a mailbox, an archive and each member,
  and what all the attachments of one container add up to), and so are counts (attachments, members, items)
  and nesting;
- a zip member is unpacked by zipfile, which stops at its declared size, after its declared sizes and ratio
  pass pre-flight's limits; only the two packings zip programs use (stored, deflate) are unpacked;
- no name taken from a message or an archive is ever used as a path: names are only shown, escaped;
- broken MIME, bad base64, an unknown charset, a damaged .msg or a TNEF wrapper each give an item that says
  so, never a traceback.

The standard library reads .eml and .mbox (email, policy.default); aspose-email-foss (MIT) reads .msg.

The readers are a module each: mime.py (.eml, .mbox), outlook.py (.msg), archives.py (.zip), over the shared
core in unpacking.py. This module is the entry point: it opens the outermost file and dispatches each nested
container to its reader.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from .archives import _open_zip
from .errors import Code
from .fileio import display_name
from .mime import _open_eml, _open_mbox, _open_mbox_stream
from .model import ContainerKind, Source
from .outlook import _open_msg
from .preflight import MAX_MEMBERS, MAX_RATIO, OLE2_MAGIC, ZIP_MAGIC
from .unpacking import (
    _KIND_BY_EXT,
    MAX_ARCHIVE_BYTES,
    MAX_ATTACHMENTS,
    MAX_ITEMS,
    MAX_MAILBOX_BYTES,
    MAX_MEMBER_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    MAX_UNPACKED_BYTES,
    NAME_CHARS,
    RATIO_FLOOR,
    SEPARATOR,
    Item,
    _identify,
    _Provenance,
    _refused,
    _Walk,
    _Where,
)

__all__ = [
    "MAX_ARCHIVE_BYTES", "MAX_ATTACHMENTS", "MAX_ITEMS", "MAX_MAILBOX_BYTES", "MAX_MEMBER_BYTES", "MAX_MEMBERS",
    "MAX_MESSAGE_BYTES", "MAX_NESTING", "MAX_RATIO", "MAX_UNPACKED_BYTES", "NAME_CHARS", "RATIO_FLOOR",
    "SEPARATOR", "ContainerKind", "Item", "Source", "container_kind", "iter_container", "open_container",
    "sniff_container", "write_temporary",
]


# ---------------------------------------------------------------------------------------------------
# Public API


def container_kind(data: bytes, name: str = "") -> ContainerKind | None:
    """What container these bytes are, by content (the name only breaks a tie for a damaged one); None for a
    spreadsheet or anything else."""
    return _identify(data, name, "").container


def sniff_container(path: Path) -> ContainerKind | None:
    """What container a file is, by content; None for a spreadsheet, anything else, or what cannot be read."""
    path = Path(path)
    head = _read(path, 64 * 1024)
    if head is None or not head:
        return None
    by_name = _KIND_BY_EXT.get(path.suffix.lower())
    if head.startswith((ZIP_MAGIC, OLE2_MAGIC)):
        limit = MAX_ARCHIVE_BYTES if head.startswith(ZIP_MAGIC) else MAX_MESSAGE_BYTES
        data = _read(path, limit)
        if data is None:
            return None
        if len(data) > limit:  # too large to look inside: the name decides, and opening it then says why
            return by_name
        return _identify(data, path.name, "").container
    found = _identify(head, path.name, "").container
    return found or (by_name if by_name in (ContainerKind.EML, ContainerKind.MBOX) else None)


def iter_container(source: Path | bytes, name: str, kind: ContainerKind) -> Iterator[Item]:
    """Every item in an email, mailbox or archive (given as a path or its bytes), one at a time, nested ones
    followed. `name` is how the file is shown (the start of every item's name); `kind` comes from
    `sniff_container` or `container_kind`. Never raises for what the file holds."""
    walk = _Walk(name, ContainerKind(kind), _dispatch)
    where = _Where((display_name(name),), _Provenance(), 1)
    count = 0
    for item in _open_outermost(source, walk, where):
        count += 1
        if count > MAX_ITEMS:
            yield _refused(walk, where, Code.MAIL_002, f"more than {MAX_ITEMS:,} attachments and files in it "
                           f"(the first {MAX_ITEMS:,} were opened, the rest were not)",
                           f"at most {MAX_ITEMS:,}")
            return
        yield item


def open_container(source: Path | bytes, name: str, kind: ContainerKind) -> list[Item]:
    """`iter_container` as a list."""
    return list(iter_container(source, name, kind))


def write_temporary(item: Item, directory: Path) -> Path:
    """A spreadsheet item's bytes as a new file in `directory`, for a reader that takes a path. The file is
    named by the item's content, never by its attachment name; the caller removes it."""
    if not item.spreadsheet:
        raise ValueError(f"{item.name} is not a spreadsheet")
    fd, tmp = tempfile.mkstemp(prefix="attachment-", suffix=item.suffix, dir=directory)
    with os.fdopen(fd, "wb") as fh:
        fh.write(item.data)
    return Path(tmp)


# ---------------------------------------------------------------------------------------------------
# The outermost file, and each nested container to its reader


def _open_outermost(source: Path | bytes, walk: _Walk, where: _Where) -> Iterator[Item]:
    kind = walk.kind
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if kind is ContainerKind.MBOX:
            yield from _open_mbox_stream(io.BytesIO(data), where, walk)
        else:
            yield from _OPENERS[kind](data, where, walk)
        return
    path = Path(source)
    if kind is ContainerKind.MBOX:
        fh = _open_file(path)
        if isinstance(fh, str):
            yield _refused(walk, where, Code.MAIL_006, fh, "a readable file", what=fh)
            return
        with fh:
            yield from _open_mbox_stream(fh, where, walk)
        return
    limit = MAX_ARCHIVE_BYTES if kind is ContainerKind.ZIP else MAX_MESSAGE_BYTES
    data_or_none = _read(path, limit)
    if data_or_none is None:
        yield _refused(walk, where, Code.MAIL_006, "a file that could not be read", "a readable file")
        return
    yield from _OPENERS[kind](data_or_none, where, walk)


def _open_file(path: Path) -> BinaryIO | str:
    """The file opened for reading without waiting on a pipe, or why it cannot be."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return f"a file that could not be opened ({exc.strerror})"
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return "not an ordinary file"
    return os.fdopen(fd, "rb")


def _read(path: Path, limit: int) -> bytes | None:
    """Up to limit + 1 bytes of an ordinary file (one more than the limit says it is too large); None if it
    cannot be read."""
    fh = _open_file(path)
    if isinstance(fh, str):
        return None
    try:
        with fh:
            return fh.read(limit + 1)
    except OSError:
        return None


_OPENERS = {ContainerKind.EML: _open_eml, ContainerKind.MSG: _open_msg, ContainerKind.MBOX: _open_mbox,
            ContainerKind.ZIP: _open_zip}


def _dispatch(kind: ContainerKind, data: bytes, where: _Where, walk: _Walk) -> Iterator[Item]:
    """A nested container's bytes, opened by the reader for its kind (the readers reach it through the walk)."""
    return _OPENERS[kind](data, where, walk)
