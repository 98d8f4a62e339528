"""Hostile and broken input: nothing crashes, leaks, escapes or is lost (issue 6).

Every file here is made by code (no committed binaries): XML entity tricks aimed at a secret file beside
the inbox, zip bombs (plain and with lying headers), a sheet holding one 150 MB token, cells laid out
billions of cells away, encrypted, empty, renamed and truncated files, a real .xls, an .xlsm, names that
try to escape the output folder, formula payloads in every free-text cell, links out of the folder, a
named pipe. The lot goes through `scoa batch` in a subprocess with the good returns, and the run is
held to: an exit code, no traceback, a row with the right status and code for every file, no byte of
the secret anywhere in the output, nothing written outside OUT, inputs unchanged, payloads kept as
text, every output well-formed, and a bounded peak memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import xlwt
from msoffcrypto.format.ooxml import OOXMLFile
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl import layout as L
from scoa_xl import preflight
from scoa_xl.errors import CATALOGUE, Code, ReturnUnreadable
from scoa_xl.fileio import NAME_BYTES
from scoa_xl.generate import Prefill, generate
from scoa_xl.inbox import discover
from scoa_xl.model import CONTROL_IDS, FactorAnswer, Identity
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 1, 12)
LAYOUT = L.build_layout(SPEC)
PAYLOADS = ('=HYPERLINK("http://evil","x")', "=cmd|' /C calc'!A0", "+SUM(1)", "-2+3", "@SUM(1)")
# What each payload would leave inside an <f> element if it were ever written as a live formula.
FORMULA_MARKS = ('HYPERLINK("http://evil"', "cmd|", "SUM(1)", "-2+3")
SECRET = "SECRET-" + hashlib.sha256(b"scoa hostile corpus").hexdigest()[:24]
PEAK_RSS_BOUND_KB = 1_500_000  # 1.5 GB; openpyxl on the 150 MB token, or a billion-cell grid, would break it
CMD = [sys.executable, "-c", "from scoa_xl.cli import main; main()"]


# ---------------------------------------------------------------------------------------------------
# Making returns and bending their zips


def make_return(path: Path, identity: Identity, *, note=lambda i: "", text=lambda a, p: "") -> Path:
    """A complete, consistent return: every factor rated, inhibitors categorised, supporters answered."""
    factors = {}
    for i, f in enumerate(SPEC.factors):
        r = (4, 2, 5, 3, 1)[i % 5]
        factors[f.id] = FactorAnswer(f.id, r, None, CONTROL_IDS[i % 4] if r <= 2 else None,
                                     (i % 2 == 0) if r >= 4 else None, note(i))
    texts = {a.id: {p.id: text(k, j) for j, p in enumerate(SPEC.text_prompts)} for k, a in enumerate(SPEC.aspects)}
    priorities = {m.id: 1 + k % 5 for k, m in enumerate(SPEC.models)}
    return generate(SPEC, path, identity, prefill=Prefill(factors=factors, texts=texts, priorities=priorities,
                                                          carried=False), generated_at=DAY)


def who(council: str, respondent: str, code: str = "", **kw) -> Identity:
    return Identity(council=council, council_code=code, respondent=respondent,
                    organisation=kw.get("organisation", f"{council[:40]} adult social care"),
                    role=kw.get("role", "Head of commissioning"), date=kw.get("date", "2026-02-02"))


def rezip(src: Path, dst: Path, edit=lambda name, data: data, add: dict[str, bytes] | None = None) -> Path:
    """Copy a zip part by part through edit(name, bytes) -> bytes; add more parts."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zi.compress_type = info.compress_type
            zout.writestr(zi, edit(info.filename, zin.read(info.filename)))
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def streamed(src: Path, dst: Path, member: str, parts) -> Path:
    """Copy a zip, writing `member` from an iterable of byte chunks (so a 150 MB part never sits in memory)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename == member:
                zi = zipfile.ZipInfo(member, date_time=(2026, 1, 12, 0, 0, 0))
                zi.compress_type = zipfile.ZIP_DEFLATED
                with zout.open(zi, "w", force_zip64=False) as fh:
                    for chunk in parts(zin.read(member)):
                        fh.write(chunk)
            else:
                zout.writestr(info, zin.read(info.filename))
    return dst


def repeat(chunk: bytes, total: int):
    while total > 0:
        yield chunk[:total]
        total -= len(chunk)


def lie_about_size(path: Path, member: str, size: int) -> None:
    """Make the zip's headers declare `size` as the part's unpacked size (a hand-made zip can say anything)."""
    raw = bytearray(path.read_bytes())
    name = member.encode()
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46:at + 46 + n] == name:
            struct.pack_into("<I", raw, at + 24, size)
            local = struct.unpack_from("<I", raw, at + 42)[0]
            struct.pack_into("<I", raw, local + 22, size)
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(raw))


def token_chunk(size: int = 1 << 20) -> bytes:
    """1 MB of one long token that packs about 60:1, under the ratio cap: runs of A broken by other letters."""
    rng = random.Random(7)
    parts, n = [], 0
    while n < size:
        s = "A" * rng.randint(100, 300) + rng.choice("BCDEFGHIJ")
        parts.append(s)
        n += len(s)
    return "".join(parts)[:size].encode()


def copy_to_xls(src: Path, dst: Path, corner: bool = False) -> Path:
    """A real BIFF8 .xls (xlwt) holding every value of a return, sheet by sheet; with `corner`, one more cell
    at the last row and column of every sheet."""
    wb = CalamineWorkbook.from_path(str(src))
    book = xlwt.Workbook()
    for name in wb.sheet_names:
        ws = book.add_sheet(name)
        for r, row in enumerate(wb.get_sheet_by_name(name).to_python(skip_empty_area=False)):
            for c, v in enumerate(row):
                if v not in ("", None):
                    ws.write(r, c, v if isinstance(v, int | float | str) else str(v))
        if corner:
            ws.write(65535, 255, 1)
    book.save(str(dst))
    return dst


def add_macros(src: Path, dst: Path) -> Path:
    """An .xlsm: the return's zip plus xl/vbaProject.bin, declared as Excel declares it."""
    def edit(name: str, data: bytes) -> bytes:
        if name == "[Content_Types].xml":
            data = data.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                                b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
            data = data.replace(b"<Default Extension=\"xml\"", b"<Default Extension=\"bin\" ContentType=\""
                                b"application/vnd.ms-office.vbaProject\"/><Default Extension=\"xml\"")
        if name == "xl/_rels/workbook.xml.rels":
            data = data.replace(b"</Relationships>", b"<Relationship Id=\"rId99\" Type=\"http://schemas.microsoft"
                                b".com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/>"
                                b"</Relationships>")
        return data

    vba = preflight.OLE2_MAGIC + b"Attribute VB_Name = \"Module1\"\r\nSub Auto_Open()\r\nShell \"calc\"\r\nEnd Sub"
    return rezip(src, dst, edit, add={"xl/vbaProject.bin": vba})


def with_doctype(data: bytes, root: bytes, dtd: str) -> bytes:
    head, _, rest = data.partition(b"?>")
    return head + b"?>" + f"<!DOCTYPE {root.decode()} [{dtd}]>".encode() + rest


def cover_row(data: bytes, xml: bytes) -> bytes:
    """Add a row of cells at the end of a sheet's data."""
    return data.replace(b"</sheetData>", xml + b"</sheetData>")


def ods_rows(src: Path, dst: Path, rows: int) -> Path:
    """Copy an .ods, with a sheet of `rows` numbered rows added to content.xml (streamed)."""
    def parts(data: bytes):
        cut = data.rindex(b"</table:table>") + len(b"</table:table>")
        yield data[:cut] + b'<table:table table:name="Extra">'
        for start in range(0, rows, 20000):
            yield b"".join(b'<table:table-row><table:table-cell office:value-type="float" office:value="%d">'
                           b"<text:p>%d</text:p></table:table-cell></table:table-row>" % (i * 7919 % 1000003, i)
                           for i in range(start, min(rows, start + 20000)))
        yield b"</table:table>" + data[cut:]
    return streamed(src, dst, "content.xml", parts)


def ods_edit(src: Path, dst: Path, edit) -> Path:
    """Copy an .ods keeping its mimetype first and stored, as the format asks."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, edit(info.filename, zin.read(info.filename)))
    return dst


def ods_repeat_bomb(data: bytes) -> bytes:
    at = data.find(b"<table:table-row", data.find(b'<table:table table:name="Lists"'))
    bomb = (b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="string" '
            b'table:number-columns-repeated="16000"><text:p>x</text:p></table:table-cell></table:table-row>')
    return data[:at] + bomb + data[at:]


# ---------------------------------------------------------------------------------------------------
# The corpus


def at(name: str) -> str:
    f = next(f for f in LAYOUT.fields if f.name == name)
    return f"'{f.sheet}'!{f.cell}"


PAYLOAD_IDENTITY = {"council": PAYLOADS[0], "respondent": PAYLOADS[1], "organisation": PAYLOADS[2],
                    "role": PAYLOADS[3]}
TEXT_CELLS = [f.name for f in LAYOUT.fields if f.kind.value == "text" or f.name.startswith("notes_")]


def build_corpus(base: Path, soffice: str) -> dict[str, tuple[str, str]]:
    """Write the inbox; return what each file must come to: file -> (status, code or words of the reason)."""
    inbox, work, outside = base / "inbox", base / "work", base / "outside"
    for d in (inbox, work, outside):
        d.mkdir()
    secret = base / "secret.txt"
    secret.write_text(SECRET + "\n", encoding="utf-8")
    expect: dict[str, tuple[str, str]] = {}

    # Good returns, and the same good return as the raw material for the hostile ones.
    good = make_return(inbox / "leeds.xlsx", who("Leeds", "Jo Bloggs", "E08000035"))
    make_return(inbox / "kent.xlsx", who("Kent", "Kim Ode", "E10000016"))
    expect |= {"leeds.xlsx": ("valid", ""), "kent.xlsx": ("valid", "")}
    raw = make_return(work / "raw.xlsx", who("Rawshire", "Ray Raw"))

    # XML entity tricks aimed at the secret file.
    xxe = f'<!ENTITY xxe SYSTEM "file://{secret}">'
    rezip(raw, inbox / "xxe-workbook.xlsx", lambda n, d: with_doctype(d, b"workbook", xxe).replace(
        b'<sheet name="Cover"', b'<sheet name="Cover&xxe;"') if n == "xl/workbook.xml" else d)
    rezip(raw, inbox / "xxe-sheet.xlsx", lambda n, d: cover_row(with_doctype(d, b"worksheet", xxe), (
        b'<row r="60"><c r="A60" t="inlineStr"><is><t>&xxe;</t></is></c></row>')) if n == "xl/worksheets/sheet1.xml"
        else d)
    laughs = '<!ENTITY lol "lol">' + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 or "") + ";") * 10}">'
                                            for i in range(1, 10))
    rezip(raw, inbox / "billion-laughs.xlsx", lambda n, d: with_doctype(d, b"sst", laughs).replace(
        b">Rawshire<", b">&lol9;<") if n == "xl/sharedStrings.xml" else d)
    expect |= {f: ("unreadable", "FILE_008") for f in ("xxe-workbook.xlsx", "xxe-sheet.xlsx", "billion-laughs.xlsx")}
    # An external DTD and no entity declared: nothing to refuse, and no reader fetches it.
    external = make_return(work / "ext.xlsx", who("Leeds", "Ext Dtd", "E08000035"))
    rezip(external, inbox / "external-dtd.xlsx", lambda n, d: d.replace(
        b"?>", f'?><!DOCTYPE sst SYSTEM "file://{secret}">'.encode(), 1) if n == "xl/sharedStrings.xml" else d)
    expect["external-dtd.xlsx"] = ("valid", "")

    # Bombs: about 1000:1; a part whose headers lie about its size; one 150 MB token packed small.
    streamed(raw, inbox / "zip-bomb.xlsx", "xl/styles.xml", lambda d: [d[:-len(b"</styleSheet>")], *repeat(
        b" " * (1 << 20), 120 << 20), b"</styleSheet>"])
    liar = streamed(raw, inbox / "lying-zip.xlsx", "xl/worksheets/sheet2.xml", lambda d: [
        d.split(b"</sheetData>")[0], *repeat(b" " * (1 << 20), 60 << 20), b"</sheetData>" + d.split(
            b"</sheetData>")[1]])
    with zipfile.ZipFile(raw) as z:
        lie_about_size(liar, "xl/worksheets/sheet2.xml", z.getinfo("xl/worksheets/sheet2.xml").file_size)
    token_src = make_return(work / "token.xlsx", who("TOKENCOUNCIL", "Tok En"))
    streamed(token_src, inbox / "token-150mb-packed-small.xlsx", "xl/sharedStrings.xml", lambda d: [
        d.split(b">TOKENCOUNCIL<")[0] + b">", *repeat(b"A" * (1 << 20), 150 << 20), b"<" + d.split(
            b">TOKENCOUNCIL<")[1]])
    expect |= {f: ("unreadable", "FILE_003") for f in ("zip-bomb.xlsx", "lying-zip.xlsx",
                                                       "token-150mb-packed-small.xlsx")}
    chunk = token_chunk()
    streamed(token_src, inbox / "token-150mb.xlsx", "xl/sharedStrings.xml", lambda d: [
        d.split(b">TOKENCOUNCIL<")[0] + b">", *(chunk for _ in range(150)), b"<" + d.split(b">TOKENCOUNCIL<")[1]])
    expect["token-150mb.xlsx"] = ("queries", "TEXT_001")  # read, and the council's name cut to a cell's limit

    # A cell far out: a few bytes that ask the reader for 17 billion cells.
    rezip(raw, inbox / "far-cell.xlsx", lambda n, d: cover_row(d, b'<row r="1048576"><c r="XFD1048576"><v>1</v>'
                                                               b"</c></row>") if n == "xl/worksheets/sheet1.xml" else d)
    expect["far-cell.xlsx"] = ("unreadable", "FILE_003")

    # Locked, empty, renamed, cut short, zipped up, thousands of parts.
    with open(raw, "rb") as fh, open(inbox / "encrypted.xlsx", "wb") as out:
        OOXMLFile(fh).encrypt("Passw0rd!", out)
    (inbox / "empty.xlsx").write_bytes(b"")
    (inbox / "renamed-pdf.xlsx").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")
    (inbox / "truncated.xlsx").write_bytes(raw.read_bytes()[:20000])
    with zipfile.ZipFile(inbox / "zipped-return.xlsx", "w") as z:
        z.write(raw, "return.xlsx")
    with zipfile.ZipFile(inbox / "many-parts.xlsx", "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        for i in range(3000):
            z.writestr(f"xl/junk/{i}.xml", "<x/>")
    expect |= {"encrypted.xlsx": ("unreadable", "FILE_002"), "empty.xlsx": ("unreadable", "FILE_005"),
               "renamed-pdf.xlsx": ("unreadable", "FILE_001"), "truncated.xlsx": ("unreadable", "FILE_001"),
               "zipped-return.xlsx": ("unreadable", "FILE_001"), "many-parts.xlsx": ("unreadable", "FILE_003")}

    # Old formats and macros: read, with a query; an .xls that lays out billions of cells: refused.
    copy_to_xls(make_return(work / "norfolk.xlsx", who("Norfolk", "Nell Orr", "E10000020")), inbox / "old-format.xls")
    copy_to_xls(raw, inbox / "old-format-far-cells.xls", corner=True)
    add_macros(make_return(work / "derby.xlsx", who("Derbyshire", "Dee Erb", "E10000007")), inbox / "macros.xlsm")
    expect |= {"old-format.xls": ("queries", "FILE_007"), "old-format-far-cells.xls": ("unreadable", "FILE_003"),
               "macros.xlsm": ("queries", "FILE_004")}

    # LibreOffice .ods: a huge (but honest) content.xml is read; repeated cells that expand to billions, and
    # a mimetype that says it is a text document, are not.
    camden = make_return(work / "camden.xlsx", who("Camden", "Al Tan", "E09000007"))
    bham = make_return(work / "birmingham.xlsx", who("Birmingham", "Bo Ray", "E08000025"))
    camden_ods, bham_ods = convert([camden, bham], work / "ods", "ods")
    ods_rows(camden_ods, inbox / "huge-content.ods", 600_000)
    ods_edit(bham_ods, inbox / "repeated-cells.ods", lambda n, d: ods_repeat_bomb(d) if n == "content.xml" else d)
    ods_edit(bham_ods, inbox / "text-mimetype.ods",
             lambda n, d: b"application/vnd.oasis.opendocument.text" if n == "mimetype" else d)
    expect |= {"huge-content.ods": ("valid", ""), "repeated-cells.ods": ("unreadable", "FILE_003"),
               "text-mimetype.ods": ("unreadable", "FILE_001")}

    # Names that try to escape the output folder, or to break it: councils, respondents and file names.
    names = [("../../x", "../../../etc/passwd"), ("CON", "nul"), ("L" * 300, "\u03a9" * 200),
             ("Ynys M\u00f4n \u202eevil\u200b \u6771\u4eac \U0001f3f4", "Zo\u00eb \u00c5sa"),
             ("Leeds\x07\x1b[31m", "Jo\x00Bloggs\x0b")]
    for i, (council, respondent) in enumerate(names):
        make_return(inbox / f"name-{i}.xlsx", who(council, respondent))
        # None of the first four is a council on the register: a query that names the nearest (ID_003).
        expect[f"name-{i}.xlsx"] = ("queries", "ID_003") if i < 4 else ("queries", "TEXT_001")
    make_return(inbox / "ctl\x07\x1b[31m.xlsx", who("Kent", "Ctl File", "E10000016"))
    make_return(Path(os.fsdecode(bytes(inbox) + b"/caf\xe9.xlsx")), who("Kent", "Latin One", "E10000016"))
    make_return(inbox / ("x" * 200 + ".xlsx"), who("Kent", "Long Name", "E10000016"))
    make_return(inbox / "CON.xlsx", who("Kent", "Con File", "E10000016"))
    expect |= {"ctl\\x07\\x1b[31m.xlsx": ("valid", ""), "caf\\xe9.xlsx": ("valid", ""),
               "x" * 200 + ".xlsx": ("valid", ""), "CON.xlsx": ("valid", "")}

    # Formula payloads in every free-text cell: identity, factor notes and the three prompts of every aspect.
    make_return(inbox / "payloads.xlsx", who(**PAYLOAD_IDENTITY), note=lambda i: PAYLOADS[i % 5],
                text=lambda a, p: PAYLOADS[(a + p) % 5])
    make_return(inbox / "payloads-kent.xlsx", who("Kent", PAYLOADS[4], "E10000016", organisation=PAYLOADS[3],
                                                  role=PAYLOADS[2]), note=lambda i: PAYLOADS[(i + 2) % 5],
                text=lambda a, p: PAYLOADS[(a + p + 1) % 5])
    expect |= {"payloads.xlsx": ("queries", "TEXT_002"), "payloads-kent.xlsx": ("queries", "TEXT_002")}

    # Text over a cell's limit, and control characters, in free text.
    longish = make_return(work / "long.xlsx", who("Camden", "Lo Ng", "E09000007"),
                          note=lambda i: "LONGTEXTMARKER" if i == 0 else "",
                          text=lambda a, p: "bell\x07here" if (a, p) == (1, 1) else "")
    rezip(longish, inbox / "long-text.xlsx", lambda n, d: d.replace(b"LONGTEXTMARKER", b"y" * 40_000)
          if n == "xl/sharedStrings.xml" else d)
    expect["long-text.xlsx"] = ("queries", "TEXT_001")

    # Things in the folder that are not files to read.
    (inbox / "folder.xlsx").mkdir()
    (inbox / "folder.xlsx" / "note.txt").write_text("a folder with a workbook's name\n", encoding="utf-8")
    os.mkfifo(inbox / "pipe.xlsx")
    (inbox / "pipe-link.xlsx").symlink_to(inbox / "pipe.xlsx")
    (inbox / "secret-link.xlsx").symlink_to(secret)
    shutil.copyfile(good, outside / "outside.xlsx")
    (inbox / "outside-folder").symlink_to(outside, target_is_directory=True)
    (inbox / "loop-a.xlsx").symlink_to(inbox / "loop-b.xlsx")
    (inbox / "loop-b.xlsx").symlink_to(inbox / "loop-a.xlsx")
    expect |= {"folder.xlsx/note.txt": ("skipped", "not a spreadsheet"),
               "pipe.xlsx": ("skipped", "not an ordinary file"),
               "pipe-link.xlsx": ("skipped", "not an ordinary file"),
               "secret-link.xlsx": ("skipped", "outside the folder"),
               "outside-folder": ("skipped", "link to a folder"),
               "loop-a.xlsx": ("skipped", "loop"), "loop-b.xlsx": ("skipped", "loop")}
    return expect


# ---------------------------------------------------------------------------------------------------
# Looking at what came out


def snapshot(folder: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under folder, links as links: kind, bytes' digest, size and modification time."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        d = Path(dirpath)
        if skip is not None and (d == skip or skip in d.parents):
            continue
        for name in dirnames + filenames:
            p = d / name
            if skip is not None and p == skip:
                continue
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p)] = ("link", os.readlink(p))
            elif stat.S_ISREG(st.st_mode):
                out[str(p)] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), st.st_size, st.st_mtime_ns)
            else:
                out[str(p)] = (stat.S_IFMT(st.st_mode), st.st_mtime_ns)
    return out


def output_texts(out: Path) -> dict[str, bytes]:
    """Every output file's bytes, with each workbook unzipped into its parts."""
    texts = {}
    for p in sorted(out.rglob("*")):
        if not p.is_file():
            continue
        if p.suffix == ".xlsx":
            with zipfile.ZipFile(p) as z:
                for n in z.namelist():
                    texts[f"{p.relative_to(out)}:{n}"] = z.read(n)
        else:
            texts[str(p.relative_to(out))] = p.read_bytes()
    return texts


def sheet_table(path: Path, sheet: str, header: str) -> list[dict]:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    top = next(i for i, r in enumerate(rows) if r and r[0] == header)
    out = []
    for r in rows[top + 1:]:
        if not any(v not in ("", None) for v in r):
            break
        out.append(dict(zip(rows[top], r, strict=False)))
    return out


WRAPPER = textwrap.dedent("""
    import json, resource, subprocess, sys
    out, err = sys.argv[1], sys.argv[2]
    with open(out, "wb") as o, open(err, "wb") as e:
        rc = subprocess.run(sys.argv[3:], stdout=o, stderr=e, stdin=subprocess.DEVNULL).returncode
    print(json.dumps({"rc": rc, "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
""")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, soffice) -> dict:
    base = tmp_path_factory.mktemp("hostile")
    expect = build_corpus(base, soffice)
    inbox, out = base / "inbox", base / "out"
    before = snapshot(base)
    # The batch runs in a process of its own, under a wrapper whose only children are it and its workers:
    # the peak memory read afterwards is the batch's, and a hang ends at the timeout instead of never.
    run = subprocess.run([sys.executable, "-c", WRAPPER, str(base.parent / "stdout.json"),
                          str(base.parent / "stderr.txt"), *CMD, "batch", str(inbox), "-o", str(out), "--json",
                          "--quiet", "--jobs", "2", "--time-limit", "300"],
                         capture_output=True, text=True, timeout=900, check=True)
    measured = json.loads(run.stdout)
    stdout = (base.parent / "stdout.json").read_text(encoding="utf-8")
    stderr = (base.parent / "stderr.txt").read_text(encoding="utf-8", errors="replace")
    return {"base": base, "inbox": inbox, "out": out, "expect": expect, "before": before, "rc": measured["rc"],
            "peak_kb": measured["peak_kb"], "stdout": stdout, "stderr": stderr, "json": json.loads(stdout)}


def files(hostile) -> dict[str, dict]:
    return {f["file"]: f for f in hostile["json"]["files"]}


# ---------------------------------------------------------------------------------------------------
# The batch over the whole corpus


def test_finishes_with_exit_1_and_no_traceback(hostile):
    assert hostile["rc"] == 1  # unreadable and invalid files are present
    for stream in (hostile["stdout"], hostile["stderr"]):
        assert "Traceback" not in stream and "panicked" not in stream and "stack backtrace" not in stream
    assert hostile["stderr"].strip() == ""


def test_every_file_has_a_row_with_the_right_status_and_code(hostile):
    got = files(hostile)
    expect = hostile["expect"]
    assert set(got) == set(expect)
    rows = {r["File"]: r for r in sheet_table(hostile["out"] / "summary.xlsx", "Returns", "File")}
    assert set(rows) == set(expect)
    for name, (status, what) in expect.items():
        f = got[name]
        assert (name, f["status"]) == (name, status)
        assert rows[name]["Status"] == status
        codes = {i["code"] for i in f["issues"]}
        if status == "skipped":
            assert what in rows[name]["Note"], (name, rows[name]["Note"])
        elif what:
            assert what in codes, (name, codes)
        if status == "unreadable":
            assert [i["code"] for i in f["issues"]] == [what], name  # one clear reason
            issue = f["issues"][0]
            assert issue["message"].endswith(CATALOGUE[Code(what)].fix) and issue["found"], name
        if status == "valid":
            assert f["issues"] == [], (name, codes)


def test_unreadable_files_say_what_was_found(hostile):
    got = files(hostile)
    found = {name: got[name]["issues"][0]["found"] for name, (s, _) in hostile["expect"].items() if s == "unreadable"}
    assert "entity" in found["xxe-workbook.xlsx"] and "xl/workbook.xml" in found["xxe-workbook.xlsx"]
    assert "xl/worksheets/sheet1.xml" in found["xxe-sheet.xlsx"]
    assert "xl/sharedStrings.xml" in found["billion-laughs.xlsx"]
    assert "1000:1" in found["zip-bomb.xlsx"] or ":1)" in found["zip-bomb.xlsx"]
    assert "declares" in found["lying-zip.xlsx"]
    assert "cells" in found["far-cell.xlsx"] and "cells" in found["repeated-cells.ods"]
    assert "cells" in found["old-format-far-cells.xls"]
    assert "3,000 parts" in found["many-parts.xlsx"] or "3,001 parts" in found["many-parts.xlsx"]
    assert "return.xlsx" in found["zipped-return.xlsx"]
    assert "text" in found["text-mimetype.ods"]
    assert found["renamed-pdf.xlsx"] == "a PDF document"
    assert found["empty.xlsx"] == "an empty file (0 bytes)"


def test_the_secret_leaks_nowhere(hostile):
    texts = output_texts(hostile["out"])
    assert any(k.startswith("summary.xlsx:") for k in texts) and any(k.startswith("feedback/") for k in texts)
    # The scan sees what the inputs carried into the outputs (so it would see the secret too) ...
    assert any(b"Jo Bloggs" in v for k, v in texts.items() if k.endswith("sharedStrings.xml"))
    assert any(b"Jo Bloggs" in v for k, v in texts.items() if k.startswith("feedback/"))
    assert "Jo Bloggs" in hostile["stdout"]
    # ... and the secret is nowhere: not in a workbook's parts, a letter, the manifest, the JSON or the messages.
    secret = SECRET.encode()
    assert [k for k, v in texts.items() if secret in v] == []
    assert SECRET not in hostile["stdout"] and SECRET not in hostile["stderr"]


def test_nothing_is_written_outside_out_and_inputs_are_unchanged(hostile):
    # The whole folder around the inbox and OUT, byte for byte and time for time, but OUT itself.
    assert snapshot(hostile["base"], skip=hostile["out"]) == hostile["before"]
    assert not [p for p in hostile["out"].rglob("*") if p.name.startswith((".~scoa", ".scoa-staging"))]


def test_output_names_are_safe(hostile):
    out = hostile["out"]
    made = [p for p in out.rglob("*") if p.is_file()]
    assert {p.parent for p in made} <= {out, out / "plans", out / "feedback"}
    for p in made:
        assert p.resolve().is_relative_to(out.resolve())
        assert len(p.name.encode("utf-8")) <= NAME_BYTES + len(".xlsx")
        assert all(ch.isprintable() for ch in p.name) and "\u202e" not in p.name and ".." not in p.stem
        assert p.name.split(".")[0].strip().upper() not in {"CON", "PRN", "AUX", "NUL"}
    got = files(hostile)
    assert len(list((out / "feedback").iterdir())) == len(got)
    plans = [f for f in got.values() if f["status"] in ("valid", "queries", "invalid") and f["score"]]
    assert len(list((out / "plans").iterdir())) == len(plans)


def test_formula_payloads_are_kept_as_text_everywhere(hostile):
    out = hostile["out"]
    texts = output_texts(out)
    live = []
    for key, data in texts.items():
        if key.endswith(".xml"):
            for formula in re.findall(rb"<(?:\w+:)?f(?:\s[^>]*)?>(.*?)</(?:\w+:)?f>", data, re.S):
                if any(m.encode() in formula for m in FORMULA_MARKS):
                    live.append((key, formula))
    assert live == []
    # ... and they are there, as text: in the plans, in every summary sheet that quotes them, in the letters.
    summary = CalamineWorkbook.from_path(str(out / "summary.xlsx"))
    returns = {r["File"]: r for r in sheet_table(out / "summary.xlsx", "Returns", "File")}
    assert (returns["payloads.xlsx"]["Council"], returns["payloads.xlsx"]["Respondent"],
            returns["payloads.xlsx"]["Organisation"]) == tuple(PAYLOAD_IDENTITY[k] for k in
                                                              ("council", "respondent", "organisation"))
    issues = [r for r in sheet_table(out / "summary.xlsx", "Issues", "File") if r["File"] == "payloads.xlsx"]
    assert {r["Council"] for r in issues} == {PAYLOADS[0]}
    assert "Scores" in summary.sheet_names
    scores = sheet_table(out / "summary.xlsx", "Scores", "Council")
    assert PAYLOADS[0] in {r["Council"] for r in scores}
    got = files(hostile)
    for name in ("payloads.xlsx", "payloads-kent.xlsx"):
        plan = CalamineWorkbook.from_path(str(out / "plans" / _plan_names(hostile, name).pop()))
        values = {v for s in plan.sheet_names for row in plan.get_sheet_by_name(s).to_python() for v in row}
        assert set(PAYLOADS) <= values, name
        letter = (out / "feedback" / _letter_name(hostile, name)).read_text(encoding="utf-8")
        assert CATALOGUE[Code.TEXT_002].fix in letter
        assert got[name]["score"] is not None


def _plan_names(hostile, name: str) -> set[str]:
    """The plan file written for one input file, read from the summary's Returns sheet."""
    rows = {r["File"]: r for r in sheet_table(hostile["out"] / "summary.xlsx", "Returns", "File")}
    return {Path(rows[name]["Plan"]).name}


def _letter_name(hostile, name: str) -> str:
    rows = {r["File"]: r for r in sheet_table(hostile["out"] / "summary.xlsx", "Returns", "File")}
    return Path(rows[name]["Feedback"]).name


def test_every_payload_cell_gets_a_query(hostile):
    issues = files(hostile)["payloads.xlsx"]["issues"]
    flagged = {(f"'{i['sheet']}'!{i['cell']}") for i in issues if i["code"] == "TEXT_002"}
    wanted = {at(n) for n in TEXT_CELLS} | {at(f"identity_{k}") for k in PAYLOAD_IDENTITY}
    assert flagged == wanted
    kent = {(f"'{i['sheet']}'!{i['cell']}") for i in files(hostile)["payloads-kent.xlsx"]["issues"]
            if i["code"] == "TEXT_002"}
    assert {at("identity_respondent"), at("identity_organisation"), at("identity_role")} <= kent
    assert at("identity_council") not in kent


def test_every_output_is_well_formed(hostile):
    # Control characters from names and file names must never reach a workbook's XML raw.
    bad = []
    for key, data in output_texts(hostile["out"]).items():
        if key.endswith((".xml", ".rels")):
            try:
                ET.fromstring(data)
            except ET.ParseError as exc:
                bad.append((key, str(exc)))
    assert bad == []
    for p in hostile["out"].rglob("*.txt"):
        text = p.read_text(encoding="utf-8")
        assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text), p.name


def test_text_over_a_cells_limit_is_cut_and_said(hostile):
    f = files(hostile)["long-text.xlsx"]
    text001 = [i for i in f["issues"] if i["code"] == "TEXT_001"]
    assert {i["found"] for i in text001} == {"40,000 characters (the first 32,767 were kept)",
                                             "control characters (removed)"}
    out = hostile["out"]
    plan = CalamineWorkbook.from_path(str(out / "plans" / _plan_names(hostile, "long-text.xlsx").pop()))
    values = [v for s in plan.sheet_names for row in plan.get_sheet_by_name(s).to_python() for v in row]
    assert "y" * 32767 in values and "bellhere" in values
    assert max(len(str(v)) for v in values) <= 32767
    token = files(hostile)["token-150mb.xlsx"]
    assert [i["found"] for i in token["issues"] if i["code"] == "TEXT_001"] == [
        "157,286,400 characters (the first 32,767 were kept)"]
    assert token["score"]["council"].startswith("AAA") and len(token["score"]["council"]) == 32767


def test_macros_are_neither_run_nor_kept(hostile):
    for key in output_texts(hostile["out"]):
        assert "vbaProject" not in key and "macrosheets" not in key
    letter = (hostile["out"] / "feedback" / _letter_name(hostile, "macros.xlsm")).read_text(encoding="utf-8")
    assert CATALOGUE[Code.FILE_004].fix in letter


def test_peak_memory_is_bounded(hostile):
    assert 0 < hostile["peak_kb"] < PEAK_RSS_BOUND_KB


# ---------------------------------------------------------------------------------------------------
# Pre-flight cases, one at a time


def refused(path: Path) -> tuple[str, str]:
    with pytest.raises(ReturnUnreadable) as caught:
        preflight.sniff(path)
    return caught.value.issue.code.value, caught.value.issue.found


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    return make_return(tmp_path_factory.mktemp("plain") / "plain.xlsx", who("Leeds", "Jo Bloggs", "E08000035"))


def test_a_real_return_passes_every_check(plain):
    sniffed, data = preflight.sniff(plain)
    assert (sniffed.kind, sniffed.macros, len(data)) == ("xlsx", False, plain.stat().st_size)


def test_parts_that_share_their_packed_bytes(tmp_path):
    # One stored part listed 150 times more under other names: each entry packs 1:1, the file unpacks 150:1.
    path = tmp_path / "overlap.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/media/a.bin", random.Random(1).randbytes(1 << 20))
    raw = path.read_bytes()
    eocd = raw.rfind(b"PK\x05\x06")
    cd_start = struct.unpack_from("<I", raw, eocd + 16)[0]
    entry_at = raw.find(b"PK\x01\x02", cd_start + 4)  # the second entry: xl/media/a.bin
    entry = raw[entry_at:entry_at + 46]
    copies = b"".join(entry + f"xl/media/{i:05d}".encode() for i in range(150))  # names as long as "a.bin"'s
    tail = bytearray(raw[eocd:])
    struct.pack_into("<HHI", tail, 8, 152, 152, eocd - cd_start + len(copies))
    path.write_bytes(raw[:eocd] + copies + bytes(tail))
    assert len(zipfile.ZipFile(path).infolist()) == 152
    code, found = refused(path)
    assert code == "FILE_003" and "(150:1)" in found


def test_a_part_listed_twice(tmp_path, plain):
    path = tmp_path / "twice.xlsx"
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w") as zout, pytest.warns(UserWarning):
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("xl/workbook.xml", "<workbook/>")
    assert refused(path) == ("FILE_001", "a zip file that lists the same part twice")


def test_a_part_whose_packed_bytes_are_damaged(tmp_path, plain):
    # The largest sheet's deflate stream begun with a block of a type that does not exist (the sizes still agree).
    raw = bytearray(plain.read_bytes())
    info = max((i for i in zipfile.ZipFile(plain).infolist() if i.filename.startswith("xl/worksheets/")),
               key=lambda i: i.compress_size)
    name_len, extra_len = struct.unpack_from("<HH", raw, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    raw[start:start + 4] = b"\xff" * 4
    path = tmp_path / "damaged-stream.xlsx"
    path.write_bytes(bytes(raw))
    code, found = refused(path)
    assert (code, found) == ("FILE_001", "a damaged zip file (a part cannot be unpacked)")


def test_xml_in_utf16(tmp_path, plain):
    path = rezip(plain, tmp_path / "utf16.xlsx", lambda n, d: d.decode("utf-8").replace(
        'encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16") if n == "xl/sharedStrings.xml" else d)
    code, found = refused(path)
    assert code == "FILE_001" and "encoding" in found


@pytest.mark.parametrize("row", [
    b'<x:row r="9"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>',  # a namespace prefix on the tags
    b'<row r="1048576"><c><v>1</v></c></row><row r="9"><c r="XFD9"><v>1</v></c></row>',  # cells with no address
    b'<row r="9"><c r="&#88;FD1048576"><v>1</v></c></row>',  # the address written as character references
    b"<row r='9'><c r='XFD1048576'><v>1</v></c></row>",  # single quotes
    b'<row r="9"><c\nr="XFD1048576"><v>1</v></c></row>',  # a line break inside the tag
])
def test_far_cells_however_they_are_written(tmp_path, plain, row):
    path = rezip(plain, tmp_path / "far.xlsx", lambda n, d: cover_row(d, row)
                 if n == "xl/worksheets/sheet1.xml" else d)
    code, found = refused(path)
    assert code == "FILE_003" and "cells" in found


def _sheet_renamed(plain: Path, path: Path, row: bytes = b"") -> Path:
    """The return with its cover sheet stored as xl/worksheets/sheet1.dat (and the workbook pointing there)."""
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name, data = info.filename, zin.read(info.filename)
            if name in ("xl/_rels/workbook.xml.rels", "[Content_Types].xml"):
                data = data.replace(b"worksheets/sheet1.xml", b"worksheets/sheet1.dat")
            if name == "xl/worksheets/sheet1.xml":
                name, data = "xl/worksheets/sheet1.dat", cover_row(data, row)
            zout.writestr(name, data)
    return path


def test_a_far_cell_in_a_sheet_stored_under_another_name(tmp_path, plain):
    # The workbook's relationships say where each sheet is; the reader follows them to a part of any name.
    moved = _sheet_renamed(plain, tmp_path / "moved.xlsx")
    assert CalamineWorkbook.from_path(str(moved)).get_sheet_by_name("Cover").to_python()
    far = _sheet_renamed(plain, tmp_path / "far.xlsx", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')
    code, found = refused(far)
    assert code == "FILE_003" and "cells" in found


def test_styled_empty_cells_far_out_are_not_counted(tmp_path, plain):
    # Formatting with nothing typed: the reader lays out no cell for it, so neither is it counted.
    path = rezip(plain, tmp_path / "styled.xlsx", lambda n, d: cover_row(
        d, b'<row r="1048576"><c r="XFD1048576" s="1"/></row>') if n == "xl/worksheets/sheet1.xml" else d)
    assert preflight.sniff(path)[0].kind == "xlsx"


def _ods(tmp_path: Path, soffice: str) -> Path:
    src = make_return(tmp_path / "camden.xlsx", who("Camden", "Al Tan", "E09000007"))
    return convert([src], tmp_path / "ods", "ods")[0]


@pytest.fixture(scope="module")
def ods(tmp_path_factory, soffice) -> Path:
    return _ods(tmp_path_factory.mktemp("ods"), soffice)


@pytest.mark.parametrize("rows", [
    # Empty rows repeated a million times, then one value far to the right.
    b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell/></table:table-row>'
    b'<table:table-row><table:table-cell table:number-columns-repeated="16000"/>'
    b'<table:table-cell office:value-type="float" office:value="1"/></table:table-row>',
    # A ">" inside an earlier attribute, to hide the repeat from a careless look.
    b'<table:table-row table:number-rows-repeated="1000000"><table:table-cell table:formula="of:=1>0" '
    b'table:number-columns-repeated="16000" office:value-type="float" office:value="1"/></table:table-row>',
    # The repeat count written with a character reference.
    b'<table:table-row table:number-rows-repeated="&#49;000000"><table:table-cell office:value-type="float" '
    b'office:value="1" table:number-columns-repeated="16000"/></table:table-row>',
])
def test_ods_repeats_that_expand_to_billions(tmp_path, ods, rows):
    def edit(name: str, data: bytes) -> bytes:
        if name != "content.xml":
            return data
        at = data.find(b"<table:table-row", data.find(b'<table:table table:name="Lists"'))
        return data[:at] + rows + data[at:]

    code, found = refused(ods_edit(ods, tmp_path / "bomb.ods", edit))
    assert code == "FILE_003" and "cells" in found


def test_ods_trailing_empty_repeats_as_libreoffice_writes_them_are_fine(ods):
    assert preflight.sniff(ods)[0].kind == "ods"
    assert b'number-rows-repeated="' in zipfile.ZipFile(ods).read("content.xml")


def test_ods_names_are_read_without_parsing_every_cell(tmp_path, ods):
    from scoa_xl.read import _ods_names_only, defined_names

    big = ods_rows(ods, tmp_path / "big.ods", 50_000)
    content = zipfile.ZipFile(big).read("content.xml")
    cut = _ods_names_only(content)
    assert len(cut) < len(content) // 50 and b"Extra" not in cut
    assert defined_names(big.read_bytes(), "ods") == defined_names(ods.read_bytes(), "ods") != {}


def _xls_patch(src: Path, dst: Path, patch) -> Path:
    """Change bytes inside an .xls's Workbook stream (xlwt writes it in one run of sectors)."""
    data = bytearray(src.read_bytes())
    _, (stream,) = preflight._ole_streams(bytes(data))
    at = bytes(data).find(stream)
    assert at > 0
    patch(data, at, stream)
    dst.write_bytes(bytes(data))
    return dst


def _records(stream: bytes, start: int = 0):
    p = start
    while p + 4 <= len(stream):
        typ, n = struct.unpack_from("<HH", stream, p)
        yield p, typ, n
        p += 4 + n
        if typ == 0x000A:
            return


@pytest.fixture(scope="module")
def xls(tmp_path_factory, plain) -> Path:
    return copy_to_xls(plain, tmp_path_factory.mktemp("xls") / "plain.xls")


def _first(stream: bytes, typ: int, start: int = 0) -> int:
    return next(p for p, t, _ in _records(stream, start) if t == typ)


def _sheet_start(stream: bytes) -> int:
    return struct.unpack_from("<I", stream, _first(stream, 0x0085) + 4)[0]


@pytest.mark.parametrize("case, code", [
    ("sheet starts past the end", "FILE_001"),  # the reader would panic slicing past the stream
    ("text list claims two billion strings", "FILE_001"),  # the reader would reserve room for them all
    ("cell points past the text list", "FILE_001"),
    ("dimensions claim the whole grid", "FILE_003"),  # the reader reserves what DIMENSIONS claims
])
def test_xls_records_the_reader_would_trip_on(tmp_path, xls, case, code):
    def patch(data: bytearray, at: int, stream: bytes) -> None:
        if case == "sheet starts past the end":
            struct.pack_into("<I", data, at + _first(stream, 0x0085) + 4, 0x7FFFFFF0)
        elif case == "text list claims two billion strings":
            struct.pack_into("<I", data, at + _first(stream, 0x00FC) + 8, 0x7FFFFFFF)
        elif case == "cell points past the text list":
            struct.pack_into("<I", data, at + _first(stream, 0x00FD, _sheet_start(stream)) + 10, 0x7FFFFFFF)
        else:
            p = _first(stream, 0x0200, _sheet_start(stream))
            assert struct.unpack_from("<H", stream, p + 2)[0] == 14
            struct.pack_into("<IIHH", data, at + p + 4, 0, 0xFFFFFFF0, 0, 0xFFF0)

    assert refused(_xls_patch(xls, tmp_path / "patched.xls", patch))[0] == code


def test_an_xls_with_a_loop_in_its_sector_chain(tmp_path, xls):
    data = bytearray(xls.read_bytes())
    fat_sector = struct.unpack_from("<I", data, 0x4C)[0]
    dir_start = struct.unpack_from("<I", data, 0x30)[0]
    struct.pack_into("<I", data, 512 * (fat_sector + 1) + 4 * dir_start, dir_start)  # the directory points at itself
    (tmp_path / "loop.xls").write_bytes(bytes(data))
    assert refused(tmp_path / "loop.xls")[0] == "FILE_001"


def test_the_zip_end_record_is_read_before_the_parts(tmp_path):
    path = tmp_path / "count.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    raw = bytearray(path.read_bytes())
    struct.pack_into("<HH", raw, raw.rfind(b"PK\x05\x06") + 8, 60000, 60000)  # it claims 60,000 parts
    path.write_bytes(bytes(raw))
    assert refused(path) == ("FILE_003", "60,000 parts inside the file")


def test_folders_pipes_and_devices_are_refused_without_waiting(tmp_path):
    assert refused(tmp_path) == ("FILE_001", "a folder, not a file")
    assert refused(Path("/dev/zero")) == ("FILE_001", "a device, pipe or socket, not a file")
    # A named pipe, looked at from another process: a reader waiting for a writer would be stopped by the timeout.
    os.mkfifo(tmp_path / "pipe.xlsx")
    res = subprocess.run([*CMD, "check", str(tmp_path / "pipe.xlsx"), "--json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    issue, = json.loads(res.stdout)[0]["issues"]
    assert (issue["code"], issue["found"]) == ("FILE_001", "a device, pipe or socket, not a file")


def test_links_are_not_followed_out_of_the_folder(tmp_path):
    inbox, elsewhere = tmp_path / "inbox", tmp_path / "elsewhere"
    inbox.mkdir()
    elsewhere.mkdir()
    (elsewhere / "a.xlsx").write_bytes(b"x")
    (inbox / "file-out.xlsx").symlink_to(elsewhere / "a.xlsx")
    (inbox / "folder-out").symlink_to(elsewhere, target_is_directory=True)
    (inbox / "folder-in").symlink_to(inbox, target_is_directory=True)  # a loop back into the inbox
    (inbox / "dangling.xlsx").symlink_to(tmp_path / "gone.xlsx")
    (inbox / "a").symlink_to(inbox / "b")
    (inbox / "b").symlink_to(inbox / "a")
    got = {r.file: r.reason for r in discover(inbox)}
    assert "outside the folder" in got["file-out.xlsx"]
    assert "link to a folder" in got["folder-out"] and "link to a folder" in got["folder-in"]
    assert "missing" in got["dangling.xlsx"] and "loop" in got["a"] and "loop" in got["b"]


def test_folders_nested_too_deep_are_not_opened(tmp_path):
    deep = tmp_path / "inbox"
    for _ in range(40):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "x.xlsx").write_bytes(b"x")
    got = discover(tmp_path / "inbox")
    assert len(got) == 1 and "nested" in got[0].reason


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv to take away root's right to read any file")
def test_a_file_nobody_may_read(tmp_path, plain):
    # As root every file is readable; so the batch runs without the capabilities that allow it.
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copyfile(plain, inbox / "good.xlsx")
    shutil.copyfile(plain, inbox / "locked.xlsx")
    (inbox / "locked.txt").write_text("x", encoding="utf-8")
    (inbox / "locked-folder").mkdir()
    for p in ("locked.xlsx", "locked.txt", "locked-folder"):
        (inbox / p).chmod(0)
    try:
        res = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--", *CMD, "batch",
                              str(inbox), "-o", str(tmp_path / "out"), "--json", "--quiet"],
                             capture_output=True, text=True, timeout=300)
    finally:
        for p in ("locked.xlsx", "locked.txt", "locked-folder"):
            (inbox / p).chmod(0o755)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    got = {f["file"]: f for f in json.loads(res.stdout)["files"]}
    assert got["good.xlsx"]["status"] == "valid"
    assert got["locked.xlsx"]["status"] == "unreadable"
    assert got["locked.xlsx"]["issues"][0]["found"] == "a file we could not open (Permission denied)"
    assert got["locked.txt"]["status"] == got["locked-folder"]["status"] == "skipped"


def test_reader_panics_are_told_apart_from_interrupts(tmp_path, xls):
    # A sheet said to start past the end of the stream makes the Rust reader panic, which Python sees as a
    # BaseException: the pre-flight refuses such a file, and the reader's callers treat a panic as a failure.
    from scoa_xl.read import reader_failed

    def patch(data: bytearray, at: int, stream: bytes) -> None:
        struct.pack_into("<I", data, at + _first(stream, 0x0085) + 4, 0x7FFFFFF0)

    path = _xls_patch(xls, tmp_path / "panic.xls", patch)
    assert refused(path)[0] == "FILE_001"
    with pytest.raises(BaseException) as caught:
        CalamineWorkbook.from_filelike(io.BytesIO(path.read_bytes()))
    assert not isinstance(caught.value, Exception) and reader_failed(caught.value)
    assert not reader_failed(KeyboardInterrupt()) and not reader_failed(SystemExit(1))
