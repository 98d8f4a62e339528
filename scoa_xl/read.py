""".xlsx/.ods/.xls → RawReturn: every value with the cell it came from.

Cells are found by the workbook's defined names where the saving application kept them, and
otherwise by the factor and model ids written in the rows (Google Sheets' and some web apps'
exports drop names). Values are read with python-calamine: fast, and it refuses XML entity
tricks. Nothing here judges the values; validate.py does.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Container
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook

from . import layout as L
from .errors import Code, ReturnUnreadable, issue
from .model import Cell, FieldKind, Raw, Spec
from .preflight import Sniffed, sniff
from .sheetxml import Formulas, Texts, formula_text, ods_cells, xlsx_formula_refs, xlsx_formulas, xlsx_sheet_parts

READ_BY_NAMES = "defined names"
READ_BY_IDS = "factor ids in the rows"

_REF = re.compile(r"^=?\$?'?(?P<sheet>(?:[^'!]|'')+?)'?[!.]\$?(?P<col>[A-Z]{1,3})\$?(?P<row>\d+)$")
_ODS_NS = {"table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
           "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0"}
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@dataclass(slots=True)
class RawReturn:
    """What a workbook holds, before judging it."""

    path: Path
    file_format: str
    read_by: str
    spec: Spec
    meta: dict[str, str]
    values: dict[str, Raw] = field(default_factory=dict)  # field name -> value and cell
    carried: dict[str, Raw] = field(default_factory=dict)  # factor id -> carried-forward mark
    missing_sheets: list[str] = field(default_factory=list)
    missing_factors: dict[str, Cell] = field(default_factory=dict)  # factor id -> where its row should be
    missing_models: dict[str, Cell] = field(default_factory=dict)
    # The form's own words as found in the return: factor id -> its statement cell, model id -> its name cell.
    statements: dict[str, Raw] = field(default_factory=dict)
    model_names: dict[str, Raw] = field(default_factory=dict)
    macros: bool = False
    sniffed: Sniffed | None = None


@lru_cache(maxsize=1 << 16)  # the same few hundred cells in every return of a batch
def cell_ref(row: int, col: int) -> str:
    return L.a1(row, col)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@lru_cache(maxsize=1 << 14)  # every return from one form names the same cells
def parse_ref(ref: str) -> tuple[str, int, int] | None:
    """`'System design'!$C$5` or ODS `$'System design'.$C$5` → (sheet, row, col), 0-based."""
    m = _REF.match(ref.strip())
    if not m:
        return None
    sheet = m.group("sheet").replace("''", "'")
    return sheet, int(m.group("row")) - 1, _col_index(m.group("col"))


_PROLOG = re.compile(rb"\A(?:\xef\xbb\xbf)?<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")


def _parse_xml(raw: bytes) -> ET.Element:
    """Parse a small workbook part. Plain UTF-8 XML with no DTD (what every spreadsheet application writes) goes
    to the standard C parser, about three times faster; anything else to defusedxml, which refuses entity tricks.
    (The pre-flight check has already refused entity declarations; this does not rely on it.)"""
    declared = _PROLOG.match(raw)
    plain = raw[:1] == b"<" or raw[:4] == b"\xef\xbb\xbf<"
    if declared is not None:
        plain = plain and declared.group(1).lower() in (b"utf-8", b"utf8", b"us-ascii", b"ascii")
    if plain and b"<!DOCTYPE" not in raw and b"<!ENTITY" not in raw:
        return ET.fromstring(raw)
    return SafeET.fromstring(raw)


_DEFAULT_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NAMES_OPEN, _NAMES_CLOSE = b"<definedNames>", b"</definedNames>"
_NAME_TAG = re.compile(rb"<definedName[\s/>]")
_REMEMBER_NAMES = 256 * 1024


def _remembered_names(raw: bytes) -> dict[str, tuple[str, int, int]] | None:
    """The names of an ordinary xl/workbook.xml, parsed once per distinct <definedNames> block: that block is what
    returns from one form share byte for byte (the rest of the part also holds window sizes), and parsing a form's
    470 names was a fifth of the time to check a return. None for anything out of the ordinary (a DTD, comment or
    CDATA, character references, prefixed tags, another encoding): the caller then parses the whole part as before.
    Treat the result as read-only."""
    declared = _PROLOG.match(raw)
    if declared is not None and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        return None
    if b"<!" in raw or b"&#" in raw or b":definedName" in raw or _DEFAULT_NS not in raw[:4096]:
        return None
    if not raw.rstrip().endswith(b"</workbook>"):  # cut short or odd: the parser judges the whole part
        return None
    start = raw.find(_NAMES_OPEN)
    end = raw.find(_NAMES_CLOSE, start)
    if start < 0 or end < 0 or end - start > _REMEMBER_NAMES or raw.find(_NAMES_OPEN, start + 1) >= 0:
        return None
    if _NAME_TAG.search(raw, 0, start) or _NAME_TAG.search(raw, end):
        return None
    return _names_in_block(raw[start:end + len(_NAMES_CLOSE)])


@lru_cache(maxsize=8)
def _names_in_block(block: bytes) -> dict[str, tuple[str, int, int]] | None:
    try:
        root = ET.fromstring(block)  # checked above: plain UTF-8, no DTD; an unbound prefix fails and falls back
    except ET.ParseError:
        return None
    out: dict[str, tuple[str, int, int]] = {}
    for dn in root.iter("definedName"):
        if dn.get("localSheetId") is None and dn.text:
            target = parse_ref(dn.text)
            if target:
                out[dn.get("name", "").casefold()] = target
    return out


def defined_names(data: bytes, fmt: str, parts: dict[str, bytes] | None = None) -> dict[str, tuple[str, int, int]]:
    """Workbook-level defined names that point at a single cell. `parts` are those pre-flight kept unpacked (the
    workbook's index, or an .ods's content.xml, among them): the zip is opened only for a part not kept there."""
    part = "content.xml" if fmt == "ods" else "xl/workbook.xml" if fmt in ("xlsx", "xlsm") else None
    if part is None:
        return {}
    out: dict[str, tuple[str, int, int]] = {}
    try:
        raw = (parts or {}).get(part)
        if raw is None:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if fmt != "ods" and zf.getinfo(part).file_size > _MAX_NAMES_XML:
                    return {}
                raw = zf.read(part)
        if fmt == "ods":
            root = SafeET.fromstring(_ods_names_only(raw))
            for nr in root.iter(f"{{{_ODS_NS['table']}}}named-range"):
                target = parse_ref(nr.get(f"{{{_ODS_NS['table']}}}cell-range-address", ""))
                if target:
                    out[nr.get(f"{{{_ODS_NS['table']}}}name", "").casefold()] = target
            return out
        if len(raw) > _MAX_NAMES_XML:
            return {}  # no real workbook's index is this big: read by the ids in the rows instead
        known = _remembered_names(raw)
        if known is not None:
            return dict(known)
        for dn in _parse_xml(raw).iter(f"{_MAIN_NS}definedName"):
            if dn.get("localSheetId") is None and dn.text:
                target = parse_ref(dn.text)
                if target:
                    out[dn.get("name", "").casefold()] = target
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError, ValueError):
        return {}
    except Exception:  # defusedxml refuses entity tricks: treat as "no names", calamine decides the rest
        return {}
    return out


_MAX_NAMES_XML = 16 * 1024 * 1024  # a generated workbook's xl/workbook.xml is about 40 KB
_ODS_ROOT = b"<office:document-content"
_ODS_NAMES, _ODS_NAMES_END = b"<table:named-expressions", b"</table:named-expressions>"


def _ods_names_only(content: bytes) -> bytes:
    """content.xml cut down to its named ranges, under its own root tag: content.xml also holds every cell,
    and parsing all of that into a tree would cost far more time and memory than the names need."""
    start = content.find(_ODS_ROOT)
    end = content.find(b">", start)
    if start < 0 or end < 0:
        return b""
    blocks, at = [], 0
    while (i := content.find(_ODS_NAMES, at)) >= 0:
        k = content.find(b">", i)
        if k < 0:
            break
        if content[k - 1:k] == b"/":  # <table:named-expressions/>: none here
            at = k
            continue
        j = content.find(_ODS_NAMES_END, k)
        if j < 0:
            break
        blocks.append(content[i:j + len(_ODS_NAMES_END)])
        at = j
    return content[start:end + 1] + b"".join(blocks) + b"</office:document-content>"


def custom_properties(data: bytes) -> dict[str, str]:
    """The workbook's custom document properties (OOXML), where they survived."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if zf.getinfo("docProps/custom.xml").file_size > _MAX_NAMES_XML:
                return {}
            root = _parse_xml(zf.read("docProps/custom.xml"))
    except Exception:
        return {}
    out = {}
    for prop in root:
        name = prop.get("name")
        if name and len(prop):
            out[name] = (prop[0].text or "").strip()
    return out


def reader_failed(exc: BaseException) -> bool:
    """Whether an exception is the reader failing on a file: its errors, or a panic of its Rust code, which
    arrives as a BaseException (PanicException) that `except Exception` would let through."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


class Grid:
    """All sheets of a workbook as lists of rows, and (from the file's XML, on demand) their formulas."""

    def __init__(self, wb: CalamineWorkbook, sniffed: Sniffed | None = None):
        self._wb = wb
        self._kind = sniffed.kind if sniffed else ""
        self._xml = sniffed.parts if sniffed else {}  # unpacked by the pre-flight look
        self._biff = sniffed.xls_formulas if sniffed else None  # an .xls's formula records, kept by that look
        self._formulas: dict[str, Formulas] = {}
        self._formula_refs: dict[str, Container[bytes] | None] = {}
        self._ods: dict[str, tuple[Formulas, Texts]] | None = None
        self._parts: dict[str, str] | None = None
        self.names = list(wb.sheet_names)
        self._by_fold = {n.casefold(): n for n in self.names}
        self._rows: dict[str, list[list]] = {}
        self._asked: dict[str, list[list]] = {}  # by the name as asked for

    def has(self, sheet: str) -> bool:
        return sheet.casefold() in self._by_fold

    def rows(self, sheet: str) -> list[list]:
        known = self._asked.get(sheet)  # asked for hundreds of times per return: skip the casefold
        if known is not None:
            return known
        real = self._by_fold.get(sheet.casefold())
        if real is None:
            return []
        if real not in self._rows:
            try:
                self._rows[real] = self._wb.get_sheet_by_name(real).to_python(skip_empty_area=False)
            except BaseException as exc:
                if not reader_failed(exc):
                    raise
                raise ReturnUnreadable(issue(Code.FILE_001, sheet=real, found=f'a damaged sheet "{real}"',
                                             expected="an .xlsx or .ods workbook")) from None
        self._asked[sheet] = self._rows[real]
        return self._rows[real]

    def value(self, sheet: str, row: int, col: int) -> object:
        rows = self.rows(sheet)
        if 0 <= row < len(rows) and 0 <= col < len(rows[row]):
            v = rows[row][col]
            return None if v == "" else v
        return None

    def real_name(self, sheet: str) -> str:
        return self._by_fold.get(sheet.casefold(), sheet)

    def sheets_read(self) -> list[str]:
        """The sheets read so far (by their names in the workbook), in the order they were first read."""
        return list(self._rows)

    def formula_cells(self, sheet: str) -> Container[bytes] | None:
        """The addresses (b"C5") of a sheet's cells that hold a formula, where a quick look can tell them without
        reading the formulas; None where it cannot (ask `formula` for each cell then)."""
        real = self.real_name(sheet)
        if real not in self._formula_refs:
            refs = None
            if self._kind in ("xlsx", "xlsm") and real not in self._formulas:
                part = self._sheet_part(real)
                refs = xlsx_formula_refs(self._xml[part]) if part is not None else frozenset()
            self._formula_refs[real] = refs
        return self._formula_refs[real]

    def formula(self, sheet: str, row: int, col: int) -> str | None:
        """The formula a cell holds, as typed ("=2+2"); None for a cell without one. For an .xls, "" where its
        tokens are not ones `biff` reads; only the cells asked about are decoded (a form has hundreds of its own)."""
        if self._biff is not None:
            return self._biff.text(self.real_name(sheet), (row, col))
        found = self._sheet_formulas(sheet).get((row, col))
        return None if found is None else formula_text(found)

    def _sheet_part(self, real: str) -> str | None:
        if self._parts is None:
            self._parts = xlsx_sheet_parts(self._xml)
        part = self._parts.get(real)
        return part if part is not None and part in self._xml else None

    def _sheet_formulas(self, sheet: str) -> Formulas:
        """The cells of an .xlsx or .ods sheet that hold a formula, (row, col) -> the formula's text."""
        real = self.real_name(sheet)
        if real in self._formulas:
            return self._formulas[real]
        found: Formulas = {}
        if self._kind == "ods":
            found = self._ods_sheets().get(real, ({}, {}))[0]
        elif self._kind in ("xlsx", "xlsm"):
            part = self._sheet_part(real)
            if part is not None:
                found = xlsx_formulas(self._xml[part])
        self._formulas[real] = found
        return found

    def typed_texts(self, sheet: str) -> Texts:
        """.ods only: text cells whose tabs and line breaks calamine would drop, (row, col) -> the text."""
        if self._kind != "ods":
            return {}
        return self._ods_sheets().get(self.real_name(sheet), ({}, {}))[1]

    def _ods_sheets(self) -> dict[str, tuple[Formulas, Texts]]:
        if self._ods is None:
            content = self._xml.get("content.xml")
            self._ods = ods_cells(content) if content else {}
        return self._ods


def _meta_from_lists(grid: Grid) -> dict[str, str]:
    meta: dict[str, str] = {}
    for row in grid.rows(L.LISTS):
        if len(row) > L.META_KEY_COL + 1 and row[L.META_KEY_COL] in L.META_KEYS:
            meta[row[L.META_KEY_COL]] = str(row[L.META_KEY_COL + 1]).strip()
    return meta


_COVER_STAMP = re.compile(r"form (?P<id>[a-z][a-z0-9_]*) version (?P<version>\S+)", re.I)


def read_meta(grid: Grid, data: bytes, fmt: str, names: dict) -> dict[str, str]:
    """Spec id, version, fingerprint and workbook id: from the hidden sheet, else properties, else the cover."""
    meta = _meta_from_lists(grid)
    if not meta.get("spec_version") and fmt in ("xlsx", "xlsm"):
        props = custom_properties(data)
        for key in ("spec_id", "spec_version", "spec_fingerprint", "workbook_id"):
            if props.get(f"scoa_{key}"):
                meta[key] = props[f"scoa_{key}"]
    if not meta.get("spec_version"):
        stamp = grid.value(L.COVER, 1, 0)
        m = _COVER_STAMP.search(str(stamp or ""))
        if m:
            meta.setdefault("spec_id", m.group("id"))
            meta["spec_version"] = m.group("version")
    return {k: v for k, v in meta.items() if v}


def open_workbook(path: Path) -> tuple[Sniffed, bytes, CalamineWorkbook]:
    """Pre-flight the file, then open it for reading; raise ReturnUnreadable with the reason."""
    sniffed, data = sniff(path)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except BaseException as exc:  # calamine's errors are not a stable hierarchy across versions
        if not reader_failed(exc):
            raise
        text = type(exc).__name__ + ": " + str(exc)
        if "password" in text.lower() or "encrypt" in text.lower():
            raise ReturnUnreadable(issue(Code.FILE_002, found="a password-protected file",
                                         expected="a workbook that opens without a password")) from None
        raise ReturnUnreadable(issue(Code.FILE_001, found=f"a damaged {sniffed.kind} file ({exc})"[:200],
                                     expected="an .xlsx or .ods workbook")) from None
    return sniffed, data, wb


def peek_meta(path: Path | str) -> tuple[dict[str, str], Sniffed, bytes, Grid, dict]:
    """The form stamp of a return, plus what was opened to find it (so the file is read once)."""
    sniffed, data, wb = open_workbook(Path(path))
    grid = Grid(wb, sniffed)
    names = defined_names(data, sniffed.kind, sniffed.parts)
    return read_meta(grid, data, sniffed.kind, names), sniffed, data, grid, names


def _find_rows(grid: Grid, sheet: str, col: int, ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for r, row in enumerate(grid.rows(sheet)):
        if col < len(row):
            v = row[col]
            if isinstance(v, str) and v.strip() in ids and v.strip() not in found:
                found[v.strip()] = r
    return found


@dataclass(frozen=True, slots=True)
class _Target:
    """Where one input field was found: its cell, and (for a rating or priority) the form's words beside it."""

    field: L.Field
    sheet: str  # as the spec names it (the grid's key)
    row: int
    col: int
    cell: Cell  # as the workbook names the sheet
    ref: bytes  # the cell's address, as the sheet's XML writes it
    wording: tuple[int, Cell] | None  # the column of the statement or model name in the same row, and its cell


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where every field of a spec sits in one arrangement of a workbook: the same for every return whose defined
    names, sheet names and row keys (column A of every sheet looked at) are the same, as returns of one form are."""

    read_by: str
    missing_sheets: tuple[str, ...]
    targets: tuple[_Target, ...]
    absent: tuple[L.Field, ...]  # fields found neither by name nor by row
    carried: tuple[tuple[str, str, int, Cell], ...]  # factor id, sheet, row, the carried-forward mark's cell
    keys: tuple[tuple[str, tuple], ...]  # (sheet, its row keys) that the plan was made from


_PLANS: dict[tuple, list[_Plan]] = {}
_PLANS_LIMIT = 64
_PLANS_PER_KEY = 8  # a batch of returns saved by many tools: a few arrangements each, not one per file


def _row_keys(grid: Grid, sheet: str) -> tuple:
    """Column A of a sheet, row by row: every row _plan finds by id or label it finds there (L.COL_ID, L.M_COL_ID
    and the cover's labels are all column A), so a plan holds wherever these are the same."""
    return tuple([row[0] if row else None for row in grid.rows(sheet)])


def locate(path: Path, grid: Grid, names: dict[str, tuple[str, int, int]], meta: dict[str, str], spec: Spec,
           sniffed: Sniffed, renamed: dict[str, str] | None = None) -> RawReturn:
    """Find every field of the spec in the workbook and take its value."""
    plan = _known_plan(grid, names, spec, renamed)
    raw = RawReturn(path, sniffed.kind, plan.read_by, spec, meta, macros=sniffed.macros, sniffed=sniffed)
    raw.missing_sheets = list(plan.missing_sheets)
    values = raw.values
    for f in plan.absent:
        if f.factor and f.kind == FieldKind.RATING:
            raw.missing_factors[f.factor] = Cell(f.sheet, f.cell)
        if f.model:
            raw.missing_models[f.model] = Cell(f.sheet, f.cell)
        values[f.name] = Raw(None, None)
    ods = raw.file_format == "ods"
    sheet = ""
    rows: list[list] = []
    refs: Container[bytes] | None = None
    for t in plan.targets:  # runs for every input cell of every return: kept to lookups
        if t.sheet != sheet:
            sheet, rows, refs = t.sheet, grid.rows(t.sheet), grid.formula_cells(t.sheet)
        r, c, f = t.row, t.col, t.field
        line = rows[r] if 0 <= r < len(rows) else ()
        v = line[c] if 0 <= c < len(line) else None
        formula = grid.formula(sheet, r, c) if refs is None or t.ref in refs else None
        if ods and formula is None and f.kind == FieldKind.TEXT:
            v = grid.typed_texts(sheet).get((r, c), v)
        values[f.name] = Raw(None if v == "" else v, t.cell, formula)
        if t.wording is not None:
            wc, where = t.wording
            w = line[wc] if 0 <= wc < len(line) else None
            kept = raw.statements if f.kind == FieldKind.RATING else raw.model_names
            kept[f.factor or f.model or ""] = Raw(None if w == "" else w, where)
    for fid, sheet, r, where in plan.carried:
        raw.carried[fid] = Raw(grid.value(sheet, r, L.COL_CARRIED), where)
    return raw


def _known_plan(grid: Grid, names: dict[str, tuple[str, int, int]], spec: Spec,
                renamed: dict[str, str] | None) -> _Plan:
    """The plan for this workbook's arrangement: one made for an earlier return where every row key it was made
    from is the same here, else a new one."""
    renamed = renamed or {}
    key = (id(spec), spec.fingerprint, tuple(sorted(renamed.items())), tuple(grid.names), tuple(names.items()))
    known = _PLANS.get(key)
    for plan in known or ():
        if all(_row_keys(grid, sheet) == keys for sheet, keys in plan.keys):
            return plan
    plan = _plan(grid, names, spec, renamed)
    if len(_PLANS) >= _PLANS_LIMIT:
        _PLANS.clear()
    plans = _PLANS.setdefault(key, [])
    if len(plans) < _PLANS_PER_KEY:
        plans.append(plan)
    return plan


def _plan(grid: Grid, names: dict[str, tuple[str, int, int]], spec: Spec, renamed: dict[str, str]) -> _Plan:
    """Find every field of the spec in the workbook: by its defined name, or by the id or label in its row."""
    input_fields = _input_fields(spec)
    present = {sheet for sheet in {t[0] for t in names.values()} if grid.has(sheet)}
    usable = {n: t for n, t in names.items() if t[0] in present}
    by_names = sum(1 for _, key, *_ in input_fields if key in usable) >= len(input_fields) // 2
    needed = [L.COVER, *[a.sheet for a in spec.aspects], L.MODELS]
    missing_sheets = tuple(s for s in needed if not grid.has(s))

    # Rows by id, for fields whose names were dropped (or a return from an earlier form version).
    factor_rows: dict[str, tuple[str, int]] = {}
    for aspect in spec.aspects:
        if not grid.has(aspect.sheet):
            continue
        wanted = {f.id for f in aspect.factors} | {old for old, new in renamed.items()
                                                   if new in {f.id for f in aspect.factors}}
        for fid, r in _find_rows(grid, aspect.sheet, L.COL_ID, wanted).items():
            factor_rows[renamed.get(fid, fid)] = (aspect.sheet, r)
    if len(factor_rows) < len(spec.factors):
        # A factor moved to another sheet (or sheets renamed): look everywhere.
        missing = {f.id for f in spec.factors} - set(factor_rows)
        for sheet in grid.names:
            for fid, r in _find_rows(grid, sheet, L.COL_ID, missing | set(renamed)).items():
                fid = renamed.get(fid, fid)
                if fid in missing:
                    factor_rows[fid] = (sheet, r)
                    missing.discard(fid)
    model_rows = {mid: (L.MODELS, r) for mid, r in
                  _find_rows(grid, L.MODELS, L.M_COL_ID, {m.id for m in spec.models}).items()}
    prompt_rows: dict[tuple[str, str], tuple[str, int]] = {}
    for aspect in spec.aspects:
        labels = {p.label.casefold(): p.id for p in spec.text_prompts}
        for r, row in enumerate(grid.rows(aspect.sheet)):
            v = row[L.COL_ID] if row else None
            if isinstance(v, str) and v.strip().casefold() in labels:
                prompt_rows[(aspect.id, labels[v.strip().casefold()])] = (aspect.sheet, r)
    identity_rows: dict[str, int] = {}
    id_labels = {label.casefold(): key for key, label in L.IDENTITY_FIELDS}
    for r, row in enumerate(grid.rows(L.COVER)[:40]):
        v = row[0] if row else None
        if isinstance(v, str) and v.strip().casefold() in id_labels:
            identity_rows.setdefault(id_labels[v.strip().casefold()], r)

    tables: tuple[dict[Any, tuple[str, int]], ...] = (
        {k: (L.COVER, r) for k, r in identity_rows.items()}, prompt_rows, factor_rows, model_rows, {})
    targets: list[_Target] = []
    absent: list[L.Field] = []
    for f, key, table, position, col in input_fields:
        target = usable.get(key) if by_names else None
        hit = tables[table].get(position)
        by_id = (hit[0], hit[1], col) if hit is not None else None
        if target is None or (by_id is not None and target[:2] != by_id[:2] and not _same_row(grid, target, by_id)):
            # No name, or a name left pointing at another row (rows inserted or sorted by a tool that does
            # not move names along): the id or label written in the row is then the better guide.
            target = by_id
        if target is None:
            absent.append(f)
            continue
        sheet, r, c = target
        real = grid.real_name(sheet)
        wording = None
        if f.kind == FieldKind.RATING or f.kind == FieldKind.PRIORITY:
            # The statement (or model name) sits in the same row, as far left of the answer as the form put it.
            wc = c - (L.COL_RATING - L.COL_STATEMENT if f.kind == FieldKind.RATING else L.M_COL_PRIORITY - L.M_COL_NAME)
            wording = (wc, _cell(real, r, wc))
        targets.append(_Target(f, sheet, r, c, _cell(real, r, c), cell_ref(r, c).encode(), wording))
    carried = tuple((fid, sheet, r, Cell(grid.real_name(sheet), cell_ref(r, L.COL_CARRIED)))
                    for fid, (sheet, r) in factor_rows.items())
    return _Plan(READ_BY_NAMES if by_names else READ_BY_IDS, missing_sheets, tuple(targets), tuple(absent), carried,
                 tuple((sheet, _row_keys(grid, sheet)) for sheet in grid.sheets_read()))


# Where a field is found when its name is not: in which table of rows found by id or label (below), under what key,
# and in which column of that row.
_IDENTITY, _PROMPT, _FACTOR, _MODEL, _NOWHERE = range(5)
_Input = tuple[L.Field, str, int, object, int]
_INPUTS: dict[int, tuple[Spec, tuple[_Input, ...]]] = {}


def _input_fields(spec: Spec) -> tuple[_Input, ...]:
    """The spec's input fields in layout order, each with its name casefolded and where to find it by position;
    made once per spec (the reader asks for them for every return)."""
    hit = _INPUTS.get(id(spec))
    if hit is None or hit[0] is not spec:  # the spec is held here, so its id cannot pass to another object
        if len(_INPUTS) >= 16:
            _INPUTS.clear()
        fields = tuple((f, f.name.casefold(), *_position(f)) for f in L.layout_for(spec).fields
                       if f.kind != FieldKind.COMPUTED)
        hit = _INPUTS[id(spec)] = (spec, fields)
    return hit[1]


def _position(f: L.Field) -> tuple[int, object, int]:
    if f.kind == FieldKind.IDENTITY:
        return _IDENTITY, f.name.removeprefix("identity_"), 1
    if f.prompt:
        return _PROMPT, (f.aspect, f.prompt), L.COL_STATEMENT
    if f.factor:
        return _FACTOR, f.factor, f.col
    if f.model:
        return _MODEL, f.model, f.col
    return _NOWHERE, None, f.col


@lru_cache(maxsize=1 << 16)  # a Cell is immutable: the same few hundred serve every return of a batch
def _cell(sheet: str, row: int, col: int) -> Cell:
    return Cell(sheet, cell_ref(row, col))


def _same_row(grid: Grid, a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    """Whether two cells sit in rows with the same key (factor id, model id or label) in column A."""
    if a[:2] == b[:2]:
        return True
    key = lambda t: str(grid.value(t[0], t[1], L.COL_ID) or "").strip().casefold()  # noqa: E731
    return grid.has(a[0]) and key(a) == key(b)
