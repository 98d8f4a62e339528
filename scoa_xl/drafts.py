"""Draft emails (.eml) for a person to review and send: feedback with the plan attached, reminders to councils
that have not returned, and the issue of each council's workbook. Nothing here sends anything.

Each draft carries `X-Unsent: 1`, so desktop Outlook opens it as an unsent draft. Its wording comes from the
templates in templates/: the first line of each rendered email is its `Subject:` (as in feedback.txt.j2), so a
programme team rewords subjects and bodies in one place. A draft is byte-repeatable: no Date, no Message-ID,
and a MIME boundary made from its content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses
from pathlib import Path

from .model import Spec, Status
from .register import Council, council_key
from .render import render
from .results import FileRecord

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Folded at 998 (the limit of a line in a message), not 78: the standard library folds a long subject right after
# "Subject:", which mail programs then show with a leading space.
_POLICY = default.clone(max_line_length=998)
_SUBJECT_CHARS = 900
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")
_SUBJECT_LINE = re.compile(r"\ASubject:[ \t]*(.*)\n?")


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes = field(repr=False)
    content_type: str = XLSX_TYPE

    @classmethod
    def from_path(cls, path: Path, content_type: str = XLSX_TYPE) -> Attachment:
        """A file as an attachment under its own name."""
        path = Path(path)
        return cls(path.name, path.read_bytes(), content_type)


@dataclass(frozen=True, slots=True)
class Draft:
    """One draft email: who it is for (may be empty), its subject, its text, what is attached."""

    to: tuple[str, ...]
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    sender: str = ""

    def to_message(self) -> EmailMessage:
        msg = EmailMessage(policy=_POLICY)
        if self.sender:
            msg["From"] = self.sender
        if self.to:
            msg["To"] = ", ".join(self.to)
        msg["Subject"] = self.subject
        msg["X-Unsent"] = "1"
        msg.set_content(self.body)
        for a in self.attachments:
            maintype, _, subtype = a.content_type.partition("/")
            msg.add_attachment(a.data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=_attachment_name(a.filename))
        if msg.is_multipart():
            # A boundary from the content, not a random one, so the same draft is the same bytes.
            digest = hashlib.sha256(self.body.encode("utf-8"))
            for a in self.attachments:
                digest.update(hashlib.sha256(a.data).digest())
            msg.set_boundary(f"=_scoa_{digest.hexdigest()[:32]}")
        return msg

    def to_bytes(self) -> bytes:
        """The draft as an .eml file."""
        return self.to_message().as_bytes()


def addresses(value: str | Iterable[str]) -> tuple[str, ...]:
    """Well-formed email addresses from what a register or a message gave ("Name <a@b>", "a@b, c@d"); anything
    else (a blank, a typo without @, control characters) is left out, so a draft is never malformed."""
    return tuple(dict.fromkeys(str(a) for a in _addresses(value)))


def mailboxes(value: str | Iterable[str]) -> frozenset[str]:
    """The bare addresses ("a@b", in lower case) of those addresses() keeps: to tell whether a message's sender is
    a contact on the register, whatever names either gives."""
    return frozenset(a.addr_spec.lower() for a in _addresses(value))


def unreadable_by_council(results: Iterable[FileRecord], councils: Iterable[Council]) -> dict[str, list[FileRecord]]:
    """Files that could not be read, sent by a contact on the register, by the key (register.council_key) of the
    contact's council: that council did reply, and what it sent must be asked for again. A sender is matched on
    its bare address, whatever names or case the message and the register give."""
    known = {a: c for c in councils for a in mailboxes(c.email)}
    found: dict[str, list[FileRecord]] = {}
    for r in results:
        if r.status != Status.UNREADABLE or r.source is None or not r.source.sender:
            continue
        council = next((known[a] for a in sorted(mailboxes(r.source.sender)) if a in known), None)
        if council is not None:
            found.setdefault(council_key(council.code, council.name), []).append(r)
    return found


def greeting_name(sender: str) -> str:
    """Whom a letter to a message's sender greets: the name the message gives ("Pat Ryan" of "Pat Ryan <p@b>"),
    else the bare address, else what it says."""
    found = _addresses(sender)
    if not found:
        return sender.strip()
    return found[0].display_name or found[0].addr_spec


def _addresses(value: str | Iterable[str]) -> list[Address]:
    raw = [value] if isinstance(value, str) else list(value)
    out: list[Address] = []
    # A line break separates addresses (two typed in one register cell); it never starts another header.
    for name, addr in getaddresses([_CONTROL.sub(" ", re.sub(r"[\r\n]+", ",", v)) for v in raw if v]):
        if not _ADDRESS.fullmatch(addr.strip()):
            continue
        try:
            out.append(Address(display_name=name.strip(), addr_spec=addr.strip()))
        except (ValueError, IndexError, TypeError, HeaderParseError):  # Address refuses what is not an address
            continue
    return out


def split_subject(text: str) -> tuple[str, str]:
    """A rendered email's first `Subject:` line and the body after it (blank lines between dropped); ('', text)
    when it has none."""
    m = _SUBJECT_LINE.match(text)
    if not m:
        return "", text
    return m.group(1).strip(), text[m.end():].lstrip("\n")


def feedback_draft(letter: str, spec: Spec, *, to: str | Iterable[str] = "", council: str = "",
                   plan: Attachment | None = None, sender: str = "") -> Draft:
    """The feedback letter as a draft: its Subject line is the subject (else feedback_email.txt.j2's), the rest
    is the body, and the plan workbook is attached when one was written."""
    subject, body = split_subject(letter)
    if not subject:
        subject = split_subject(render("feedback_email.txt.j2", council=_one_line(council), spec=spec))[0]
    return _draft(to, subject, body, (plan,) if plan else (), sender)


def reminder_draft(spec: Spec, council: str, *, to: str | Iterable[str] = "", sender: str = "",
                   deadline: str = "") -> Draft:
    """A reminder to a council that has not returned (reminder_email.txt.j2)."""
    subject, body = split_subject(render("reminder_email.txt.j2", council=_one_line(council), spec=spec,
                                         deadline=_one_line(deadline)))
    return _draft(to, subject, body, (), sender)


def issue_draft(spec: Spec, council: str, workbook: Attachment, *, to: str | Iterable[str] = "",
                sender: str = "", deadline: str = "") -> Draft:
    """The email that issues a council its personalised workbook, attached (issue_email.txt.j2)."""
    subject, body = split_subject(render("issue_email.txt.j2", council=_one_line(council), spec=spec,
                                         workbook=_attachment_name(workbook.filename), deadline=_one_line(deadline)))
    return _draft(to, subject, body, (workbook,), sender)


def _draft(to: str | Iterable[str], subject: str, body: str, attachments: tuple[Attachment, ...],
           sender: str) -> Draft:
    from_ = addresses(sender)
    return Draft(addresses(to), _one_line(subject)[:_SUBJECT_CHARS], body, attachments, from_[0] if from_ else "")


def _one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", str(text)).split())


def _attachment_name(name: str) -> str:
    """A file name for an attachment: the last part of a path, no control characters; never empty."""
    text = _CONTROL.sub("", str(name)).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return text or "attachment.xlsx"
