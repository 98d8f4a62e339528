"""Emails saved as .eml and mailboxes exported as .mbox → their attachments, with who sent them, when and
under what subject: the standard library's parser (email, policy.default), a message at a time.

A format reader over unpacking.py: each attachment goes to `_item`, and an attached email (message/rfc822) is
walked here in turn. Outlook's reader borrows the header provenance (`_provenance`, `_shown`) for the transport
headers a .msg keeps.
"""

from __future__ import annotations

import email.header
import email.policy
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from typing import Any, BinaryIO

from .errors import Code, Issue, issue
from .fileio import display_name
from .unpacking import (
    MAX_ATTACHMENTS,
    MAX_MAILBOX_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_NESTING,
    SEPARATOR,
    Item,
    _clean_name,
    _item,
    _mb,
    _message_name,
    _Provenance,
    _refused,
    _source,
    _unique,
    _Walk,
    _Where,
)

_POLICY = email.policy.default
_READ_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------------------
# .eml


def _open_eml(data: bytes, where: _Where, walk: _Walk) -> Iterator[Item]:
    if len(data) > MAX_MESSAGE_BYTES:
        yield _refused(walk, where, Code.MAIL_001, f"an email message of more than {_mb(MAX_MESSAGE_BYTES)}",
                       f"at most {_mb(MAX_MESSAGE_BYTES)}")
        return
    parts = _count_parts(data)
    if parts > MAX_ATTACHMENTS:
        yield _refused(walk, where, Code.MAIL_002, f"an email message with {parts:,} parts",
                       f"at most {MAX_ATTACHMENTS:,} attachments")
        return
    try:
        msg = BytesParser(policy=_POLICY).parsebytes(data)
    except Exception:  # RecursionError for a message nested thousands deep; the parser is lenient otherwise
        yield _refused(walk, where, Code.MAIL_006, "an email message that could not be parsed",
                       "an email message as mail programs save it")
        return
    if not msg.keys():  # no header at all: whatever it is, it is not an email message
        yield _refused(walk, where, Code.MAIL_006, "a file named as an email message that is not one",
                       "an email message as mail programs save it")
        return
    yield from _walk_message(msg, where, walk)


_BOUNDARY = re.compile(rb"^--([^\r\n]{1,200})", re.M)
_CONTENT_TYPE = re.compile(rb"^content-type[ \t]*:", re.M | re.I)


def _count_parts(data: bytes) -> int:
    """How many parts a message holds, nested messages' included, counted on the raw bytes before parsing: the
    larger of its part delimiters and its Content-Type headers."""
    return max(len(_BOUNDARY.findall(data)), len(_CONTENT_TYPE.findall(data)))


def _walk_message(msg: Message, where: _Where, walk: _Walk) -> Iterator[Item]:
    here = replace(where, provenance=_provenance(msg))
    used: set[str] = set()
    attachments = list(_attachment_parts(msg))
    if not attachments:
        yield _refused(walk, here, Code.MAIL_007, "an email with nothing attached", "a workbook attached",
                       what="an email with nothing attached")
        return
    for part in attachments:
        ctype = _content_type(part)
        if ctype == "message/rfc822":
            inner = _inner_message(part)
            if inner is None:
                name = _unique(_clean_name(_filename(part), "message.eml"), used)
                yield _refused(walk, replace(here, chain=(*here.chain, name)), Code.MAIL_006,
                               "an attached email message that could not be parsed",
                               "an email message as mail programs save it")
                continue
            name = _unique(_clean_name(_filename(part), "") or _message_name(_subject(inner), ".eml"), used)
            at = replace(here, chain=(*here.chain, name))
            if here.depth >= MAX_NESTING:
                yield _refused(walk, at, Code.MAIL_003,
                               f"an email message inside {MAX_NESTING} emails or archives, one within another",
                               f"at most {MAX_NESTING} levels")
                continue
            yield from _walk_message(inner, replace(at, depth=here.depth + 1), walk)
            continue
        name = _unique(_clean_name(_filename(part), f"attachment ({ctype})"), used)
        at = replace(here, chain=(*here.chain, name))
        if ctype.startswith("message/"):
            what = "a delivery report" if ctype == "message/delivery-status" else f"a {ctype} part"
            yield Item(SEPARATOR.join(at.chain), _source(walk, at), what=what)
            continue
        data, damaged = _decoded(part)
        yield from _item(data, at, walk, ctype, damaged)


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:
        return "application/octet-stream"


def _filename(part: Message) -> str:
    try:
        return part.get_filename() or ""
    except Exception:  # a parameter the header parser trips on
        return ""


def _attachment_parts(msg: Message) -> Iterator[Message]:
    """Every part that is not the message's own text: leaves of its multiparts, and attached messages (whole).
    Text without a file name that is not marked as an attachment is the body."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        ctype = _content_type(part)
        if ctype.startswith("multipart/"):
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        if part is not msg and ctype == "message/rfc822":
            yield part
            continue
        disposition = (part.get_content_disposition() or "") if _safe_disposition(part) else ""
        if ctype in ("text/plain", "text/html", "text/enriched") and not _filename(part) \
                and disposition != "attachment":
            continue
        if part is msg and ctype == "message/rfc822":
            yield part  # a message that is nothing but another message
            continue
        yield part


def _safe_disposition(part: Message) -> bool:
    try:
        part.get_content_disposition()
        return True
    except Exception:
        return False


def _inner_message(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    try:  # base64-encoded attached message: the parser leaves it as text
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes) and raw:
            return BytesParser(policy=_POLICY).parsebytes(raw)
    except Exception:
        return None
    return None


def _decoded(part: Message) -> tuple[bytes, Issue | None]:
    """A leaf part's bytes; bad base64 is decoded as far as it goes and reported (MAIL_009)."""
    before = len(part.defects)
    try:
        raw = part.get_payload(decode=True)
    except Exception:
        raw = None
    data = raw if isinstance(raw, bytes) else b""
    new = part.defects[before:]
    if any("Base64" in type(d).__name__ for d in new):
        return data, issue(Code.MAIL_009, found="an attachment whose encoding was damaged (bad base64)",
                           expected="an attachment as mail programs encode it")
    return data, None


# Provenance: each field on its own, so one header the parser trips on loses only itself.


def _provenance(msg: Message) -> _Provenance:
    return _Provenance(_sender(msg), _sent(msg), _subject(msg))


def _raw_header(msg: Message, name: str) -> str | None:
    for key, value in msg.raw_items():
        if key.lower() == name:
            try:
                return str(email.header.make_header(email.header.decode_header(str(value))))
            except Exception:
                return str(value)
    return None


def _header(msg: Message, name: str) -> Any:
    try:
        return msg.get(name)
    except Exception:
        return _raw_header(msg, name.lower())


def _shown(text: str | None) -> str | None:
    if text is None:
        return None
    text = display_name(" ".join(text.split()))  # folding and tabs become single spaces, then the rest is escaped
    return (text[:297] + "...") if len(text) > 300 else (text or None)


def _sender(msg: Message) -> str | None:
    value = _header(msg, "From")
    if value is None:
        return None
    try:
        addresses = value.addresses
    except Exception:
        addresses = ()
    for a in addresses:
        if a.addr_spec or a.display_name:
            return _shown(f"{a.display_name} <{a.addr_spec}>" if a.display_name and a.addr_spec
                          else a.addr_spec or a.display_name)
    return _shown(str(value))


def _sent(msg: Message) -> str | None:
    value = _header(msg, "Date")
    if value is None:
        return None
    when = getattr(value, "datetime", None)
    if when is None:
        try:
            when = parsedate_to_datetime(str(value))
        except Exception:
            return None
    try:
        return when.isoformat()
    except Exception:  # pragma: no cover - a datetime always formats
        return None


def _subject(msg: Message) -> str | None:
    value = _header(msg, "Subject")
    return None if value is None else _shown(str(value))


# ---------------------------------------------------------------------------------------------------
# .mbox


def _open_mbox(data: bytes, where: _Where, walk: _Walk) -> Iterator[Item]:
    yield from _open_mbox_stream(io.BytesIO(data), where, walk)


def _mbox_messages(fh: BinaryIO) -> Iterator[bytes | int]:
    """Each message of an mbox: its bytes, or only its size when it is larger than MAX_MESSAGE_BYTES (then not
    kept). A message starts at every line beginning "From ", as the standard library's mailbox reads them;
    mailbox.mbox itself is not used because it opens the file for writing and needs a path."""
    kept: list[bytes] = []
    size, started, at_line_start, total = 0, False, True, 0
    while True:
        line = fh.readline(_READ_CHUNK)
        if not line:
            break
        total += len(line)
        if total > MAX_MAILBOX_BYTES:
            break
        if at_line_start and line.startswith(b"From "):
            if started:
                yield b"".join(kept) if size <= MAX_MESSAGE_BYTES else size
            kept, size, started = [], 0, True
        at_line_start = line.endswith(b"\n")
        if not started:
            continue
        size += len(line)
        if size <= MAX_MESSAGE_BYTES:
            kept.append(line)
        else:
            kept = []
    if started:
        yield b"".join(kept) if size <= MAX_MESSAGE_BYTES else size
    if total > MAX_MAILBOX_BYTES:
        yield -1


def _open_mbox_stream(fh: BinaryIO, where: _Where, walk: _Walk) -> Iterator[Item]:
    used: set[str] = set()
    n = 0
    for message in _mbox_messages(fh):
        n += 1
        if isinstance(message, int):
            if message < 0:
                yield _refused(walk, where, Code.MAIL_001,
                               f"a mailbox of more than {_mb(MAX_MAILBOX_BYTES)} (the messages after the first "
                               f"{_mb(MAX_MAILBOX_BYTES)} were not opened)", f"at most {_mb(MAX_MAILBOX_BYTES)}")
                return
            name = _unique(f"message {n}.eml", used)
            yield _refused(walk, replace(where, chain=(*where.chain, name)), Code.MAIL_001,
                           f"an email message of {_mb(message)}", f"at most {_mb(MAX_MESSAGE_BYTES)}")
            continue
        name = _unique(_message_name(_peek_subject(message), ".eml"), used)
        yield from _open_eml(message, replace(where, chain=(*where.chain, name)), walk)
    if n == 0:
        yield _refused(walk, where, Code.MAIL_007, "a mailbox with no messages in it", "at least one message",
                       what="a mailbox with no messages in it")


def _peek_subject(message: bytes) -> str | None:
    try:
        return _subject(HeaderParser(policy=_POLICY).parsestr(
            message[:64 * 1024].partition(b"\n\n")[0].decode("ascii", "surrogateescape")))
    except Exception:
        return None
