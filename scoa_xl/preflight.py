"""Look at a file before any parser does: what it really is (by content, not name) and whether it is safe.

Returns come by email from outside the programme team: a zip bomb, a PDF renamed .xlsx, an
encrypted workbook or an empty file must each get a clear message, not a parser's traceback.

What a parser would be made to do is bounded here, before it runs:
- bytes: the file's size, the declared unpacked size and compression ratio, and then the real
  unpacked size of every part (a hand-made zip can declare a small size and inflate to gigabytes);
- cells: the grid the reader lays out for each sheet (one cell typed at XFD1048576, or an .ods cell
  "repeated" a billion times, makes a few bytes ask for billions of cells);
- XML: entity declarations (XXE, billion laughs) are refused outright; spreadsheet applications
  never write them.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

# zlib-ng inflates the same streams as zlib, with the same interface, in about half the time (measured on the
# bench's returns: 1.8 -> 1.0 ms a return); unpacking every part is pre-flight's largest cost.
try:
    from zlib_ng import zlib_ng as zlib
except ImportError:  # a platform without its wheel: the standard library's, slower, is the same check
    import zlib  # type: ignore[no-redef]

from .biff import BiffFormulas
from .errors import Code, ReturnUnreadable, issue

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100  # real returns compress 6-10:1; a zip bomb about 1000:1
MAX_MEMBERS = 2000
SPREADSHEET_EXTS = (".xlsx", ".xlsm", ".ods", ".xls")  # the names a workbook goes by
MAX_CELLS = 2_000_000  # cells the reader lays out, all sheets together; a return has about 20,000
MAX_SHEETS = 256

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: str  # xlsx, xlsm, ods, xls
    size: int
    macros: bool = False
    # The unpacked XML the reader looks at again for what calamine does not give (formulas, .ods typed text):
    # each sheet part and the parts that map sheet names to them, kept from this look so nothing is unpacked twice.
    parts: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    xls_formulas: BiffFormulas | None = field(default=None, compare=False, repr=False)  # an .xls's, likewise


def _unreadable(code: Code, found: str, expected: str) -> ReturnUnreadable:
    return ReturnUnreadable(issue(code, found=found, expected=expected))


def _too_big(found: str, expected: str) -> ReturnUnreadable:
    return _unreadable(Code.FILE_003, found, expected)


def _damaged(found: str) -> ReturnUnreadable:
    return _unreadable(Code.FILE_001, found, "a complete .xlsx or .ods workbook")


def sniff(path: Path) -> tuple[Sniffed, bytes]:
    """Read the file once (read-only) and classify it; raise ReturnUnreadable with the reason."""
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer; it is then refused as not a file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _unreadable(Code.FILE_001, f"a file we could not open ({exc.strerror})", "a readable file") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
            raise _unreadable(Code.FILE_001, f"{what}, not a file", "a workbook file")
        if st.st_size > MAX_FILE_BYTES:
            raise _too_big(f"a file of {st.st_size / 1048576:.1f} MB",
                           f"a workbook under {MAX_FILE_BYTES // 1048576} MB")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _unreadable(Code.FILE_001, f"a file we could not read ({exc.strerror})", "a readable file") from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:  # it grew while we looked
        raise _too_big(f"a file of more than {MAX_FILE_BYTES // 1048576} MB",
                       f"a workbook under {MAX_FILE_BYTES // 1048576} MB")
    if not data:
        raise _unreadable(Code.FILE_005, "an empty file (0 bytes)", "a workbook")
    if data.startswith(OLE2_MAGIC):
        return _ole2(data), data
    if data.startswith(ZIP_MAGIC):
        return _zip(data), data
    head = data[:5]
    what = "a PDF document" if head.startswith(b"%PDF") else "a file that is not a spreadsheet"
    raise _unreadable(Code.FILE_001, what, "an .xlsx or .ods workbook")


# ---------------------------------------------------------------------------------------------------
# Zip: .xlsx, .xlsm, .ods


def _zip(data: bytes) -> Sniffed:
    declared = _declared_members(data)
    if declared > MAX_MEMBERS:  # before the central directory is parsed into thousands of objects
        raise _too_big(f"{declared:,} parts inside the file", f"at most {MAX_MEMBERS:,}")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, struct.error):
        raise _damaged("a damaged or truncated zip file") from None
    if len(infos) > MAX_MEMBERS:
        raise _too_big(f"{len(infos):,} parts inside the file", f"at most {MAX_MEMBERS:,}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        # Two parts with one name: readers disagree on which counts, so none is trusted.
        raise _damaged("a zip file that lists the same part twice")
    total = sum(i.file_size for i in infos)
    # Against the file's own size, not the parts' packed sizes: parts that share packed bytes
    # (overlapping entries) would otherwise hide a bomb.
    ratio = total / max(1, len(data))
    if total > MAX_UNZIPPED_BYTES or ratio > MAX_RATIO:
        raise _too_big(f"{total / 1048576:.0f} MB when unpacked ({ratio:.0f}:1)",
                       f"at most {MAX_UNZIPPED_BYTES // 1048576} MB and {MAX_RATIO}:1")
    kind = _zip_kind(zf, set(names))
    parts = _inspect_parts(data, infos)
    macros = kind == "xlsm"
    return Sniffed(kind, len(data), macros, parts)


def _declared_members(data: bytes) -> int:
    """The number of parts the zip's end record declares (0 if it cannot be found: zipfile then decides)."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - 65557))
    if at < 0 or at + 22 > len(data):
        return 0
    count = struct.unpack_from("<H", data, at + 10)[0]
    if count == 0xFFFF and at >= 20 and data[at - 20:at - 16] == b"PK\x06\x07":  # zip64
        where = struct.unpack_from("<Q", data, at - 12)[0]
        if where + 40 <= len(data) and data[where:where + 4] == b"PK\x06\x06":
            count = struct.unpack_from("<Q", data, where + 32)[0]
    return count


def _zip_kind(zf: zipfile.ZipFile, names: set[str]) -> str:
    if "xl/workbook.xml" in names:
        macros = "xl/vbaProject.bin" in names or any(n.startswith("xl/macrosheets/") for n in names)
        return "xlsm" if macros else "xlsx"
    mimetype = b""
    if "mimetype" in names:
        try:
            with zf.open("mimetype") as fh:
                mimetype = fh.read(100)
        except Exception:  # a damaged part: treated as absent
            mimetype = b""
    if "content.xml" in names and (not mimetype or b"spreadsheet" in mimetype):
        return "ods"
    if "xl/workbook.bin" in names:
        what = "an Excel binary workbook (.xlsb)"
    elif "word/document.xml" in names:
        what = "a Word document"
    elif "ppt/presentation.xml" in names:
        what = "a PowerPoint file"
    elif mimetype.startswith(b"application/vnd.oasis.opendocument."):
        kind_of = mimetype[len(b"application/vnd.oasis.opendocument."):][:40].decode("ascii", "replace")
        what = f"an OpenDocument {kind_of} file, not a spreadsheet"
    elif any(n.lower().endswith(SPREADSHEET_EXTS) for n in names):
        inner = next(n for n in sorted(names) if n.lower().endswith(SPREADSHEET_EXTS))
        what = f'a zip archive holding "{inner[-80:]}" (unzip it and send the workbook itself)'
    else:
        what = "a zip file that is not a workbook"
    raise _unreadable(Code.FILE_001, what, "an .xlsx or .ods workbook")


_XMLISH = (".xml", ".rels", ".vml")
_UTF16_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00?\x00", b"\x00<\x00?")


_KEEP = ("xl/workbook.xml", "xl/_rels/workbook.xml.rels", "content.xml")


def _inspect_parts(data: bytes, infos: list[zipfile.ZipInfo]) -> dict[str, bytes]:
    """Unpack every part once, within a byte budget: real sizes, entity declarations, and cell grids. Every part
    is looked at, whatever its name: the workbook's relationships can point a reader at any part as XML.
    Returns the sheet parts (and the workbook's index of them) for the reader."""
    cells = 0
    quick: list[bytes] = []  # sheets bounded quickly (SMALL_SHEET each), kept in case the bounds add up too far
    exact: bool | None = None
    keep: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        name = info.filename
        xmlish = name.lower().endswith(_XMLISH)
        kept: list[bytes] = []
        size, tail = 0, b""
        for chunk in _unpack(data, info):
            size += len(chunk)
            if size > info.file_size:
                raise _too_big(f'a part ("{name[-60:]}") that unpacks to more than the {info.file_size:,} bytes '
                               "its header declares (a disguised zip bomb)",
                               "parts no larger than they declare")
            if size == len(chunk) and (chunk[:2] in _UTF16_STARTS[:2] or chunk[:4] in _UTF16_STARTS[2:]
                                       or (xmlish and b"\x00" in chunk[:4])):
                # UTF-16 or UTF-32: what is looked for below would not be seen in it.
                raise _damaged(f'a workbook with XML in an unusual encoding ("{name[-60:]}")')
            if b"<!ENTITY" in chunk or b"<!ENTITY" in tail + chunk[:8]:
                raise _unreadable(Code.FILE_008, f'XML entity declarations in "{name[-60:]}"',
                                  "plain workbook XML, as spreadsheet applications write it")
            tail = chunk[-8:]
            kept.append(chunk)
        if size != info.file_size:
            raise _damaged(f'a damaged zip file (the part "{name[-60:]}" is shorter than its header says)')
        xml = b"".join(kept)
        # Whatever the kind: a reader may take the file for the other kind.
        if name == "content.xml":
            cells += _ods_cells(xml)
        if b"sheetData" in xml:
            n = _xlsx_cells(xml, quick=exact is None)
            cells += n
            if exact is None and n == SMALL_SHEET:
                quick.append(xml)
            keep[name] = xml
        elif name in _KEEP:
            keep[name] = xml
        if cells > MAX_CELLS and quick:
            # The quick bounds add up past the limit: count those sheets exactly, and every one after them.
            cells += sum(_xlsx_cells(x, quick=False) - SMALL_SHEET for x in quick)
            quick, exact = [], True
        if cells > MAX_CELLS:
            raise _too_many_cells(cells)
    return keep


def _too_many_cells(cells: int) -> ReturnUnreadable:
    return _too_big(f"sheets that reach so far out that reading them means laying out {cells:,} cells "
                    "(something typed or formatted far outside the form)",
                    f"at most {MAX_CELLS:,} cells")


def _unpack(data: bytes, info: zipfile.ZipInfo):
    """A part's bytes, a chunk at a time, straight from its packed data (never trusting its declared size)."""
    at = info.header_offset
    if data[at:at + 4] != ZIP_MAGIC or at + 30 > len(data):
        raise _damaged("a damaged zip file (a part's header is missing)")
    if info.flag_bits & 0x1:
        raise _damaged("a zip file whose parts are encrypted")
    name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
    start = at + 30 + name_len + extra_len
    raw = data[start:start + info.compress_size]
    if len(raw) != info.compress_size:
        raise _damaged("a damaged or truncated zip file")
    if info.compress_type == zipfile.ZIP_STORED:
        for i in range(0, len(raw), _CHUNK):
            yield raw[i:i + _CHUNK]
        return
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise _damaged("a zip file packed in a way spreadsheet applications do not use")
    d = zlib.decompressobj(-15)
    pending = raw
    try:
        while True:
            out = d.decompress(pending, _CHUNK)
            if out:
                yield out
            pending = d.unconsumed_tail
            if d.eof or (not pending and not out):
                return
    except zlib.error:  # type: ignore[misc]  # zlib-ng's stub declares its error class as an instance
        raise _damaged("a damaged zip file (a part cannot be unpacked)") from None


# .xlsx sheets: the reader lays out every sheet from A1 to its furthest non-empty cell.

_CHAR_REF = re.compile(rb"&#(x[0-9a-fA-F]+|[0-9]+);")


def _char(ref: re.Match) -> bytes:
    """A character reference (&#49; or &#x31;) as the character it stands for."""
    code = ref.group(1)
    try:
        return chr(int(code[1:], 16) if code[:1] == b"x" else int(code)).encode("utf-8", "replace")
    except (ValueError, OverflowError):
        return b"?"


_P = rb"(?:[\w.-]+:)?"  # an optional namespace prefix: readers match on the local name
_ATTRS = rb"((?:\s+[^\s=>/]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>"
_PREFIXED = re.compile(rb"<[A-Za-z_][\w.-]*:(?:c|row)[\s>/]")
_CELL_TAG = re.compile(rb"<c[\s>/]")
_CELL_R = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_TOKEN = re.compile(rb"<" + _P + rb"(row|c)" + _ATTRS)
_R_ATTR = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]*)(\d*)["']""")


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


SMALL_SHEET = 26 * 999  # cells from A1 to Z999: the bound for a sheet whose every address is within it
_PREFIX_HINT = re.compile(rb":(?:c|row)")  # ":c" or ":row" anywhere: perhaps a prefixed cell or row tag
# A "<c" that is neither a plain cell tag with an address within Z999 (<c r="B12") nor <col, <cf... or <cu...
_ODD_CELL = re.compile(rb'<c(?! r="[A-Z][0-9]{1,3}"|o|f|u)')


def _xlsx_cells(xml: bytes, quick: bool = True) -> int:
    """Cells from A1 to the sheet's furthest cell (an upper bound on what the reader lays out). With `quick`, the
    bound may be SMALL_SHEET for a sheet that lies within it (callers near the limit ask for the exact bound)."""
    hinted = _PREFIX_HINT.search(xml) is not None
    if quick and not hinted and not _ODD_CELL.search(xml):
        # The usual sheet (the form's reach ends well before column Z and row 999) is told by two searches, each
        # stopping at the first thing out of the ordinary, without listing or counting a cell (counting each way a
        # tag could be written had cost four times as long).
        return SMALL_SHEET if b'<c r="' in xml else 0
    if not hinted or not _PREFIXED.search(xml):
        refs = _CELL_R.findall(xml)
        if len(refs) == len(_CELL_TAG.findall(xml)):
            # Every cell says where it is, as Excel, LibreOffice and xlsxwriter write them (rows then do not
            # matter): a quick look.
            max_row = max(map(int, {r for _, r in refs}), default=0)
            max_col = max(map(_col_number, {c for c, _ in refs}), default=0)
            if max_row * max_col <= MAX_CELLS:
                return max_row * max_col
    return _xlsx_cells_exact(xml)


def _xlsx_cells_exact(xml: bytes) -> int:
    """The same bound, walking rows and cells one by one (cells without an address follow the last one)."""
    max_row = max_col = 0
    row = col = 0
    for m in _TOKEN.finditer(xml):
        tag, attrs, empty = m.groups()
        r = _R_ATTR.search(_CHAR_REF.sub(_char, attrs))
        if tag == b"row":
            row = int(r.group(2)) if r and r.group(2) else row + 1
            col = 0
            continue
        if r and r.group(2):
            col, row_here = _col_number(r.group(1)), int(r.group(2))
            row = row_here or row
        else:
            col += 1
        if not empty:  # an empty self-closed cell holds nothing to lay out
            max_row, max_col = max(max_row, row), max(max_col, col)
    return max_row * max_col


# .ods: rows and cells carry repeat counts, and the reader expands every repeated cell that holds a value.

_ODS_TOKEN = re.compile(rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)(?=[\s>/])" + _ATTRS)
_ODS_VALUE = re.compile(rb"\s(?:office:(?:value|string-value|date-value|time-value|boolean-value|value-type)"
                        rb"|table:formula)\s*=")
_ROWS_REPEATED = re.compile(rb"""\stable:number-rows-repeated\s*=\s*["']([^"']*)["']""")
_COLS_REPEATED = re.compile(rb"""\stable:number-columns-repeated\s*=\s*["']([^"']*)["']""")


def _repeats(pattern: re.Pattern, attrs: bytes) -> int:
    m = pattern.search(attrs)
    if not m:
        return 1
    text = _CHAR_REF.sub(_char, m.group(1))
    try:
        return max(1, int(text))
    except ValueError:
        return 1  # the reader refuses it too


def _ods_cells(xml: bytes) -> int:
    """Per table, rows down to the last row holding a value times the widest such row (repeats expanded)."""
    total = 0
    seen = last = width = 0  # rows so far in this table, the end of the last row with a value, the widest
    repeat = col = filled = 0
    in_row = False
    for m in _ODS_TOKEN.finditer(xml):
        closing, tag, attrs, empty = m.groups()
        if tag == b"table-row" and not closing:
            repeat, col, filled, in_row = _repeats(_ROWS_REPEATED, attrs), 0, 0, True
            if not empty:
                continue
        elif tag != b"table" and tag != b"table-row":  # a cell
            if not closing:
                col += _repeats(_COLS_REPEATED, attrs) if b"repeated" in attrs else 1
                if not empty or _ODS_VALUE.search(attrs):
                    filled = col
            continue
        # The end of a row, or a table's start or end.
        if in_row:
            if filled:
                last, width = seen + repeat, max(width, filled)
            seen += repeat
            in_row = False
        if tag == b"table":
            total += last * width
            seen = last = width = 0
        if total + last * width > MAX_CELLS:
            break
    return total + last * width


# ---------------------------------------------------------------------------------------------------
# OLE2: an encrypted workbook, or an old .xls


def _ole2(data: bytes) -> Sniffed:
    # Encrypted OOXML lives in an OLE2 container with an EncryptedPackage stream; old .xls files have
    # a Workbook (or Book) stream.
    if "EncryptedPackage".encode("utf-16-le") in data:  # the stream's name, as the directory stores it
        raise _unreadable(Code.FILE_002, "a password-protected workbook", "a workbook that opens without a password")
    names, streams = _ole_streams(data)
    if "encryptedpackage" in names:
        raise _unreadable(Code.FILE_002, "a password-protected workbook", "a workbook that opens without a password")
    if not streams:
        raise _unreadable(Code.FILE_001, "an old Office file that is not a workbook", "an .xlsx or .ods workbook")
    formulas = BiffFormulas() if streams[0][4:6] == b"\x00\x06" else None  # BIFF8 (Excel 97 on), read first
    cells = max(_biff_cells(s, formulas if i == 0 else None) for i, s in enumerate(streams))
    if cells > MAX_CELLS:
        raise _too_many_cells(cells)
    return Sniffed("xls", len(data), xls_formulas=formulas)


def _u32s(raw: bytes) -> array:
    a = array("I")
    a.frombytes(raw[: len(raw) // 4 * 4])
    if a.itemsize != 4:  # pragma: no cover - every platform Python runs on here has 4-byte unsigned ints
        raise _damaged("an old Office file we cannot read on this computer")
    if struct.pack("=I", 1) != struct.pack("<I", 1):  # pragma: no cover - big-endian machines
        a.byteswap()
    return a


def _ole_streams(data: bytes) -> tuple[set[str], list[bytes]]:
    """The names in a compound file and its Workbook (or Book) streams, read by the format's own tables: each
    chain is followed at most once round the file, so a chain that loops cannot keep the reader busy."""
    bad = _damaged("a damaged old Office (.xls) file")
    if len(data) < 512:
        raise bad
    shift, mini_shift = struct.unpack_from("<HH", data, 0x1E)
    if shift not in (9, 12) or mini_shift != 6:
        raise bad
    ssz = 1 << shift
    n_fat, dir_start = struct.unpack_from("<II", data, 0x2C)
    mini_cutoff, minifat_start, _n_minifat, dif_start, n_dif = struct.unpack_from("<IIIII", data, 0x38)
    n_sectors = max(0, (len(data) - ssz) // ssz)

    def sector(i: int) -> bytes:
        if i >= n_sectors:
            raise bad
        return data[(i + 1) * ssz:(i + 2) * ssz]

    difat = list(_u32s(data[0x4C:0x200]))
    s, steps = dif_start, 0
    while s < n_sectors and steps < n_dif and steps <= n_sectors:
        words = _u32s(sector(s))
        difat.extend(words[:-1])
        s, steps = words[-1], steps + 1
    fat = _u32s(b"".join(sector(x) for x in difat[:n_fat] if x < n_sectors))

    def chain(start: int, table: array, limit: int) -> list[int]:
        out: list[int] = []
        s = start
        while s < len(table) and len(out) <= limit:  # end-of-chain and free markers are past any table
            out.append(s)
            s = table[s]
        if len(out) > limit:
            raise bad  # a chain that loops
        return out

    directory = b"".join(sector(x) for x in chain(dir_start, fat, n_sectors))
    entries = []
    for off in range(0, len(directory) - 127, 128):
        e = directory[off:off + 128]
        name_len = min(64, struct.unpack_from("<H", e, 64)[0])
        name = e[:max(0, name_len - 2)].decode("utf-16-le", "replace")
        kind, start, size = e[66], struct.unpack_from("<I", e, 116)[0], struct.unpack_from("<Q", e, 120)[0]
        entries.append((name, kind, start, size))
    if not entries:
        raise bad
    root = entries[0]
    ministream = b"".join(sector(x) for x in chain(root[2], fat, n_sectors))[:root[3]] if root[1] == 5 else b""
    minifat = _u32s(b"".join(sector(x) for x in chain(minifat_start, fat, n_sectors)))
    n_mini = len(ministream) // 64
    streams = []
    wanted = [e for e in entries if e[1] == 2 and e[0].casefold() in ("workbook", "book")]
    if len(wanted) > 4:  # a reader reads one; many copies would only make the look take long
        raise bad
    for _name, _kind, start, size in wanted:
        if size < mini_cutoff:
            parts = [ministream[x * 64:(x + 1) * 64] for x in chain(start, minifat, n_mini) if x < n_mini]
        else:
            parts = [sector(x) for x in chain(start, fat, n_sectors)]
        streams.append(b"".join(parts)[:size])
    return {e[0].casefold() for e in entries}, streams


_BIFF_CELLS = {0x0203, 0x0204, 0x0205, 0x027E, 0x00FD, 0x0006, 0x00D6, 0x0201}  # number, label, bool, rk, sst, ...
_BIFF_MULTI = {0x00BD, 0x00BE}  # MulRk, MulBlank: a run of cells in one row


def _biff_cells(stream: bytes, keep: BiffFormulas | None = None) -> int:
    """Cells the reader lays out for a BIFF workbook stream: every sheet from A1 to its furthest cell, or as
    far as its DIMENSIONS record claims (the reader reserves that much). Records the reader would trip on
    (a sheet starting past the end, text numbered past the list of text) are refused here. With `keep`, the
    formula records met on the way are kept there, for the reader (calamine gives only their results)."""
    bad = _damaged("a damaged old Office (.xls) file")
    sheets: list[int] = []
    books = 0
    strings = string_bytes = 0
    in_sst = False
    p = 0
    while p + 4 <= len(stream):
        typ, n = struct.unpack_from("<HH", stream, p)
        body = stream[p + 4:p + 4 + n]
        p += 4 + n
        if typ == 0x002F:  # FilePass: the workbook is encrypted
            raise _unreadable(Code.FILE_002, "a password-protected workbook",
                              "a workbook that opens without a password")
        if typ == 0x0085 and len(body) >= 4:  # BoundSheet8: where a sheet's records start
            sheets.append(struct.unpack_from("<I", body, 0)[0])
            if keep is not None:
                keep.sheets.append(_biff_sheet_name(body))
        elif typ == 0x01AE and keep is not None:  # SupBook: a workbook that references point into
            if body[2:4] == b"\x01\x04":  # this workbook itself
                keep.own_books.add(books)
            books += 1
        elif typ == 0x0017 and keep is not None and len(body) >= 2:  # ExternSheet: what 3-D references name
            n = min(struct.unpack_from("<H", body, 0)[0], (len(body) - 2) // 6)
            keep.externs.extend(struct.unpack_from("<HHH", body, 2 + 6 * i) for i in range(n))
        elif typ == 0x00FC and len(body) >= 8:  # SST: the reader reserves room for the count it declares
            strings, string_bytes, in_sst = struct.unpack_from("<I", body, 4)[0], len(body) - 8, True
            continue
        elif typ == 0x003C and in_sst:  # Continue
            string_bytes += len(body)
            continue
        elif typ == 0x000A:
            break
        in_sst = False
    if strings > string_bytes // 3:  # every string takes at least 3 bytes
        raise bad
    if len(sheets) > MAX_SHEETS:
        raise _too_big(f"{len(sheets):,} sheets", f"at most {MAX_SHEETS}")
    total = walked = 0
    seen: dict[int, int] = {}
    for i, pos in enumerate(sheets):
        if pos > len(stream):
            raise bad
        found = None  # where this sheet's formula records are kept, if they are
        if keep is not None:
            name = keep.sheets[i]
            found = keep.cells.setdefault(name, {}), keep.shared.setdefault(name, {})
        if pos not in seen:
            seen[pos], n_bytes = _biff_sheet_cells(stream, pos, strings, found)
            walked += n_bytes
            if walked > 4 * len(stream) + 4096:  # sheets laid over one another, to make the walk long
                raise bad
        total += seen[pos]
        if total > MAX_CELLS:
            break
    return total


def _biff_sheet_name(body: bytes) -> str:
    """A BoundSheet8 record's sheet name (a ShortXLUnicodeString after the offset, state and type)."""
    n, flags = (body[6], body[7]) if len(body) >= 8 else (0, 0)
    raw = body[8:8 + (2 * n if flags & 1 else n)]
    return raw.decode("utf-16-le", "replace") if flags & 1 else raw.decode("latin-1")


def _biff_sheet_cells(stream: bytes, pos: int, strings: int,
                      keep: tuple[dict, dict] | None = None) -> tuple[int, int]:
    max_row = max_col = reserved = 0
    p = pos
    while p + 4 <= len(stream):
        typ, n = struct.unpack_from("<HH", stream, p)
        body = stream[p + 4:p + 4 + n]
        p += 4 + n
        if typ == 0x000A:
            break
        if typ in _BIFF_CELLS and len(body) >= 4:
            row, col = struct.unpack_from("<HH", body, 0)
            if typ == 0x0006 and keep is not None and len(body) >= 22:  # Formula: from its tokens' length on
                keep[0][row, col] = body[20:]
            if typ == 0x00FD and (len(body) < 10 or struct.unpack_from("<I", body, 6)[0] >= strings):
                raise _damaged("a damaged old Office (.xls) file (a cell points past its list of text)")
        elif typ in _BIFF_MULTI and len(body) >= 6:
            row = struct.unpack_from("<H", body, 0)[0]
            col = max(struct.unpack_from("<H", body, 2)[0], struct.unpack_from("<H", body, len(body) - 2)[0])
        elif typ == 0x04BC and keep is not None and len(body) >= 10:  # ShrFmla: by its range's first cell
            keep[1][struct.unpack_from("<H", body, 0)[0], body[4]] = body[8:]
            continue
        elif typ == 0x0200 and len(body) in (10, 14):  # Dimensions
            if len(body) == 14:
                rf, rl, cf, cl = struct.unpack_from("<IIHH", body, 0)
            else:
                rf, rl, cf, cl = struct.unpack_from("<HHHH", body, 0)
            reserved = max(reserved, max(0, rl - rf + 1) * max(0, cl - cf + 1))
            continue
        else:
            continue
        max_row, max_col = max(max_row, row + 1), max(max_col, col + 1)
    return max(max_row * max_col, reserved), p - pos

# ---------------------------------------------------------------------------------------------------
# For opening containers (emails, archives): the same looks, by content, on bytes already in memory


def ole2_names(data: bytes) -> set[str]:
    """The names (casefolded) of every stream and storage in an OLE2 compound file, read by the format's own
    tables as `sniff` reads them; raise ReturnUnreadable when the file is damaged."""
    return _ole_streams(data)[0]


def zip_member_count(data: bytes) -> int:
    """How many members a zip's end record declares, before anything is parsed (0 when it cannot be found)."""
    return _declared_members(data)


def zip_workbook_kind(zf: zipfile.ZipFile) -> str:
    """"xlsx", "xlsm" or "ods" when an opened zip holds a workbook, judged by its parts' names; else raise
    ReturnUnreadable saying what it is (a Word document, a zip archive holding a workbook, ...)."""
    return _zip_kind(zf, set(zf.namelist()))
