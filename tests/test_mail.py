"""Returns inside emails and archives: every attachment and member of an .eml, .msg, .mbox or .zip is an item,
found by content, named by its chain, with where it came from; hostile mail gives items, never a traceback.

Fixtures are made by real writers: .eml and .mbox by the standard library (email, mailbox), .msg by
aspose-email-foss, zips by zipfile (and an encrypted one by the PKWARE cipher, checked by zipfile itself).
"""

from __future__ import annotations

import datetime as dt
import email.policy
import io
import mailbox
import random
import struct
import sys
import tracemalloc
import zipfile
import zlib
from email.message import EmailMessage
from pathlib import Path

import pytest
import xlwt
from aspose.email_foss.msg import MapiMessage, PropertyTypeCode
from helpers import fill_workbook
from msoffcrypto.format.ooxml import OOXMLFile

from scoa_xl import archives, containers, mime, outlook, unpacking
from scoa_xl.check import check_return
from scoa_xl.containers import (
    MAX_ATTACHMENTS,
    MAX_NESTING,
    ContainerKind,
    Item,
    container_kind,
    iter_container,
    open_container,
    sniff_container,
    write_temporary,
)
from scoa_xl.errors import CATALOGUE, Code
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 1, 12)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEEDS = ("Jo Bloggs <jo.bloggs@leeds.gov.uk>", "Tue, 03 Feb 2026 14:05:00 +0100", "SCOA return - Leeds")


@pytest.fixture(scope="module")
def returns(tmp_path_factory) -> dict[str, bytes]:
    """Two filled returns, as a council would send them."""
    tmp = tmp_path_factory.mktemp("returns")
    out = {}
    for council, person in (("Leeds", "Jo Bloggs"), ("York", "Sam Patel")):
        issued = generate(SPEC, tmp / f"{council}-issued.xlsx", Identity(council=council), generated_at=DAY)
        answers = {"identity_respondent": person, "identity_date": "2026-02-02",
                   f"rating_{SPEC.factors[0].id}": SPEC.rating[3].label}
        out[council] = fill_workbook(issued, tmp / f"{council}.xlsx", answers).read_bytes()
    return out


def message(sender: str | None = LEEDS[0], date: str | None = LEEDS[1], subject: str | None = LEEDS[2],
            attachments: list = (), body: str = "Please find our return attached.\n") -> EmailMessage:
    msg = EmailMessage()
    for key, value in (("From", sender), ("Date", date), ("Subject", subject)):
        if value is not None:
            msg[key] = value
    msg["To"] = "scoa@programme.org.uk"
    msg.set_content(body)
    for a in attachments:
        if isinstance(a, EmailMessage):
            msg.add_attachment(a)
        else:
            name, data, ctype = a
            maintype, subtype = ctype.split("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def rows(items: list[Item]) -> list[tuple[str, str]]:
    """(name, what became of it): the kind of spreadsheet, or the issue code, or what it is."""
    return [(i.name, i.spreadsheet or (i.issue.code.value if i.issue else i.what)) for i in items]


def opened(data: bytes, name: str) -> list[Item]:
    kind = container_kind(data, name)
    assert kind is not None, name
    return open_container(data, name, kind)


# ---------------------------------------------------------------------------------------------------
# Each kind, with returns inside


def test_an_eml_with_a_return_and_other_attachments(returns):
    msg = message(attachments=[("Leeds return.xlsx", returns["Leeds"], XLSX),
                               ("cover.pdf", b"%PDF-1.4\n", "application/pdf"),
                               ("logo.png", b"\x89PNG\r\n\x1a\n", "image/png")])
    items = opened(msg.as_bytes(), "Leeds.eml")
    assert rows(items) == [("Leeds.eml > Leeds return.xlsx", "xlsx"), ("Leeds.eml > cover.pdf", "a PDF document"),
                           ("Leeds.eml > logo.png", "a picture")]
    ret = items[0]
    assert ret.data == returns["Leeds"] and ret.size == len(returns["Leeds"]) and ret.suffix == ".xlsx"
    assert [i.data for i in items[1:]] == [b"", b""]  # only a spreadsheet's bytes are kept
    assert items[1].reason == "not a spreadsheet (a PDF document)"
    assert ret.source.to_json() == {"container": "Leeds.eml", "kind": "eml",
                                    "from": "Jo Bloggs <jo.bloggs@leeds.gov.uk>", "sent": "2026-02-03T14:05:00+01:00",
                                    "subject": "SCOA return - Leeds", "attachment": "Leeds return.xlsx"}


def test_a_return_sent_as_octet_stream_named_return_is_still_a_return(returns):
    msg = message(attachments=[("return", returns["Leeds"], "application/octet-stream")])
    items = opened(msg.as_bytes(), "Leeds.eml")
    assert rows(items) == [("Leeds.eml > return", "xlsx")]
    assert items[0].data == returns["Leeds"]


def test_an_eml_saved_with_windows_line_endings(returns):
    msg = message(attachments=[("Leeds.xlsx", returns["Leeds"], XLSX)])
    data = msg.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))
    items = opened(data, "Leeds.eml")
    assert rows(items) == [("Leeds.eml > Leeds.xlsx", "xlsx")] and items[0].data == returns["Leeds"]


def test_a_msg_written_by_outlooks_format_is_read_back_byte_identical(returns, tmp_path):
    inner = message("Sam Patel <sam@york.gov.uk>", "Mon, 02 Feb 2026 09:30:00 +0000", "York partners",
                    attachments=[("York.xlsx", returns["York"], XLSX)])
    msg = message(attachments=[("Leeds return.xlsx", returns["Leeds"], XLSX), inner])
    path = tmp_path / "Leeds.msg"
    MapiMessage.from_email_message(msg).save(path)
    assert sniff_container(path) is ContainerKind.MSG
    items = open_container(path, "Leeds.msg", ContainerKind.MSG)
    assert rows(items) == [("Leeds.msg > Leeds return.xlsx", "xlsx"),
                           ("Leeds.msg > York partners.msg > York.xlsx", "xlsx")]
    assert [i.data for i in items] == [returns["Leeds"], returns["York"]]
    # A .msg keeps the time it was sent in UTC, as Outlook does when it has no copy of the headers.
    assert items[0].source.to_json() == {"container": "Leeds.msg", "kind": "msg", "from": LEEDS[0],
                                         "sent": "2026-02-03T13:05:00+00:00", "subject": LEEDS[2],
                                         "attachment": "Leeds return.xlsx"}
    assert (items[1].source.sender, items[1].source.subject) == ("Sam Patel <sam@york.gov.uk>", "York partners")


def test_a_msg_with_outlooks_copy_of_the_headers_keeps_the_senders_timezone(returns):
    mapi = MapiMessage.from_email_message(message(attachments=[("r.xlsx", returns["Leeds"], XLSX)]))
    mapi.set_property(0x007D, PropertyTypeCode.PTYP_STRING,
                      f"From: {LEEDS[0]}\r\nDate: {LEEDS[1]}\r\nSubject: {LEEDS[2]}\r\n\r\n")
    item, = opened(mapi.to_bytes(), "Leeds.msg")
    assert (item.source.sender, item.source.sent) == (LEEDS[0], "2026-02-03T14:05:00+01:00")


def test_msg_is_told_apart_from_xls_and_encrypted_workbooks_by_its_streams(returns, tmp_path):
    book = xlwt.Workbook()
    book.add_sheet("Cover").write(0, 0, "Leeds")
    buf = io.BytesIO()
    book.save(buf)
    xls = buf.getvalue()
    locked = io.BytesIO()
    OOXMLFile(io.BytesIO(returns["Leeds"])).encrypt("secret", locked)
    msg = MapiMessage.from_email_message(message()).to_bytes()
    assert {xls[:8], locked.getvalue()[:8], msg[:8]} == {b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"}
    assert [container_kind(d) for d in (xls, locked.getvalue(), msg)] == [None, None, ContainerKind.MSG]
    for name, data in (("old.xls", xls), ("locked.xlsx", locked.getvalue())):
        (tmp_path / name).write_bytes(data)
        assert sniff_container(tmp_path / name) is None
    # As attachments, both are spreadsheets: pre-flight then reads the .xls and reports the password (FILE_002).
    items = opened(message(attachments=[("old.xls", xls, "application/vnd.ms-excel"),
                                        ("locked.xlsx", locked.getvalue(), XLSX)]).as_bytes(), "m.eml")
    assert rows(items) == [("m.eml > old.xls", "xls"), ("m.eml > locked.xlsx", "xlsx")]


def test_an_mbox_with_a_forwarded_return(returns, tmp_path):
    original = message(attachments=[("Leeds return.xlsx", returns["Leeds"], XLSX)])
    forward = message("Ann Lee <ann@programme.org.uk>", "Wed, 04 Feb 2026 08:00:00 -0500", "Fwd SCOA",
                      attachments=[original], body="See the attached.\nFrom the team.\n")
    york = message("Sam Patel <sam@york.gov.uk>", "Thu, 05 Feb 2026 10:00:00 +0000", "SCOA return",
                   attachments=[("York.xlsx", returns["York"], XLSX)])
    again = message("Sam Patel <sam@york.gov.uk>", "Fri, 06 Feb 2026 10:00:00 +0000", "SCOA return",
                    attachments=[("York.xlsx", returns["York"], XLSX)])
    chat = message(subject="Thanks", body="From now on we will send it earlier.\n")
    path = tmp_path / "Inbox.mbox"
    box = mailbox.mbox(path)
    for m in (forward, york, again, chat):
        box.add(m)
    box.flush()
    box.close()
    assert sniff_container(path) is ContainerKind.MBOX
    items = open_container(path, "Inbox.mbox", ContainerKind.MBOX)
    assert rows(items) == [
        ("Inbox.mbox > Fwd SCOA.eml > SCOA return - Leeds.eml > Leeds return.xlsx", "xlsx"),
        ("Inbox.mbox > SCOA return.eml > York.xlsx", "xlsx"),
        ("Inbox.mbox > SCOA return (2).eml > York.xlsx", "xlsx"),  # two messages with one subject
        ("Inbox.mbox > Thanks.eml", "MAIL_007"),
    ]
    # The nearest message is the one the return came in: the council's, not the forward's.
    assert items[0].source.to_json() == {"container": "Inbox.mbox", "kind": "mbox", "from": LEEDS[0],
                                         "sent": "2026-02-03T14:05:00+01:00", "subject": LEEDS[2],
                                         "attachment": "Leeds return.xlsx"}
    assert [i.source.sent for i in items[1:3]] == ["2026-02-05T10:00:00+00:00", "2026-02-06T10:00:00+00:00"]
    assert [i.data for i in items[:3]] == [returns["Leeds"], returns["York"], returns["York"]]
    assert items[3].source.attachment == "Thanks.eml" and items[3].issue.code is Code.MAIL_007
    assert open_container(path.read_bytes(), "Inbox.mbox", ContainerKind.MBOX) == items  # bytes or path: the same


def test_a_zip_of_partners_returns(returns, tmp_path):
    data = zipped({"Partners/Leeds.xlsx": returns["Leeds"], "Partners/York.xlsx": returns["York"],
                   "Partners/readme.txt": b"Two returns.\n", "Partners/": b""})
    (tmp_path / "returns.zip").write_bytes(data)
    assert sniff_container(tmp_path / "returns.zip") is ContainerKind.ZIP
    items = open_container(tmp_path / "returns.zip", "returns.zip", ContainerKind.ZIP)
    assert rows(items) == [("returns.zip > Partners/Leeds.xlsx", "xlsx"), ("returns.zip > Partners/York.xlsx", "xlsx"),
                           ("returns.zip > Partners/readme.txt", "a text file")]
    assert items[0].source.to_json() == {"container": "returns.zip", "kind": "zip", "from": None, "sent": None,
                                         "subject": None, "attachment": "Partners/Leeds.xlsx"}


def test_a_zip_inside_an_eml_and_an_eml_inside_a_zip(returns):
    inner = zipped({"York.xlsx": returns["York"]})
    msg = message(attachments=[("partners.zip", inner, "application/zip")])
    assert rows(opened(msg.as_bytes(), "Leeds.eml")) == [("Leeds.eml > partners.zip > York.xlsx", "xlsx")]
    item, = opened(msg.as_bytes(), "Leeds.eml")
    assert (item.source.kind, item.source.sender, item.source.attachment) == (ContainerKind.EML, LEEDS[0], "York.xlsx")
    outer = zipped({"saved/Leeds.eml": msg.as_bytes()})
    item, = opened(outer, "mail.zip")
    assert item.name == "mail.zip > saved/Leeds.eml > partners.zip > York.xlsx"
    assert (item.source.kind, item.source.container, item.source.sender) == (ContainerKind.ZIP, "mail.zip", LEEDS[0])
    assert item.data == returns["York"]


def test_a_workbook_or_document_is_not_a_container(returns, tmp_path):
    docx = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
    odt = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
    assert [container_kind(d) for d in (returns["Leeds"], docx, odt, b"hello\n", b"")] == [None] * 5
    (tmp_path / "renamed.zip").write_bytes(returns["Leeds"])  # a workbook with an archive's name
    assert sniff_container(tmp_path / "renamed.zip") is None
    items = opened(message(attachments=[("letter.docx", docx, "application/octet-stream"),
                                        ("notes.odt", odt, "application/octet-stream")]).as_bytes(), "m.eml")
    assert rows(items) == [("m.eml > letter.docx", "a Word document"),
                           ("m.eml > notes.odt", "an OpenDocument text file, not a spreadsheet")]


def test_a_message_with_nothing_attached(tmp_path):
    path = tmp_path / "chaser.eml"
    path.write_bytes(message(subject="Chasing", body="Any news?\n").as_bytes())
    assert sniff_container(path) is ContainerKind.EML
    item, = open_container(path, "chaser.eml", ContainerKind.EML)
    assert (item.name, item.issue.code) == ("chaser.eml", Code.MAIL_007)
    assert item.issue.severity is CATALOGUE[Code.MAIL_007].severity
    assert item.source.attachment is None and item.source.subject == "Chasing"
    assert item.reason == "an email with nothing attached"


def test_provenance_fields_each_as_found():
    cases = [
        (("jo@leeds.gov.uk", "Tue, 3 Feb 2026 14:05:00 -0000", "Plain"),  # -0000: the zone is not known
         ("jo@leeds.gov.uk", "2026-02-03T14:05:00", "Plain")),
        ((None, None, None), (None, None, None)),
        (("Jo <jo@leeds.gov.uk>", "yesterday afternoon", "=?utf-8?q?Caf=C3=A9_return?="),
         ("Jo <jo@leeds.gov.uk>", None, "Café return")),
        (('"Bloggs, Jo" <jo@leeds.gov.uk>', "Tue, 03 Feb 2026 23:30:00 +0530", "Tab\there"),
         ("Bloggs, Jo <jo@leeds.gov.uk>", "2026-02-03T23:30:00+05:30", "Tab here")),
    ]
    for given, expected in cases:
        item, = opened(message(*given, attachments=[("a.pdf", b"%PDF-1.4", "application/pdf")]).as_bytes(), "m.eml")
        assert (item.source.sender, item.source.sent, item.source.subject) == expected, given


# ---------------------------------------------------------------------------------------------------
# Broken mail: an item each, never a traceback


BROKEN_BASE64 = b"""From: jo@leeds.gov.uk
Subject: broken
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

hello
--b1
Content-Type: application/octet-stream; name="return.xlsx"
Content-Disposition: attachment; filename="return.xlsx"
Content-Transfer-Encoding: base64

UEsDBBQ!!!AAgACAAAACEA*not base64 at all
--b1--
"""


def test_bad_base64_is_decoded_as_far_as_it_goes_and_said():
    item, = opened(BROKEN_BASE64, "broken.eml")
    assert item.name == "broken.eml > return.xlsx"
    assert item.issue is not None and item.issue.code is Code.MAIL_009


def test_malformed_mime_unknown_charsets_and_a_missing_boundary():
    no_boundary = (b"From: jo@leeds.gov.uk\nSubject: =?x-unknown-charset?q?caf=E9?=\nMIME-Version: 1.0\n"
                   b"Content-Type: multipart/mixed\n\n--b1\nContent-Type: text/plain\n\nhello\n")
    items = opened(no_boundary, "m.eml")
    assert [i.issue.code for i in items] == [Code.MAIL_007] and items[0].source.subject is not None
    charset = (b'From: =?klingon?b?SGVsbG8=?= <jo@leeds.gov.uk>\nSubject: \xff\xfe raw bytes\nDate: not a date\n'
               b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset="klingon"\n\n'
               b'\xe9t\xe9\n--b\nContent-Type: text/csv; charset="klingon"; name="notes.csv"\n\n\xe9,\xe9\n--b--\n')
    item, = opened(charset, "m.eml")
    assert (item.name, item.what, item.source.sent) == ("m.eml > notes.csv", "a CSV file", None)
    assert item.source.sender.endswith("<jo@leeds.gov.uk>")
    headers_only = b"From: jo@leeds.gov.uk\nSubject: cut off\nContent-Type: multipart/mixed; boundary=\"q\"\n"
    assert [i.issue.code for i in opened(headers_only, "m.eml")] == [Code.MAIL_007]


def test_tnef_winmail_dat_is_named_as_such():
    tnef = b"\x78\x9f\x3e\x22" + bytes(60)
    items = opened(message(attachments=[("winmail.dat", tnef, "application/ms-tnef"),
                                        ("other.bin", tnef, "application/octet-stream")]).as_bytes(), "m.eml")
    assert rows(items) == [("m.eml > winmail.dat", "MAIL_005"), ("m.eml > other.bin", "MAIL_005")]
    assert items[0].what == "an Outlook TNEF (winmail.dat) attachment"
    assert "normal attachment" in items[0].issue.fix


def test_damaged_containers(returns, tmp_path):
    msg = MapiMessage.from_email_message(message(attachments=[("r.xlsx", returns["Leeds"], XLSX)])).to_bytes()
    cases = {"cut.msg": msg[:3000], "cut.zip": zipped({"r.xlsx": returns["Leeds"]})[:-30],
             "garbage.eml": b"\x00\x01 this is not a message \xff" * 10}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        kind = sniff_container(tmp_path / name)
        assert kind is not None, name  # the name breaks the tie for a damaged one, and opening it says why
        item, = open_container(tmp_path / name, name, kind)
        assert (item.name, item.issue.code) == (name, Code.MAIL_006), name


def test_random_damage_never_raises(returns):
    """Bytes flipped, cut and repeated anywhere in each kind: every outcome is a list of items."""
    inner = message(attachments=[("r.xlsx", returns["Leeds"][:2000], XLSX)])
    samples = {
        ContainerKind.EML: message(attachments=[("a.xlsx", returns["Leeds"][:3000], XLSX), inner]).as_bytes(),
        ContainerKind.MSG: MapiMessage.from_email_message(message(attachments=[("a.bin", b"x" * 3000,
                                                                                "application/zip")])).to_bytes(),
        ContainerKind.ZIP: zipped({"a.eml": inner.as_bytes(), "b.txt": b"hello" * 100}),
    }
    rng = random.Random(15)
    for kind, data in samples.items():
        for _ in range(60):
            b = bytearray(data)
            for _ in range(rng.randint(1, 20)):
                at = rng.randrange(len(b))
                b[at:at + rng.randint(1, 8)] = rng.randbytes(rng.randint(0, 8))
            items = open_container(bytes(b), f"x.{kind}", kind)
            assert items and all(isinstance(i, Item) for i in items)


# ---------------------------------------------------------------------------------------------------
# Hostile mail


def test_ten_thousand_attachments_are_refused_before_parsing():
    parts = b"".join(b'--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; '
                     b'filename="f%d.xlsx"\n\nPK\n' % i for i in range(10_000))
    data = b"From: a@b.c\nSubject: many\nContent-Type: multipart/mixed; boundary=b\n\n" + parts + b"--b--\n"
    tracemalloc.start()
    item, = opened(data, "many.eml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert (item.name, item.issue.code) == ("many.eml", Code.MAIL_002)
    assert f"{MAX_ATTACHMENTS:,}" in item.issue.expected
    assert peak < 20 * len(data)  # counted on the raw bytes, never parsed into 10,000 parts


def test_nesting_fifty_deep_stops_at_the_limit(returns):
    msg = message(subject="level 50", attachments=[("deep.xlsx", returns["Leeds"], XLSX)])
    for level in range(49, 0, -1):
        msg = message(subject=f"level {level}", attachments=[msg])
    item, = opened(msg.as_bytes(), "deep.eml")
    assert item.issue.code is Code.MAIL_003
    assert item.name.count(" > ") == MAX_NESTING and item.name.endswith("level 9.eml")
    # Archives within archives, 50 deep, the same way.
    data = b"PK"
    for level in range(50, 0, -1):
        data = zipped({f"level{level}.zip" if level < 50 else "r.xlsx": data})
    item, = opened(data, "deep.zip")
    assert item.issue.code is Code.MAIL_003 and item.name.count(" > ") == MAX_NESTING
    # And Outlook messages attached to Outlook messages.
    msg = message(subject="level 12", attachments=[("deep.xlsx", returns["Leeds"], XLSX)])
    for level in range(11, 0, -1):
        msg = message(subject=f"level {level}", attachments=[msg])
    item, = opened(MapiMessage.from_email_message(msg).to_bytes(), "deep.msg")
    assert item.issue.code is Code.MAIL_003 and item.name.endswith(" > level 9.msg")


def test_messages_nested_hundreds_deep():
    def nested(levels: int) -> bytes:
        return b"From: a@b.c\nSubject: x\n" + b"Content-Type: message/rfc822\n\n" * levels + b"Subject: y\n\nbody\n"

    assert [i.issue.code for i in opened(nested(3000), "deep.eml")] == [Code.MAIL_002]  # counted before parsing
    assert [i.issue.code for i in opened(nested(900), "deep.eml")] == [Code.MAIL_003]  # parsed, opened 8 deep
    # Where the parser runs out of stack (a deep caller, a smaller limit), the message is damaged, not a crash.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        codes = [i.issue.code for i in opened(nested(900), "deep.eml")]
    finally:
        sys.setrecursionlimit(limit)
    assert codes == [Code.MAIL_006]


def test_a_zip_bomb_member_is_not_unpacked(returns):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Leeds.xlsx", returns["Leeds"])
        z.writestr("photo.jpg", b"\xff\xd8\xff" + random.Random(1).randbytes(600_000), zipfile.ZIP_STORED)
        with z.open("bomb.xlsx", "w") as fh:  # 40 MB of zeros packs to about 40 KB
            for _ in range(40):
                fh.write(bytes(1 << 20))
    data = buf.getvalue()
    tracemalloc.start()
    items = opened(data, "returns.zip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # The archive as a whole passes (a photo is large beside the bomb); the bomb alone is refused.
    assert rows(items) == [("returns.zip > Leeds.xlsx", "xlsx"), ("returns.zip > photo.jpg", "a picture"),
                           ("returns.zip > bomb.xlsx", "MAIL_008")]
    assert peak < 10 * (1 << 20)
    lone = zipped({"bomb.xlsx": bytes(40 << 20)})
    assert rows(opened(lone, "bomb.zip")) == [("bomb.zip", "MAIL_008")]  # the archive's own ratio


def test_a_member_that_unpacks_past_its_declared_size():
    data = bytearray(zipped({"r.xlsx": b"A" * 2_000_000}))
    # Declare 1,000 bytes in both headers: zipfile stops there, and the check of its contents then fails.
    for magic, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = data.find(magic)
        struct.pack_into("<I", data, pos + at, 1000)
    tracemalloc.start()
    item, = opened(bytes(data), "lie.zip")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert item.issue.code is Code.MAIL_006 and peak < 1_000_000


def zipcrypto(name: str, plain: bytes, password: bytes) -> bytes:
    """A zip with one member encrypted by the traditional PKWARE cipher, as `zip -e` writes it."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = table[(keys[0] ^ byte) & 0xFF] ^ (keys[0] >> 8)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = table[(keys[2] ^ (keys[1] >> 24)) & 0xFF] ^ (keys[2] >> 8)

    def encrypt(data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            t = keys[2] | 2
            out.append(byte ^ (((t * (t ^ 1)) >> 8) & 0xFF))
            update(byte)
        return bytes(out)

    for byte in password:
        update(byte)
    crc = zlib.crc32(plain)
    packed = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = packed.compress(plain) + packed.flush()
    secret = encrypt(bytes(11) + bytes([crc >> 24]) + body)
    raw = name.encode()
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 1, 8, 0, 0x21, crc, len(secret), len(plain), len(raw), 0)
    central = struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 1, 8, 0, 0x21, crc, len(secret), len(plain), len(raw),
                          0, 0, 0, 0, 0, 0)
    start = len(local) + len(raw) + len(secret)
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(raw), start, 0)
    return local + raw + secret + central + raw + end


def test_an_encrypted_zip_gets_a_clear_message(returns):
    data = zipcrypto("Leeds.xlsx", returns["Leeds"], b"secret")
    assert zipfile.ZipFile(io.BytesIO(data)).read("Leeds.xlsx", pwd=b"secret") == returns["Leeds"]  # real cipher
    item, = opened(data, "locked.zip")
    assert (item.name, item.issue.code) == ("locked.zip > Leeds.xlsx", Code.MAIL_004)
    assert "password" in item.issue.title.lower()
    inside = message(attachments=[("locked.zip", data, "application/zip")]).as_bytes()
    assert rows(opened(inside, "m.eml")) == [("m.eml > locked.zip > Leeds.xlsx", "MAIL_004")]


def test_names_are_shown_escaped_and_never_used_as_paths(returns, tmp_path):
    hostile = {"../../etc/passwd.xlsx": returns["Leeds"], "/abs/evil\x07\u202ename.xlsx": returns["York"],
               "C:\\Windows\\x > y.xlsx": b"PK", "../../etc/passwd.XLSX": b"%PDF-1.4"}
    items = opened(zipped(hostile), "evil.zip")
    assert [i.source.attachment for i in items] == [
        "../../etc/passwd.xlsx", "/abs/evil\\x07\\u202ename.xlsx", "C:\\Windows\\x \\x3e y.xlsx",
        "../../etc/passwd (2).XLSX"]  # one name twice (case aside) is told apart
    assert all(i.name.count(" > ") == 1 for i in items)  # a name cannot fake a level of nesting
    kept = write_temporary(items[0], tmp_path)
    assert kept.parent == tmp_path and kept.suffix == ".xlsx" and "passwd" not in kept.name
    assert list(tmp_path.iterdir()) == [kept] and kept.read_bytes() == returns["Leeds"]
    # Encoded (RFC 2231), an attachment's name can carry anything: a line break, a path.
    mail = message(attachments=[("x.xlsx", returns["Leeds"], XLSX)]).as_bytes().replace(
        b'filename="x.xlsx"', b"filename*=utf-8''..%5C..%5Cwin%0D%0Adows%00.xlsx")
    item, = opened(mail, "m.eml")
    assert item.source.attachment == "..\\..\\win\\x0d\\x0adows\\x00.xlsx" and item.is_spreadsheet


def test_limits_on_sizes_and_counts(returns, monkeypatch, tmp_path):
    monkeypatch.setattr(mime, "MAX_MESSAGE_BYTES", 10_000)
    big = message(attachments=[("r.xlsx", returns["Leeds"], XLSX)]).as_bytes()
    assert rows(opened(big, "big.eml")) == [("big.eml", "MAIL_001")]
    box = tmp_path / "Inbox.mbox"
    mb = mailbox.mbox(box)
    mb.add(message(attachments=[("r.xlsx", returns["Leeds"], XLSX)]))
    mb.add(message(subject="small", attachments=[("a.pdf", b"%PDF-1.4", "application/pdf")]))
    mb.flush()
    mb.close()
    assert rows(open_container(box, "Inbox.mbox", ContainerKind.MBOX)) == [
        ("Inbox.mbox > message 1.eml", "MAIL_001"), ("Inbox.mbox > small.eml > a.pdf", "a PDF document")]
    monkeypatch.undo()
    monkeypatch.setattr(unpacking, "MAX_UNPACKED_BYTES", len(returns["Leeds"]) + 10)
    three = message(attachments=[(f"r{i}.xlsx", returns["Leeds"], XLSX) for i in range(3)]).as_bytes()
    assert rows(opened(three, "m.eml")) == [("m.eml > r0.xlsx", "xlsx"), ("m.eml > r1.xlsx", "MAIL_001"),
                                            ("m.eml > r2.xlsx", "MAIL_001")]
    monkeypatch.setattr(containers, "MAX_ITEMS", 3)
    five = zipped({f"n{i}.txt": b"x" for i in range(5)})
    assert rows(opened(five, "five.zip"))[-1] == ("five.zip", "MAIL_002")
    assert len(opened(five, "five.zip")) == 4
    monkeypatch.setattr(outlook, "MAX_ATTACHMENTS", 1)
    two = MapiMessage.from_email_message(message(attachments=[("a.pdf", b"%PDF", "application/pdf")] * 2))
    assert rows(opened(two.to_bytes(), "two.msg")) == [("two.msg", "MAIL_002")]
    many = zipped({f"n{i}.txt": b"" for i in range(containers.MAX_MEMBERS + 1)})
    assert rows(opened(many, "many.zip")) == [("many.zip", "MAIL_002")]


def test_an_attachment_reads_as_a_return_through_a_temporary_file(returns, tmp_path):
    item, = opened(message(attachments=[("return", returns["Leeds"], "application/octet-stream")]).as_bytes(),
                   "m.eml")
    path = write_temporary(item, tmp_path)
    checked = check_return(path, SPEC)
    assert checked.ret is not None and checked.ret.spec.id == SPEC.id and path.name != "return"
    with pytest.raises(ValueError):
        write_temporary(Item("x", item.source, what="a PDF document"), tmp_path)


def test_iterating_yields_one_item_at_a_time(returns):
    data = zipped({f"r{i}.xlsx": returns["Leeds"] for i in range(3)})
    it = iter_container(data, "z.zip", ContainerKind.ZIP)
    assert next(it).name == "z.zip > r0.xlsx"
    assert [i.name for i in it] == ["z.zip > r1.xlsx", "z.zip > r2.xlsx"]


def test_every_mail_code_is_in_the_catalogue():
    mail = [c for c in Code if c.value.startswith("MAIL_")]
    assert [c.value for c in mail] == [f"MAIL_{n:03d}" for n in range(1, 10)]
    assert all(CATALOGUE[c].fix for c in mail)
    readers = (containers, unpacking, mime, outlook, archives)
    assert sum(Path(m.__file__).read_text(encoding="utf-8").count("Code.MAIL_") for m in readers) >= len(mail)


def test_what_the_content_does_not_settle_a_spreadsheets_name_does(returns, tmp_path):
    """As for a file in a folder: a PDF sent as "return.xlsx" is a return that pre-flight refuses, saying why."""
    from scoa_xl import preflight
    from scoa_xl.errors import ReturnUnreadable

    data = zipped({"return.xlsx": b"%PDF-1.4\n", "empty.ods": b"", "__MACOSX/._return.xlsx": b"\x00\x05\x16\x07",
                   "~$return.xlsx": b"\x08Jo Bloggs", "Leeds.xlsx": returns["Leeds"]})
    items = opened(data, "z.zip")
    assert rows(items) == [("z.zip > return.xlsx", "xlsx"), ("z.zip > empty.ods", "ods"),
                           ("z.zip > __MACOSX/._return.xlsx", "file details a Mac adds to a zip archive"),
                           ("z.zip > ~$return.xlsx", "an Excel lock file (it holds no answers)"),
                           ("z.zip > Leeds.xlsx", "xlsx")]
    found = []
    for item in items[:2]:
        with pytest.raises(ReturnUnreadable) as caught:
            preflight.sniff(write_temporary(item, tmp_path))
        found.append((caught.value.issue.code, caught.value.issue.found))
    assert found == [(Code.FILE_001, "a PDF document"), (Code.FILE_005, "an empty file (0 bytes)")]
    smime = message(attachments=[("smime.p7m", b"0\x82\x01", "application/pkcs7-mime")]).as_bytes()
    assert rows(opened(smime, "m.eml")) == [("m.eml > smime.p7m", "an encrypted email (S/MIME), which cannot be "
                                                                   "opened here")]
