"""What the sheet XML says that the cell values do not: formulas, and .ods text as it was typed.

python-calamine gives each cell's value (a formula's cached result, or nothing when the saving tool
left none) but not the formula behind it, and in .ods text it drops tabs and line breaks inside a
paragraph. A formula typed into an answer cell must be reported, and a text answer must keep what was
typed, so the reader asks here, once per sheet, for the cells that hold a formula and (for .ods) the
text of cells whose markup calamine would flatten.

.xlsx: each worksheet part is scanned for `<f>` elements without building a tree (a form's sheet holds a
few dozen live formulas; the scan costs a fraction of a millisecond). .ods: content.xml is parsed once,
streaming, row by row. Anything unexpected (prefixed tags, cells without references) falls back to a
full parse; a part that cannot be parsed at all yields nothing here, and calamine's reading stands.
"""

from __future__ import annotations

import html
import io
import re
from functools import lru_cache
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as SafeET

# (row, col), 0-based -> the formula; read it with formula_text(). An .xlsx formula stays as the escaped bytes of
# its <f> element until a caller asks for it: a sheet holds dozens of live formulas and few are ever wanted.
Formulas = dict[tuple[int, int], "bytes | str"]
Texts = dict[tuple[int, int], str]


def formula_text(found: bytes | str) -> str:
    """A formula as a user would have typed it, with its leading "="."""
    if isinstance(found, bytes):
        text = found.decode("utf-8", "replace")
        return "=" + (html.unescape(text) if "&" in text else text)
    return found

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

# ------------------------------------------------------------------------------------------------ .xlsx

_SHEET_TAG = re.compile(rb"<sheet\b([^>]*)>")
_REL_TAG = re.compile(rb"<Relationship\b([^>]*)>")
_ATTR = re.compile(rb'([\w:]+)\s*=\s*(?:"([^"]*)"|\'([^\']*)\')')
# A cell and its formula, as every application writes them: the formula is a cell's first child (CT_Cell).
_F_OPEN = re.compile(rb"<f(?=[\s>/])([^>]*?)(/?)>")
_CELL_AT = re.compile(rb'<c r="([A-Z]{1,3})(\d+)"[^>]*(?<!/)>\s*')
_SHARED_SI = re.compile(rb'\bsi\s*=\s*["\'](\d+)["\']')


def _attrs(raw: bytes) -> dict[str, str]:
    out = {}
    for m in _ATTR.finditer(raw):
        value = (m.group(2) if m.group(2) is not None else m.group(3)).decode("utf-8", "replace")
        out[m.group(1).decode()] = html.unescape(value) if "&" in value else value
    return out


@lru_cache(maxsize=1024)
def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n - 1


def xlsx_sheet_parts(parts: dict[str, bytes]) -> dict[str, str]:
    """Sheet name -> its worksheet part (e.g. "xl/worksheets/sheet2.xml"), from the unpacked workbook parts."""
    book, rels = parts.get("xl/workbook.xml"), parts.get("xl/_rels/workbook.xml.rels")
    if book is None or rels is None:
        return {}
    return dict(_sheet_parts(book, rels))


@lru_cache(maxsize=8)  # returns from one form share these parts byte for byte
def _sheet_parts(book: bytes, rels: bytes) -> dict[str, str]:
    targets: dict[str, str] = {}
    for m in _REL_TAG.finditer(rels):
        a = _attrs(m.group(1))
        if "Id" in a and "Target" in a:
            target = a["Target"].replace("\\", "/")
            targets[a["Id"]] = target.lstrip("/") if target.startswith("/") else "xl/" + target
    out: dict[str, str] = {}
    for m in _SHEET_TAG.finditer(book):
        a = _attrs(m.group(1))
        rid = next((v for k, v in a.items() if k == "id" or k.endswith(":id")), None)
        if "name" in a and rid in targets:
            out[a["name"]] = targets[rid]
    return out


# A cell whose first child is a formula, as every application writes it; and any formula element at all.
_F_CELL = re.compile(rb'<c r="([A-Z]{1,3}\d+)"[^>]*(?<!/)>\s*<f(?=[\s>/])[^>]*>')
_F_ANY = re.compile(rb"<f(?=[\s>/])[^>]*>")


def xlsx_formula_refs(xml: bytes) -> frozenset[bytes] | None:
    """The addresses (b"C5") of a worksheet part's cells that hold a formula, found without reading any formula:
    a return's sheets hold hundreds of live formulas, and only one typed into an answer cell is wanted. None where
    a formula is written in a way this look does not follow (xlsx_formulas then reads them all)."""
    if b":sheetData" in xml and b"<sheetData" not in xml:
        return None
    refs = _F_CELL.findall(xml)
    if len(refs) != len(_F_ANY.findall(xml)):
        return None
    return frozenset(refs)


def xlsx_formulas(xml: bytes) -> Formulas:
    """Every cell of a worksheet part that holds a formula, with the formula's text."""
    if b":sheetData" in xml and b"<sheetData" not in xml:
        return _xlsx_formulas_parsed(xml)  # tags written with a prefix (<x:c>, <x:f>): parse it properly
    out: Formulas = {}
    shared: dict[bytes, tuple[bytes, int, int]] = {}  # si -> master's text and cell
    children: list[tuple[int, int, bytes]] = []
    for m in _F_OPEN.finditer(xml):
        c = xml.rfind(b"<c ", 0, m.start())
        cell = _CELL_AT.match(xml, c) if c >= 0 else None
        if cell is None or cell.end() != m.start():
            return _xlsx_formulas_parsed(xml)  # a cell written another way (no reference, odd spacing)
        letters, digits = cell.groups()
        row, col = int(digits) - 1, _col_index(letters)
        attrs = m.group(1)
        si = _SHARED_SI.search(attrs) if attrs and b"si" in attrs else None
        text = b""
        if not m.group(2):
            stop = xml.find(b"</f>", m.end())
            if stop < 0:
                return _xlsx_formulas_parsed(xml)
            text = xml[m.end():stop]
        if si is not None and text:
            shared[si.group(1)] = (text, row, col)
        if text or si is None:
            out[(row, col)] = text  # b"": an empty formula element is still a formula, not an answer
        else:
            children.append((row, col, si.group(1)))
    for row, col, key in children:
        master = shared.get(key)
        out[(row, col)] = _shared_child((formula_text(master[0]), *master[1:]) if master else None, row, col)
    return out


def _shared_child(master: tuple[str, int, int] | None, row: int, col: int) -> str:
    """A cell of a shared (filled-down) formula: the master's formula moved to this cell."""
    if master is None:
        return "="
    text, mrow, mcol = master
    text = text.removeprefix("=")
    try:
        from openpyxl.formula.translate import Translator  # only for this rare case: openpyxl is slow to import

        from .layout import a1
        return Translator("=" + text, origin=a1(mrow, mcol)).translate_formula(a1(row, col))
    except Exception:
        return "=" + text


def _xlsx_formulas_parsed(xml: bytes) -> Formulas:
    try:
        root = SafeET.fromstring(xml)
    except Exception:
        return {}
    out: Formulas = {}
    shared: dict[str, tuple[str, int, int]] = {}
    children: list[tuple[int, int, str]] = []
    row = -1
    for r in root.iter(f"{{{_MAIN}}}row"):
        row = int(r.get("r")) - 1 if (r.get("r") or "").isdigit() else row + 1
        col = -1
        for c in r.iter(f"{{{_MAIN}}}c"):
            ref = re.fullmatch(r"([A-Z]{1,3})(\d+)", c.get("r") or "")
            col = _col_index(ref.group(1).encode()) if ref else col + 1
            f = c.find(f"{{{_MAIN}}}f")
            if f is None:
                continue
            text, si = f.text or "", f.get("si")
            if si is not None and text:
                shared[si] = ("=" + text, row, col)
            if text or si is None:
                out[(row, col)] = "=" + text
            else:
                children.append((row, col, si))
    for row, col, si in children:
        out[(row, col)] = _shared_child(shared.get(si), row, col)
    return out


# ------------------------------------------------------------------------------------------------ .ods

_T = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_TX = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_O = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TABLE, _ROW, _CELL, _COVERED = f"{{{_T}}}table", f"{{{_T}}}table-row", f"{{{_T}}}table-cell", \
    f"{{{_T}}}covered-table-cell"
_P, _H, _S, _TAB, _BREAK = f"{{{_TX}}}p", f"{{{_TX}}}h", f"{{{_TX}}}s", f"{{{_TX}}}tab", f"{{{_TX}}}line-break"
_ANNOTATION = f"{{{_O}}}annotation"
_FORMULA, _VALUE_TYPE = f"{{{_T}}}formula", f"{{{_O}}}value-type"
_ROWS_REPEATED, _COLS_REPEATED = f"{{{_T}}}number-rows-repeated", f"{{{_T}}}number-columns-repeated"
_NAME, _COUNT = f"{{{_T}}}name", f"{{{_TX}}}c"
# A form's input cells sit in its first few hundred rows and dozen columns: a cell repeated past these
# (an .ods "repeats" blank cells to the sheet's edge) is recorded only where a form could have an answer.
_MAX_ROW, _MAX_COL = 2000, 64


def _repeat(elem: ET.Element, attr: str) -> int:
    try:
        return max(1, int(elem.get(attr) or 1))
    except ValueError:
        return 1


def _typed_text(cell: ET.Element) -> str:
    """A cell's text as typed: paragraphs on lines of their own, tabs, line breaks and runs of spaces kept."""
    lines = []
    for p in cell:
        if p.tag in (_P, _H):
            parts: list[str] = []
            _inline(p, parts)
            lines.append("".join(parts))
    return "\n".join(lines)


def _inline(elem: ET.Element, parts: list[str]) -> None:
    if elem.text:
        parts.append(elem.text)
    for child in elem:
        if child.tag == _S:
            parts.append(" " * min(_repeat(child, _COUNT), 32767))
        elif child.tag == _TAB:
            parts.append("\t")
        elif child.tag == _BREAK:
            parts.append("\n")
        elif child.tag != _ANNOTATION:
            _inline(child, parts)
        if child.tail:
            parts.append(child.tail)


def _needs_typed_text(cell: ET.Element) -> bool:
    # calamine keeps plain paragraphs (and runs of spaces); only tabs and line breaks inside one are lost.
    return any(e.tag in (_TAB, _BREAK) for p in cell if p.tag in (_P, _H) for e in p.iter())


def _from_of(formula: str) -> str:
    """An OpenFormula (`of:=HYPERLINK("http://x";"click")`, `[.C5]`) as a spreadsheet user would type it."""
    body = formula.split(":", 1)[1] if re.match(r"^[a-z]+:=", formula) else formula
    out, quoted = [], False
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch == ";":
                ch = ","
            elif ch == "[":
                j = body.find("]", i)
                if j > i:
                    ref = body[i + 1:j]
                    out.append(_ODS_REF.sub(_ods_ref, ref))
                    i = j + 1
                    continue
        out.append(ch)
        i += 1
    text = "".join(out)
    return text if text.startswith("=") else "=" + text


_ODS_REF = re.compile(r"(?:\$?('(?:[^']|'')+'|[^'.:\[\]]+))?\.(\$?[A-Z]{1,3}\$?\d+)")


def _ods_ref(m: re.Match) -> str:
    sheet, cell = m.group(1), m.group(2)
    return cell if not sheet else f"{sheet}!{cell}"


def ods_cells(content: bytes) -> dict[str, tuple[Formulas, Texts]]:
    """For each sheet of an .ods (its unpacked content.xml): its formula cells, and the typed text of cells
    calamine would flatten."""
    out: dict[str, tuple[Formulas, Texts]] = {}
    try:
        if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
            return {}
        sheet: tuple[Formulas, Texts] | None = None
        row = col = 0
        rows_repeated = 1
        depth = 0  # inside a cell (its own nested tables, annotations) nothing counts
        for event, elem in ET.iterparse(io.BytesIO(content), events=("start", "end")):
            tag = elem.tag
            if event == "start":
                if depth:
                    if tag in (_CELL, _COVERED):
                        depth += 1
                    continue
                if tag == _TABLE:
                    sheet = out.setdefault(elem.get(_NAME) or "", ({}, {}))
                    row = 0
                elif tag == _ROW:
                    col, rows_repeated = 0, _repeat(elem, _ROWS_REPEATED)
                elif tag in (_CELL, _COVERED):
                    depth = 1
                continue
            if tag in (_CELL, _COVERED):
                depth -= 1
                if depth:
                    continue
                cols = _repeat(elem, _COLS_REPEATED)
                if sheet is not None and row < _MAX_ROW and col < _MAX_COL and tag == _CELL:
                    formula = elem.get(_FORMULA)
                    text = _typed_text(elem) if formula is None and elem.get(_VALUE_TYPE) == "string" \
                        and _needs_typed_text(elem) else None
                    if formula is not None or text is not None:
                        for r in range(row, min(row + rows_repeated, _MAX_ROW)):
                            for c in range(col, min(col + cols, _MAX_COL)):
                                if formula is not None:
                                    sheet[0][(r, c)] = _from_of(formula)
                                else:
                                    sheet[1][(r, c)] = text  # type: ignore[assignment]
                col += cols
                elem.clear()
            elif depth:
                continue
            elif tag == _ROW:
                row += rows_repeated
                elem.clear()
            elif tag == _TABLE:
                sheet = None
                elem.clear()
    except Exception:  # a damaged content.xml: calamine's reading of it stands
        return out
    return out
