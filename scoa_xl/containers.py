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
"""

from __future__ import annotations

import email.header
import email.policy
import hashlib
import io
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO

from .errors import Code, Issue, ReturnUnreadable, issue
from .fileio import display_name
from .model import ContainerKind, Source
from .preflight import (
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_UNZIPPED_BYTES,
    OLE2_MAGIC,
    ZIP_MAGIC,
    ole2_names,
    zip_member_count,
    zip_workbook_kind,
)

SEPARATOR = " > "
MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # one message (.eml, .msg, one of a mailbox's): a 25 MB workbook, base64'd
MAX_MAILBOX_BYTES = 2 * 1024 * 1024 * 1024  # read a message at a time, so only time grows with it
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
MAX_MEMBER_BYTES = MAX_MESSAGE_BYTES  # one zip member, unpacked
MAX_ATTACHMENTS = 1000  # MIME parts (or .msg attachments) in one message, nested messages' included
MAX_UNPACKED_BYTES = MAX_UNZIPPED_BYTES  # all attachments and members of one outermost file, decoded
RATIO_FLOOR = 1024 * 1024  # below this a member may compress far (an empty sheet) without being a bomb
MAX_NESTING = 8  # containers within containers: Inbox.mbox > Fwd.eml > Fwd.eml > partners.zip is 4
MAX_ITEMS = 20_000  # items from one outermost file
NAME_CHARS = 200

_TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_POLICY = email.policy.default
_READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Item:
    """One attachment or member (or a message with nothing attached, or a container that was not opened)."""

    name: str  # the display chain: "Inbox.mbox > Fwd SCOA.eml > Leeds return.xlsx"
    source: Source
    data: bytes = field(default=b"", repr=False)  # kept for spreadsheets only
    size: int = 0  # bytes, decoded
    spreadsheet: str = ""  # "xlsx", "xlsm", "ods" or "xls" when the content is a workbook
    what: str = ""  # what it is, in words, when it is not a spreadsheet
    issue: Issue | None = None  # what went wrong with it, when something did

    @property
    def is_spreadsheet(self) -> bool:
        return bool(self.spreadsheet)

    @property
    def suffix(self) -> str:
        """The extension its content calls for ('.xlsx'), whatever it was named: for a temporary copy."""
        return f".{self.spreadsheet}" if self.spreadsheet else ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest() if self.spreadsheet else ""

    @property
    def reason(self) -> str:
        """Why it is not read as a return, for its row ('' for a spreadsheet)."""
        if self.spreadsheet:
            return ""
        if self.issue is not None:
            return self.issue.found
        return f"not a spreadsheet ({self.what})"


@dataclass(frozen=True, slots=True)
class _Found:
    container: ContainerKind | None = None
    spreadsheet: str = ""
    what: str = ""
    issue: Issue | None = None


@dataclass(frozen=True, slots=True)
class _Provenance:
    sender: str | None = None
    sent: str | None = None
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class _Where:
    chain: tuple[str, ...]
    provenance: _Provenance
    depth: int  # containers opened to reach here (the outermost is 1)


@dataclass(slots=True)
class _Walk:
    container: str
    kind: ContainerKind
    unpacked: int = 0


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
    walk = _Walk(name, ContainerKind(kind))
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
# What a piece of bytes is


_KIND_BY_EXT = {".eml": ContainerKind.EML, ".msg": ContainerKind.MSG, ".mbox": ContainerKind.MBOX,
                ".mbx": ContainerKind.MBOX, ".zip": ContainerKind.ZIP}
_WHAT_BY_EXT = {
    ".pdf": "a PDF document", ".txt": "a text file", ".doc": "a Word document", ".docx": "a Word document",
    ".csv": "a CSV file", ".png": "a picture", ".jpg": "a picture", ".jpeg": "a picture", ".gif": "a picture",
    ".pptx": "a PowerPoint file", ".html": "a web page", ".htm": "a web page", ".ics": "a calendar invitation",
    ".vcf": "a contact card", ".json": "a data file", ".xlsb": "an Excel binary workbook (.xlsb)",
    ".p7m": "an encrypted email (S/MIME), which cannot be opened here", ".p7s": "a digital signature",
}
_WHAT_BY_TYPE = {"application/pkcs7-mime": "an encrypted email (S/MIME), which cannot be opened here",
                 "application/pkcs7-signature": "a digital signature", "text/plain": "a text file",
                 "text/html": "a web page", "text/calendar": "a calendar invitation",
                 "text/csv": "a CSV file", "application/pdf": "a PDF document", "text/vcard": "a contact card"}
_SPREADSHEET_EXTS = (".xlsx", ".xlsm", ".ods", ".xls")
_HEADER = re.compile(rb"[!-9;-~]{1,76}[ \t]*:")
_MESSAGE_HEADERS = {b"from", b"date", b"subject", b"received", b"message-id", b"mime-version", b"return-path"}
_OTHER_HEADERS = {b"to", b"cc", b"reply-to", b"content-type", b"sender", b"delivered-to", b"x-mailer",
                  b"x-unsent", b"thread-topic", b"thread-index", b"content-transfer-encoding", b"references",
                  b"in-reply-to", b"user-agent", b"x-originating-ip", b"importance", b"x-priority"}


def _identify(data: bytes, name: str, content_type: str) -> _Found:
    """By content first. What the content does not settle, a spreadsheet's name does, as for a file in a folder:
    a PDF sent as "return.xlsx" is a return that pre-flight then refuses, saying it is a PDF."""
    lower = name.casefold()
    base = re.split(r"[/\\]", lower)[-1]
    found = _by_content(data, lower, base, content_type)
    named = base.endswith(_SPREADSHEET_EXTS) and not base.startswith(("~$", "._"))
    if named and not (found.container or found.spreadsheet or found.issue):
        return _Found(spreadsheet=os.path.splitext(base)[1][1:])
    return found


def _by_content(data: bytes, lower: str, base: str, content_type: str) -> _Found:
    if data.startswith(_TNEF_MAGIC) or base == "winmail.dat" or content_type == "application/ms-tnef":
        return _Found(what="an Outlook TNEF (winmail.dat) attachment",
                      issue=issue(Code.MAIL_005, found="an Outlook TNEF (winmail.dat) attachment",
                                  expected="the workbook attached as a file of its own"))
    if lower.startswith("__macosx/") or base.startswith("._") or base == ".ds_store":
        return _Found(what="file details a Mac adds to a zip archive")
    if base.startswith("~$"):
        return _Found(what="an Excel lock file (it holds no answers)")
    if not data:
        return _Found(what="an empty attachment")
    if data.startswith(ZIP_MAGIC):
        return _zip_what(data, lower)
    if data.startswith(OLE2_MAGIC):
        return _ole_what(data, lower)
    if data.startswith(b"%PDF"):
        return _Found(what="a PDF document")
    if data.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"II*\x00", b"MM\x00*")):
        return _Found(what="a picture")
    text_kind = _text_kind(data[:64 * 1024])
    if text_kind is not None:
        if text_kind is ContainerKind.MBOX and lower.endswith(".eml"):
            return _Found(container=ContainerKind.EML)  # some programs start a saved message with a From_ line
        return _Found(container=text_kind)
    ext = os.path.splitext(base)[1]
    if ext in _KIND_BY_EXT and ext != ".zip":
        return _Found(container=_KIND_BY_EXT[ext])  # a damaged one: opening it says so
    what = (_WHAT_BY_EXT.get(ext) or _WHAT_BY_TYPE.get(content_type)
            or ("a picture" if content_type.startswith("image/") else "")
            or (f"a {ext} file" if ext else "a file that is not a spreadsheet"))
    return _Found(what=what)


def _text_kind(head: bytes) -> ContainerKind | None:
    """An RFC 822 message (headers, then a blank line) or an mbox (messages each after a From_ line)."""
    head = head.removeprefix(b"\xef\xbb\xbf")
    kind = ContainerKind.EML
    if head.startswith(b"From "):
        kind = ContainerKind.MBOX
        head = head.partition(b"\n")[2]
    names: set[bytes] = set()
    lines = head.splitlines()
    complete = head.endswith((b"\n", b"\r"))
    for i, line in enumerate(lines):
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            if i == 0:
                return None
            continue
        m = _HEADER.match(line)
        if not m:
            if i == len(lines) - 1 and not complete:  # cut off by the look's own limit
                break
            return None
        names.add(line[:m.end()].rstrip(b" \t:").lower())
    if names & _MESSAGE_HEADERS and len(names & (_MESSAGE_HEADERS | _OTHER_HEADERS)) >= 2:
        return kind
    return None


def _zip_what(data: bytes, lower: str) -> _Found:
    if zip_member_count(data) > MAX_MEMBERS:
        return _Found(container=ContainerKind.ZIP)  # opening it refuses it, with the count
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        names = set(zf.namelist())
    except Exception:
        if lower.endswith(_SPREADSHEET_EXTS):
            return _Found(spreadsheet="xlsx")  # a damaged workbook: pre-flight says how
        return _Found(container=ContainerKind.ZIP)  # a damaged archive: opening it says so
    try:
        return _Found(spreadsheet=zip_workbook_kind(zf))
    except ReturnUnreadable as exc:
        if "[Content_Types].xml" in names or "mimetype" in names:  # another Office or OpenDocument file
            return _Found(what=exc.issue.found)
        return _Found(container=ContainerKind.ZIP)


def _ole_what(data: bytes, lower: str) -> _Found:
    try:
        names = ole2_names(data)
    except ReturnUnreadable:
        if lower.endswith(".msg"):
            return _Found(container=ContainerKind.MSG)  # opening it says it is damaged
        if lower.endswith(_SPREADSHEET_EXTS):
            return _Found(spreadsheet="xls")
        return _Found(what="a damaged old Office file")
    # Outlook's streams, not the OLE2 magic alone: .xls files and encrypted workbooks share it.
    if "__properties_version1.0" in names and any(n.startswith("__substg1.0_") for n in names):
        return _Found(container=ContainerKind.MSG)
    if "encryptedpackage" in names:
        if lower.endswith((".docx", ".doc", ".pptx", ".ppt")):
            return _Found(what="a password-protected Office document")
        return _Found(spreadsheet="xlsx")  # pre-flight reports the password
    if "workbook" in names or "book" in names:
        return _Found(spreadsheet="xls")
    if "worddocument" in names:
        return _Found(what="a Word document")
    if "powerpoint document" in names:
        return _Found(what="a PowerPoint file")
    return _Found(what="an old Office file that is not a workbook")


# ---------------------------------------------------------------------------------------------------
# Names: shown, never used as paths


def _clean_name(raw: object, fallback: str) -> str:
    text = display_name(str(raw or "")).strip()
    text = re.sub(r"\s+", " ", text).replace(SEPARATOR, " \\x3e ")  # a name cannot fake a level of nesting
    if not text:
        return fallback
    if len(text) > NAME_CHARS:
        stem, ext = os.path.splitext(text)
        ext = ext if len(ext) <= 10 else ""
        text = stem[:NAME_CHARS - len(ext) - 3] + "..." + ext
    return text


def _unique(name: str, used: set[str]) -> str:
    stem, ext = os.path.splitext(name)
    out, n = name, 1
    while out.casefold() in used:
        n += 1
        out = f"{stem} ({n}){ext}"
    used.add(out.casefold())
    return out


def _message_name(subject: str | None, ext: str) -> str:
    return _clean_name(subject, "message").removesuffix(ext) + ext


# ---------------------------------------------------------------------------------------------------
# Items


def _source(walk: _Walk, where: _Where) -> Source:
    p = where.provenance
    return Source(walk.container, walk.kind, p.sender, p.sent, p.subject,
                  where.chain[-1] if len(where.chain) > 1 else None)


def _refused(walk: _Walk, where: _Where, code: Code, found: str, expected: str, what: str = "") -> Item:
    return Item(SEPARATOR.join(where.chain), _source(walk, where), what=what or found,
                issue=issue(code, found=found, expected=expected))


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f} MB"


def _item(data: bytes, where: _Where, walk: _Walk, content_type: str = "",
          damaged: Issue | None = None) -> Iterator[Item]:
    """An attachment's or member's bytes: a container to open, a spreadsheet, or something else."""
    walk.unpacked += len(data)
    if walk.unpacked > MAX_UNPACKED_BYTES:
        yield _refused(walk, where, Code.MAIL_001,
                       f"attachments and files adding up to more than {_mb(MAX_UNPACKED_BYTES)} "
                       "(this one and any after it were not opened)", f"at most {_mb(MAX_UNPACKED_BYTES)} in all")
        return
    found = _identify(data, where.chain[-1], content_type)
    if found.container is not None:
        if where.depth >= MAX_NESTING:
            yield _refused(walk, where, Code.MAIL_003,
                           f"{found.container.what} inside {MAX_NESTING} emails or archives, one within another",
                           f"at most {MAX_NESTING} levels")
            return
        inner = replace(where, depth=where.depth + 1)
        yield from _OPENERS[found.container](data, inner, walk)
        return
    yield Item(SEPARATOR.join(where.chain), _source(walk, where),
               data=data if found.spreadsheet else b"", size=len(data), spreadsheet=found.spreadsheet,
               what=found.what or (f"a spreadsheet (.{found.spreadsheet})" if found.spreadsheet else ""),
               issue=found.issue or damaged)


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


# ---------------------------------------------------------------------------------------------------
# .msg (aspose-email-foss)


_MSG_ATTACHMENT = "__attach_version1.0_#"
_BY_REFERENCE = {2, 3, 4, 7}  # a path on the sender's disk, or a link to OneDrive or SharePoint


def _open_msg(data: bytes, where: _Where, walk: _Walk) -> Iterator[Item]:
    damaged = ("an Outlook message that could not be read", "an Outlook .msg file as Outlook saves it")
    if len(data) > MAX_MESSAGE_BYTES:
        yield _refused(walk, where, Code.MAIL_001, f"an Outlook message of more than {_mb(MAX_MESSAGE_BYTES)}",
                       f"at most {_mb(MAX_MESSAGE_BYTES)}")
        return
    try:
        names = ole2_names(data)
    except ReturnUnreadable:
        yield _refused(walk, where, Code.MAIL_006, *damaged)
        return
    count = sum(n.startswith(_MSG_ATTACHMENT) for n in names)
    if count > MAX_ATTACHMENTS:
        yield _refused(walk, where, Code.MAIL_002, f"an Outlook message with {count:,} attachments",
                       f"at most {MAX_ATTACHMENTS:,} attachments")
        return
    try:
        from aspose.email_foss.cfb import CFBReader  # type: ignore[import-untyped]
        from aspose.email_foss.msg import MapiMessage, MsgDocument, MsgReader  # type: ignore[import-untyped]

        message = MapiMessage.from_msg_document(MsgDocument.from_reader(MsgReader(CFBReader(data))))
    except Exception:  # the library's own errors, and RecursionError for storages nested in a loop
        yield _refused(walk, where, Code.MAIL_006, *damaged)
        return
    yield from _walk_msg(message, where, walk)


_PR_SUBJECT, _PR_TRANSPORT_HEADERS, _PR_CLIENT_SUBMIT_TIME, _PR_DELIVERY_TIME = 0x0037, 0x007D, 0x0039, 0x0E06
_PR_SENDER_NAMES = (0x0C1A, 0x0042)  # sender, sent representing
_PR_SENDER_ADDRESSES = (0x5D01, 0x0C1F, 0x5D02, 0x0065)  # SMTP addresses first: Exchange's own are X.500 paths
_PR_ATTACH_DISPLAY_NAME = 0x3001


def _prop(obj: Any, prop_id: int) -> Any:
    try:
        props = obj.properties
        for t in (0x001F, 0x001E, 0x0040, 0x0102, 0x0003):  # string, string8, time, binary, int32
            p = props.get(prop_id, t)
            if p is not None:
                return p.value
    except Exception:
        return None
    return None


def _msg_provenance(message: Any) -> _Provenance:
    from_headers = _Provenance()
    headers = _prop(message, _PR_TRANSPORT_HEADERS)
    if isinstance(headers, str) and headers.strip():
        try:
            from_headers = _provenance(HeaderParser(policy=_POLICY).parsestr(headers))
        except Exception:
            from_headers = _Provenance()
    sender = from_headers.sender
    if sender is None:
        names = (_prop(message, p) for p in _PR_SENDER_NAMES)
        addresses = (_prop(message, p) for p in _PR_SENDER_ADDRESSES)
        name = next((v for v in names if isinstance(v, str) and v), "")
        address = next((v for v in addresses if isinstance(v, str) and "@" in v), "")
        sender = _shown(f"{name} <{address}>" if name and address else address or name or None)
    sent = from_headers.sent
    if sent is None:
        when = _prop(message, _PR_CLIENT_SUBMIT_TIME) or _prop(message, _PR_DELIVERY_TIME)
        sent = when.isoformat() if hasattr(when, "isoformat") else None
    subject = from_headers.subject
    if subject is None:
        value = _prop(message, _PR_SUBJECT)
        subject = _shown(value) if isinstance(value, str) else None
    return _Provenance(sender, sent, subject)


def _walk_msg(message: Any, where: _Where, walk: _Walk) -> Iterator[Item]:
    here = replace(where, provenance=_msg_provenance(message))
    attachments = list(getattr(message, "attachments", []) or [])
    if not attachments:
        yield _refused(walk, here, Code.MAIL_007, "an email with nothing attached", "a workbook attached",
                       what="an email with nothing attached")
        return
    used: set[str] = set()
    for a in attachments:
        label = a.filename or _prop(a, _PR_ATTACH_DISPLAY_NAME) or ""
        embedded = getattr(a, "embedded_message", None)
        if embedded is not None:
            label = label if str(label).casefold().endswith((".msg", ".eml")) else ""
            name = _unique(_clean_name(label, "") or _message_name(_msg_provenance(embedded).subject, ".msg"), used)
            at = replace(here, chain=(*here.chain, name))
            if here.depth >= MAX_NESTING:
                yield _refused(walk, at, Code.MAIL_003,
                               f"an Outlook message inside {MAX_NESTING} emails or archives, one within another",
                               f"at most {MAX_NESTING} levels")
                continue
            yield from _walk_msg(embedded, replace(at, depth=here.depth + 1), walk)
            continue
        name = _unique(_clean_name(label, "attachment"), used)
        at = replace(here, chain=(*here.chain, name))
        method = getattr(a, "attach_method", 1)
        if method == 5:  # an attached message the library could not read as one
            yield _refused(walk, at, Code.MAIL_006, "an attached Outlook message that could not be read",
                           "an Outlook .msg file as Outlook saves it")
        elif getattr(a, "custom_storage", None) is not None or method == 6:
            yield Item(SEPARATOR.join(at.chain), _source(walk, at), what="an embedded object (OLE), not a file")
        elif method in _BY_REFERENCE:
            yield Item(SEPARATOR.join(at.chain), _source(walk, at),
                       what="a link to a file kept elsewhere, not the file itself")
        else:
            data = a.data if isinstance(a.data, bytes) else b""
            yield from _item(data, at, walk, (a.mime_type or "").lower())


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


_OPENERS = {ContainerKind.EML: _open_eml, ContainerKind.MSG: _open_msg, ContainerKind.MBOX: _open_mbox,
            ContainerKind.ZIP: _open_zip}
