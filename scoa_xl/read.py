""".xlsx/.ods/.xls → RawReturn: every value with the cell it came from.

Cells are found by the workbook's defined names where the saving application kept them, and
otherwise by the factor and model ids written in the rows (Google Sheets' and some web apps'
exports drop names). Values are read with python-calamine: fast, and it refuses XML entity
tricks. Nothing here judges the values; validate.py does.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from defusedxml import ElementTree as SafeET
from python_calamine import CalamineWorkbook

from . import layout as L
from .errors import Code, ReturnUnreadable, issue
from .model import Cell, FieldKind, Raw, Spec
from .preflight import Sniffed, sniff

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
    macros: bool = False
    sniffed: Sniffed | None = None


def cell_ref(row: int, col: int) -> str:
    return L.a1(row, col)


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def parse_ref(ref: str) -> tuple[str, int, int] | None:
    """`'System design'!$C$5` or ODS `$'System design'.$C$5` → (sheet, row, col), 0-based."""
    m = _REF.match(ref.strip())
    if not m:
        return None
    sheet = m.group("sheet").replace("''", "'")
    return sheet, int(m.group("row")) - 1, _col_index(m.group("col"))


def defined_names(data: bytes, fmt: str) -> dict[str, tuple[str, int, int]]:
    """Workbook-level defined names that point at a single cell."""
    out: dict[str, tuple[str, int, int]] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            if fmt in ("xlsx", "xlsm"):
                root = SafeET.fromstring(zf.read("xl/workbook.xml"))
                for dn in root.iter(f"{_MAIN_NS}definedName"):
                    if dn.get("localSheetId") is None and dn.text:
                        target = parse_ref(dn.text)
                        if target:
                            out[dn.get("name", "").casefold()] = target
            elif fmt == "ods":
                root = SafeET.fromstring(zf.read("content.xml"))
                for nr in root.iter(f"{{{_ODS_NS['table']}}}named-range"):
                    target = parse_ref(nr.get(f"{{{_ODS_NS['table']}}}cell-range-address", ""))
                    if target:
                        out[nr.get(f"{{{_ODS_NS['table']}}}name", "").casefold()] = target
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError, ValueError):
        return {}
    except Exception:  # defusedxml refuses entity tricks: treat as "no names", calamine decides the rest
        return {}
    return out


def custom_properties(data: bytes) -> dict[str, str]:
    """The workbook's custom document properties (OOXML), where they survived."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = SafeET.fromstring(zf.read("docProps/custom.xml"))
    except Exception:
        return {}
    out = {}
    for prop in root:
        name = prop.get("name")
        if name and len(prop):
            out[name] = (prop[0].text or "").strip()
    return out


class Grid:
    """All sheets of a workbook as lists of rows."""

    def __init__(self, wb: CalamineWorkbook):
        self._wb = wb
        self.names = list(wb.sheet_names)
        self._by_fold = {n.casefold(): n for n in self.names}
        self._rows: dict[str, list[list]] = {}

    def has(self, sheet: str) -> bool:
        return sheet.casefold() in self._by_fold

    def rows(self, sheet: str) -> list[list]:
        real = self._by_fold.get(sheet.casefold())
        if real is None:
            return []
        if real not in self._rows:
            self._rows[real] = self._wb.get_sheet_by_name(real).to_python(skip_empty_area=False)
        return self._rows[real]

    def value(self, sheet: str, row: int, col: int) -> object:
        rows = self.rows(sheet)
        if 0 <= row < len(rows) and 0 <= col < len(rows[row]):
            v = rows[row][col]
            return None if v == "" else v
        return None

    def real_name(self, sheet: str) -> str:
        return self._by_fold.get(sheet.casefold(), sheet)


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
    # LibreOffice writes an integer-looking property back as a decimal: "1" -> "1.0" is not a new version.
    return {k: v for k, v in meta.items() if v}


def open_workbook(path: Path) -> tuple[Sniffed, bytes, CalamineWorkbook]:
    """Pre-flight the file, then open it for reading; raise ReturnUnreadable with the reason."""
    sniffed, data = sniff(path)
    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exc:  # calamine's errors are not a stable hierarchy across versions
        text = type(exc).__name__ + ": " + str(exc)
        if "password" in text.lower() or "encrypt" in text.lower():
            raise ReturnUnreadable(issue(Code.FILE_002, found="a password-protected file",
                                         expected="a workbook that opens without a password")) from None
        raise ReturnUnreadable(issue(Code.FILE_001, found=f"a damaged {sniffed.kind} file ({exc})"[:200],
                                     expected="an .xlsx or .ods workbook")) from None
    return sniffed, data, wb


def read_workbook(path: Path | str, spec: Spec) -> RawReturn:
    """Read a return; `spec` is the spec to read it against (resolved by the caller from its stamp)."""
    path = Path(path)
    sniffed, data, wb = open_workbook(path)
    try:
        grid = Grid(wb)
        names = defined_names(data, sniffed.kind)
        meta = read_meta(grid, data, sniffed.kind, names)
        return locate(path, grid, names, meta, spec, sniffed)
    except ReturnUnreadable:
        raise
    except Exception as exc:
        raise ReturnUnreadable(issue(Code.FILE_001, found=f"a workbook we could not read ({type(exc).__name__})",
                                     expected="an .xlsx or .ods workbook")) from None


def peek_meta(path: Path | str) -> tuple[dict[str, str], Sniffed, bytes, Grid, dict]:
    """The form stamp of a return, plus what was opened to find it (so the file is read once)."""
    sniffed, data, wb = open_workbook(Path(path))
    grid = Grid(wb)
    names = defined_names(data, sniffed.kind)
    return read_meta(grid, data, sniffed.kind, names), sniffed, data, grid, names


def _find_rows(grid: Grid, sheet: str, col: int, ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for r, row in enumerate(grid.rows(sheet)):
        if col < len(row):
            v = row[col]
            if isinstance(v, str) and v.strip() in ids and v.strip() not in found:
                found[v.strip()] = r
    return found


def locate(path: Path, grid: Grid, names: dict[str, tuple[str, int, int]], meta: dict[str, str], spec: Spec,
           sniffed: Sniffed, renamed: dict[str, str] | None = None) -> RawReturn:
    """Find every field of the spec in the workbook and take its value."""
    lay = L.build_layout(spec)
    usable = {n: t for n, t in names.items() if grid.has(t[0])}
    input_fields = [f for f in lay.fields if f.kind != FieldKind.COMPUTED]
    by_names = sum(1 for f in input_fields if f.name.casefold() in usable) >= len(input_fields) // 2
    raw = RawReturn(path, sniffed.kind, READ_BY_NAMES if by_names else READ_BY_IDS, spec, meta,
                    macros=sniffed.macros, sniffed=sniffed)
    needed = [L.COVER, *[a.sheet for a in spec.aspects], L.MODELS]
    raw.missing_sheets = [s for s in needed if not grid.has(s)]

    # Rows by id, for fields whose names were dropped (or a return from an earlier form version).
    renamed = renamed or {}
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

    for f in lay.fields:
        if f.kind == FieldKind.COMPUTED:
            continue
        target = usable.get(f.name.casefold()) if by_names else None
        by_id = _by_position(f, factor_rows, model_rows, prompt_rows, identity_rows)
        if target is None or (by_id is not None and not _same_row(grid, target, by_id)):
            # No name, or a name left pointing at another row (rows inserted or sorted by a tool that does
            # not move names along): the id or label written in the row is then the better guide.
            target = by_id
        if target is None:
            if f.factor and f.kind == FieldKind.RATING:
                raw.missing_factors[f.factor] = Cell(f.sheet, f.cell)
            if f.model:
                raw.missing_models[f.model] = Cell(f.sheet, f.cell)
            raw.values[f.name] = Raw(None, None)
            continue
        sheet, r, c = target
        raw.values[f.name] = Raw(grid.value(sheet, r, c), Cell(grid.real_name(sheet), cell_ref(r, c)))
    for fid, (sheet, r) in factor_rows.items():
        mark = grid.value(sheet, r, L.COL_CARRIED)
        raw.carried[fid] = Raw(mark, Cell(grid.real_name(sheet), cell_ref(r, L.COL_CARRIED)))
    return raw


def _same_row(grid: Grid, a: tuple[str, int, int], b: tuple[str, int, int]) -> bool:
    """Whether two cells sit in rows with the same key (factor id, model id or label) in column A."""
    if a[:2] == b[:2]:
        return True
    key = lambda t: str(grid.value(t[0], t[1], L.COL_ID) or "").strip().casefold()  # noqa: E731
    return grid.has(a[0]) and key(a) == key(b)


def _by_position(f: L.Field, factor_rows, model_rows, prompt_rows, identity_rows) -> tuple[str, int, int] | None:
    if f.kind == FieldKind.IDENTITY:
        key = f.name.removeprefix("identity_")
        return (L.COVER, identity_rows[key], 1) if key in identity_rows else None
    if f.prompt:
        hit = prompt_rows.get((f.aspect, f.prompt))
        return (hit[0], hit[1], L.COL_STATEMENT) if hit else None
    if f.factor:
        hit = factor_rows.get(f.factor)
        return (hit[0], hit[1], f.col) if hit else None
    if f.model:
        hit = model_rows.get(f.model)
        return (hit[0], hit[1], f.col) if hit else None
    return None
