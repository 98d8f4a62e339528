"""The shared core of opening emails and archives: the limits, what an `Item` is, what a piece of bytes is
(by content), how names are shown, and `_item`, which turns one attachment's or member's bytes into items.

Below the format readers (mime, outlook, archives), which call it for every attachment and member they find. A
nested email or archive is opened through the dispatcher the walk state carries (`_Walk.dispatch`, set by
containers.py), so no reader imports another to follow one, and nothing here imports a reader.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from .errors import Code, Issue, ReturnUnreadable, issue
from .fileio import display_name
from .model import ContainerKind, Source
from .preflight import (
    MAX_MEMBERS,
    MAX_UNZIPPED_BYTES,
    OLE2_MAGIC,
    SPREADSHEET_EXTS,
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
    dispatch: Callable[[ContainerKind, bytes, _Where, _Walk], Iterator[Item]]  # opens a nested container
    unpacked: int = 0


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
    named = base.endswith(SPREADSHEET_EXTS) and not base.startswith(("~$", "._"))
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
        if lower.endswith(SPREADSHEET_EXTS):
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
        if lower.endswith(SPREADSHEET_EXTS):
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
        yield from walk.dispatch(found.container, data, inner, walk)
        return
    yield Item(SEPARATOR.join(where.chain), _source(walk, where),
               data=data if found.spreadsheet else b"", size=len(data), spreadsheet=found.spreadsheet,
               what=found.what or (f"a spreadsheet (.{found.spreadsheet})" if found.spreadsheet else ""),
               issue=found.issue or damaged)


