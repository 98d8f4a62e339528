"""The data dictionary: every named input and computed cell of a workbook, as `scoa fields` lists it."""

from __future__ import annotations

from pathlib import Path

from . import layout as L
from .model import FieldKind, Spec
from .read import cell_ref, locate, peek_meta


def _choices(spec: Spec, kind: FieldKind) -> list[dict] | None:
    scale = {FieldKind.RATING: spec.rating, FieldKind.IMPORTANCE: spec.importance, FieldKind.CONTROL: spec.control,
             FieldKind.BOOST: spec.boost, FieldKind.PRIORITY: spec.priority}.get(kind)
    return None if scale is None else [{"label": c.label, "value": c.value} for c in scale]


def spec_fields(spec: Spec) -> list[dict]:
    """The dictionary of a workbook generated from `spec`, at the cells the generator uses."""
    return [_entry(spec, f, f.sheet, f.cell) for f in L.build_layout(spec).fields]


def workbook_fields(path: Path, spec: Spec) -> list[dict]:
    """The dictionary of an actual workbook: where its names point now, else where its ids say."""
    meta, sniffed, data, grid, names = peek_meta(path)
    raw = locate(Path(path), grid, names, meta, spec, sniffed)
    out = []
    for f in L.build_layout(spec).fields:
        target = names.get(f.name.casefold())
        if target is not None and grid.has(target[0]):
            sheet, row, col = target
            out.append(_entry(spec, f, grid.real_name(sheet), cell_ref(row, col)))
        elif f.name in raw.values and raw.values[f.name].cell is not None:
            cell = raw.values[f.name].cell
            out.append(_entry(spec, f, cell.sheet, cell.ref))
        elif f.kind == FieldKind.COMPUTED and grid.has(f.sheet):
            out.append(_entry(spec, f, f.sheet, f.cell))
    return out


def _entry(spec: Spec, f: L.Field, sheet: str, cell: str) -> dict:
    entry = {"name": f.name, "sheet": sheet, "cell": cell, "label": f.label, "kind": f.kind.value,
             "aspect": f.aspect, "factor": f.factor, "model": f.model, "choices": _choices(spec, f.kind)}
    if f.kind == FieldKind.COMPUTED:
        entry["measure"] = f.measure
    return entry
