"""Look at a file before any parser does: what it really is (by content, not name) and whether it is safe.

Returns come by email from outside the programme team: a zip bomb, a PDF renamed .xlsx, an
encrypted workbook or an empty file must each get a clear message, not a parser's traceback.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .errors import Code, ReturnUnreadable, issue

MAX_FILE_BYTES = 25 * 1024 * 1024
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
MAX_RATIO = 100  # real returns compress 6-10:1; a zip bomb about 1000:1
MAX_MEMBERS = 2000

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: str  # xlsx, xlsm, ods, xls
    size: int
    macros: bool = False


def sniff(path: Path) -> tuple[Sniffed, bytes]:
    """Read the file once (read-only) and classify it; raise ReturnUnreadable with the reason."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ReturnUnreadable(issue(Code.FILE_003, found=f"a file of {size / 1048576:.1f} MB",
                                         expected=f"a workbook under {MAX_FILE_BYTES // 1048576} MB"))
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ReturnUnreadable(issue(Code.FILE_001, found=f"a file we could not open ({exc.strerror})",
                                     expected="a readable file")) from None
    if not data:
        raise ReturnUnreadable(issue(Code.FILE_005, found="an empty file (0 bytes)", expected="a workbook"))
    if data.startswith(OLE2_MAGIC):
        return _ole2(data), data
    if data.startswith(ZIP_MAGIC):
        return _zip(data), data
    head = data[:5]
    what = "a PDF document" if head.startswith(b"%PDF") else "a file that is not a spreadsheet"
    raise ReturnUnreadable(issue(Code.FILE_001, found=what, expected="an .xlsx or .ods workbook"))


def _ole2(data: bytes) -> Sniffed:
    # Encrypted OOXML lives in an OLE2 container with an EncryptedPackage stream; old .xls files have
    # a Workbook (or Book) stream. The stream names are stored in UTF-16 in the directory sectors.
    if "EncryptedPackage".encode("utf-16-le") in data:
        raise ReturnUnreadable(issue(Code.FILE_002, found="a password-protected workbook",
                                     expected="a workbook that opens without a password"))
    return Sniffed("xls", len(data))


def _zip(data: bytes) -> Sniffed:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ReturnUnreadable(issue(Code.FILE_001, found="a damaged or truncated zip file",
                                     expected="a complete .xlsx or .ods workbook")) from None
    if len(infos) > MAX_MEMBERS:
        raise ReturnUnreadable(issue(Code.FILE_003, found=f"{len(infos)} parts inside the file",
                                     expected=f"at most {MAX_MEMBERS}"))
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > MAX_UNZIPPED_BYTES or total / packed > MAX_RATIO:
        raise ReturnUnreadable(issue(Code.FILE_003,
                                     found=f"{total / 1048576:.0f} MB when unpacked ({total / packed:.0f}:1)",
                                     expected=f"at most {MAX_UNZIPPED_BYTES // 1048576} MB and {MAX_RATIO}:1"))
    names = {i.filename for i in infos}
    if "xl/workbook.xml" in names:
        macros = "xl/vbaProject.bin" in names or any(n.startswith("xl/macrosheets/") for n in names)
        return Sniffed("xlsm" if macros else "xlsx", len(data), macros)
    if "content.xml" in names:
        try:
            mimetype = zf.read("mimetype")[:100] if "mimetype" in names else b""
        except Exception:
            mimetype = b""
        if b"spreadsheet" in mimetype or not mimetype:
            return Sniffed("ods", len(data))
    what = "a Word document" if "word/document.xml" in names else "a zip file that is not a workbook"
    raise ReturnUnreadable(issue(Code.FILE_001, found=what, expected="an .xlsx or .ods workbook"))
