"""Messages dragged out of desktop Outlook (.msg) → their attachments and embedded messages, with who sent
them, when and under what subject: aspose-email-foss (MIT) reads the compound file.

A format reader over unpacking.py: each attached file goes to `_item`; an embedded Outlook message is walked here
in turn. Provenance comes from the transport headers when the message kept them (read as mime.py reads an
email's), else from Outlook's own properties.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from email.parser import HeaderParser
from typing import Any

from .errors import Code, ReturnUnreadable
from .mime import _POLICY, _provenance, _shown
from .preflight import ole2_names
from .unpacking import (
    MAX_ATTACHMENTS,
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
        from aspose.email_foss.cfb import CFBReader
        from aspose.email_foss.msg import MapiMessage, MsgDocument, MsgReader

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
