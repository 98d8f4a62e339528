"""Hostile mail through `scoa batch`, in a process of its own: bombs in attachments, names that try to escape,
10,000 attachments in one message, nesting 50 deep, broken MIME, bad base64, unknown charsets, TNEF and an
encrypted zip, beside good returns in the same containers. The run is held to: an exit code, no traceback, a row
for every attachment and member (each container yields its rows, nothing missing), nothing written outside OUT,
inputs unchanged, every output name plain, and a bounded peak memory.

Every file is made here by real writers (email, mailbox, zipfile, aspose-email-foss); nothing is committed.
"""

from __future__ import annotations

import hashlib
import io
import json
import mailbox
import random
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest
from aspose.email_foss.msg import MapiMessage
from helpers import answers, fill_workbook
from test_hostile import WRAPPER
from test_mail import BROKEN_BASE64, XLSX, message, zipcrypto, zipped

from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.spec import load_spec

SPEC = load_spec()
CMD = [sys.executable, "-c", "from scoa_xl.cli import main; main()"]
PEAK_RSS_BOUND_KB = 1_500_000  # 1.5 GB
COUNCILS = [("Leeds", "E08000035"), ("Kent", "E10000016"), ("Camden", "E09000007"), ("Cornwall", "E06000052"),
            ("Norfolk", "E10000020"), ("Birmingham", "E08000025")]


def snapshot(base: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under `base` (but `skip`): its digest, mode and time."""
    got = {}
    for p in sorted(base.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
        got[str(p.relative_to(base))] = (digest, st.st_mode, st.st_mtime_ns, st.st_size)
    return got


def many_attachments(n: int) -> bytes:
    parts = b"".join(b'--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; '
                     b'filename="f%d.xlsx"\n\nPK\n' % i for i in range(n))
    return b"From: a@b.c\nSubject: many\nContent-Type: multipart/mixed; boundary=b\n\n" + parts + b"--b--\n"


def bomb_zip(good: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Leeds.xlsx", good)
        z.writestr("photo.jpg", b"\xff\xd8\xff" + random.Random(1).randbytes(600_000), zipfile.ZIP_STORED)
        with z.open("bomb.xlsx", "w") as fh:  # 40 MB of zeros packs to about 40 KB
            for _ in range(40):
                fh.write(bytes(1 << 20))
    return buf.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("hostile-mail")
    blank = generate(SPEC, base / "blank.xlsx", Identity())
    r = {}
    for k, (name, code) in enumerate(COUNCILS):
        fill = answers(SPEC, lambda i, f, k=k: (i + k) % 5 + 1, control=lambda i, f, n: SPEC.control[i % 4].label,
                       boost=lambda i, f, n: "Yes",
                       identity={"council": name, "council_code": code, "respondent": f"Officer {k}",
                                 "organisation": f"{name} Council", "date": "2026-02-02"})
        for m in SPEC.models:
            fill[f"priority_{m.id}"] = SPEC.priority[k % 5].label
        r[name] = fill_workbook(blank, base / f"{name}.xlsx", fill).read_bytes()
    inbox = base / "inbox"
    inbox.mkdir()
    # Bombs in attachments: a zip bomb member in an archive sent by email, and a lone bomb.
    (inbox / "bomb.eml").write_bytes(message(attachments=[("returns.zip", bomb_zip(r["Leeds"]),
                                                           "application/zip")]).as_bytes())
    (inbox / "lone-bomb.zip").write_bytes(zipped({"bomb.xlsx": bytes(40 << 20)}))
    # Names that would escape OUT, or hide what they are.
    (inbox / "escaping.zip").write_bytes(zipped({"../../etc/x.xlsx": r["Kent"], "/abs/path/y.xlsx": r["Camden"],
                                                 "ctrl\x07\x1b[31mname.xlsx": b"PK", "rtl\u202exslx.pdf": b"%PDF-1.4"}))
    mail = message(attachments=[("x.xlsx", r["Cornwall"], XLSX)]).as_bytes().replace(
        b'filename="x.xlsx"', b"filename*=utf-8''..%2F..%2F..%2Ftmp%2F%E2%80%AEevil%0D%0A.xlsx")
    (inbox / "escaping.eml").write_bytes(mail)
    (inbox / "escaping.msg").write_bytes(MapiMessage.from_email_message(message(
        attachments=[("..\\..\\Windows\\z.xlsx", r["Norfolk"], XLSX)])).to_bytes())
    # 10,000 attachments in one message, and nesting 50 deep (messages and archives).
    (inbox / "many.eml").write_bytes(many_attachments(10_000))
    deep = message(subject="level 50", attachments=[("deep.xlsx", r["Leeds"], XLSX)])
    for level in range(49, 0, -1):
        deep = message(subject=f"level {level}", attachments=[deep])
    (inbox / "deep.eml").write_bytes(deep.as_bytes())
    data = r["Leeds"]
    for level in range(50, 0, -1):
        data = zipped({f"level{level}.zip" if level < 50 else "r.xlsx": data})
    (inbox / "deep.zip").write_bytes(data)
    # Broken MIME, bad base64, unknown charsets, TNEF, an encrypted zip; in a mailbox beside a good message.
    no_boundary = (b"From: jo@leeds.gov.uk\nSubject: =?x-unknown-charset?q?caf=E9?=\nMIME-Version: 1.0\n"
                   b"Content-Type: multipart/mixed\n\n--b1\nContent-Type: text/plain\n\nhello\n")
    charset = (b'From: =?klingon?b?SGVsbG8=?= <jo@leeds.gov.uk>\nSubject: \xff\xfe raw bytes\nDate: not a date\n'
               b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain; charset="klingon"\n\n'
               b'\xe9t\xe9\n--b\nContent-Type: text/csv; charset="klingon"; name="notes.csv"\n\n\xe9,\xe9\n--b--\n')
    (inbox / "broken-base64.eml").write_bytes(BROKEN_BASE64)
    # Stray characters in the base64 of a real return: decoded round them, read, and said.
    sent = message(attachments=[("Birmingham.xlsx", r["Birmingham"], XLSX)]).as_bytes().split(b"\n")
    at = next(i for i, line in enumerate(sent) if line.startswith(b"Content-Transfer-Encoding: base64")) + 5
    sent[at] = sent[at][:30] + b"!*" + sent[at][30:]
    (inbox / "stray-characters.eml").write_bytes(b"\n".join(sent))
    (inbox / "no-boundary.eml").write_bytes(no_boundary)
    (inbox / "charset.eml").write_bytes(charset)
    (inbox / "garbage.eml").write_bytes(b"\x00\x01 this is not a message \xff" * 10)
    (inbox / "winmail.eml").write_bytes(message(attachments=[("winmail.dat", b"\x78\x9f\x3e\x22" + bytes(60),
                                                              "application/ms-tnef")]).as_bytes())
    (inbox / "locked.zip").write_bytes(zipcrypto("Leeds.xlsx", r["Leeds"], b"secret"))
    box = mailbox.mbox(inbox / "Inbox.mbox")
    box.add(message(subject="good", attachments=[("Camden.xlsx", r["Camden"], XLSX)]))
    box.add(charset)
    box.add(message(subject="locked", attachments=[("locked.zip", zipcrypto("K.xlsx", r["Kent"], b"pw"),
                                                    "application/zip")]))
    box.flush()
    box.close()
    (inbox / "cut.msg").write_bytes(MapiMessage.from_email_message(message(
        attachments=[("r.xlsx", r["Leeds"], XLSX)])).to_bytes()[:3000])
    out = base / "out"
    before = snapshot(base)
    run = subprocess.run([sys.executable, "-c", WRAPPER, str(base.parent / "mail-stdout.json"),
                          str(base.parent / "mail-stderr.txt"), *CMD, "batch", str(inbox), "-o", str(out), "--json",
                          "--quiet", "--drafts", "--jobs", "2", "--time-limit", "300"],
                         capture_output=True, text=True, timeout=900, check=True)
    measured = json.loads(run.stdout)
    stdout = (base.parent / "mail-stdout.json").read_text(encoding="utf-8")
    stderr = (base.parent / "mail-stderr.txt").read_text(encoding="utf-8", errors="replace")
    return {"base": base, "inbox": inbox, "out": out, "before": before, "rc": measured["rc"],
            "peak_kb": measured["peak_kb"], "stdout": stdout, "stderr": stderr, "json": json.loads(stdout)}


# file -> (status, the issue code it carries, or '' for none)
EXPECT = {
    "bomb.eml > returns.zip > Leeds.xlsx": ("valid", ""),
    "bomb.eml > returns.zip > photo.jpg": ("skipped", ""),
    "bomb.eml > returns.zip > bomb.xlsx": ("unreadable", "MAIL_008"),
    "lone-bomb.zip": ("unreadable", "MAIL_008"),
    "escaping.zip > ../../etc/x.xlsx": ("valid", ""),
    "escaping.zip > /abs/path/y.xlsx": ("valid", ""),
    "escaping.zip > ctrl\\x07\\x1b[31mname.xlsx": ("unreadable", "FILE_001"),
    "escaping.zip > rtl\\u202exslx.pdf": ("skipped", ""),
    "escaping.eml > ../../../tmp/\\u202eevil\\x0d\\x0a.xlsx": ("valid", ""),
    "escaping.msg > ..\\..\\Windows\\z.xlsx": ("valid", ""),
    "many.eml": ("unreadable", "MAIL_002"),
    "deep.eml > level 2.eml > level 3.eml > level 4.eml > level 5.eml > level 6.eml > level 7.eml > level 8.eml "
    "> level 9.eml": ("unreadable", "MAIL_003"),
    "deep.zip > level1.zip > level2.zip > level3.zip > level4.zip > level5.zip > level6.zip > level7.zip "
    "> level8.zip": ("unreadable", "MAIL_003"),
    "broken-base64.eml > return.xlsx": ("unreadable", "MAIL_009"),
    "stray-characters.eml > Birmingham.xlsx": ("queries", "MAIL_009"),
    "no-boundary.eml": ("skipped", "MAIL_007"),
    "charset.eml > notes.csv": ("skipped", ""),
    "garbage.eml": ("unreadable", "MAIL_006"),
    "winmail.eml > winmail.dat": ("unreadable", "MAIL_005"),
    "locked.zip > Leeds.xlsx": ("unreadable", "MAIL_004"),
    "Inbox.mbox > good.eml > Camden.xlsx": ("duplicate", ""),
    "Inbox.mbox > \ufffd\ufffd raw bytes.eml > notes.csv": ("skipped", ""),  # a subject not in any charset
    "Inbox.mbox > locked.eml > locked.zip > K.xlsx": ("unreadable", "MAIL_004"),
    "cut.msg": ("unreadable", "MAIL_006"),
}


def test_no_traceback_and_exit_1(corpus):
    assert corpus["rc"] == 1  # unreadable attachments are present
    for stream in (corpus["stdout"], corpus["stderr"]):
        assert "Traceback" not in stream and "Error:" not in stream
    assert corpus["stderr"].strip() == ""


def test_every_item_is_accounted_for(corpus):
    files = {f["file"]: f for f in corpus["json"]["files"]}
    got = {name: (f["status"], sorted({i["code"] for i in f["issues"]})) for name, f in files.items()}
    want = {name: (status, [code] if code else []) for name, (status, code) in EXPECT.items()}
    # The copy of a return shares its original's (empty) issues; pre-flight may add its own to a broken member.
    assert {n: s for n, (s, _c) in got.items()} == {n: s for n, (s, _c) in want.items()}
    for name, (_status, code) in EXPECT.items():
        if code:
            assert code in got[name][1], (name, got[name])
    # Each container in the folder yields its rows, and every row names the container it came from.
    containers = {p.name for p in corpus["inbox"].iterdir()}
    assert {name.split(" > ")[0] for name in files} == containers
    assert all(f["source"]["container"] == f["file"].split(" > ")[0] for f in files.values())


def test_nothing_is_written_outside_out_and_inputs_are_unchanged(corpus):
    assert snapshot(corpus["base"], skip=corpus["out"]) == corpus["before"]
    out = corpus["out"].resolve()
    for p in out.rglob("*"):
        assert p.resolve().is_relative_to(out), p
        # Every output's name is plain: no path taken from a name, no control or direction characters.
        assert all(unicodedata.category(ch) not in ("Cc", "Cf") for ch in p.name), repr(p.name)
        assert ".." not in p.relative_to(out).parts


def test_names_are_shown_escaped_in_json_and_letters(corpus):
    text = corpus["stdout"]
    assert "\u202e" not in text and "\x07" not in text and "\x1b" not in text
    letters = "".join(p.read_text(encoding="utf-8") for p in (corpus["out"] / "feedback").iterdir())
    assert "\u202e" not in letters and "\x1b" not in letters and "ctrl\\x07\\x1b[31mname.xlsx" in letters


def test_peak_memory_is_bounded(corpus):
    assert 0 < corpus["peak_kb"] < PEAK_RSS_BOUND_KB, corpus["peak_kb"]


def test_drafts_are_plain_named_and_nowhere_else(corpus):
    drafts = sorted(p.name for p in (corpus["out"] / "drafts").iterdir())
    assert drafts and all(n.endswith(".eml") for n in drafts)
    assert not any((corpus["base"] / n).exists() for n in drafts)


def test_an_attachment_damaged_on_its_way_says_so_as_well_as_what_reading_found(corpus):
    files = {f["file"]: f for f in corpus["json"]["files"]}
    stray = files["stray-characters.eml > Birmingham.xlsx"]
    assert [i["code"] for i in stray["issues"]] == ["MAIL_009"] and stray["score"] is not None  # read after all
    broken = files["broken-base64.eml > return.xlsx"]
    assert [i["code"] for i in broken["issues"]][:1] == ["MAIL_009"] and len(broken["issues"]) == 2
    from click.testing import CliRunner

    from scoa_xl.cli import main

    res = CliRunner().invoke(main, ["check", "--json", str(corpus["inbox"] / "stray-characters.eml")])
    (checked,) = json.loads(res.output)
    assert (res.exit_code, checked["status"], [i["code"] for i in checked["issues"]]) == (0, "queries", ["MAIL_009"])
