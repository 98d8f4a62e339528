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
    """The dictionary of an actual workbook: its inputs where the reader finds them, computed cells by name."""
    meta, sniffed, data, grid, names = peek_meta(path)
    # The reader decides between a name and the ids in the rows (and distrusts a name left on the wrong row),
    # so the dictionary lists exactly the cells `scoa check` and `scoa score` read.
    raw = locate(Path(path), grid, names, meta, spec, sniffed)
    out = []
    for f in L.build_layout(spec).fields:
        if f.kind != FieldKind.COMPUTED:
            cell = raw.values[f.name].cell
            if cell is not None:
                out.append(_entry(spec, f, cell.sheet, cell.ref))
            continue
        target = names.get(f.name.casefold())
        if target is not None and grid.has(target[0]):
            out.append(_entry(spec, f, grid.real_name(target[0]), cell_ref(target[1], target[2])))
        elif grid.has(f.sheet):
            out.append(_entry(spec, f, f.sheet, f.cell))
    return out


def _entry(spec: Spec, f: L.Field, sheet: str, cell: str) -> dict:
    entry = {"name": f.name, "sheet": sheet, "cell": cell, "label": f.label, "kind": f.kind.value,
             "aspect": f.aspect, "factor": f.factor, "model": f.model, "choices": _choices(spec, f.kind)}
    if f.kind == FieldKind.COMPUTED:
        entry["measure"] = f.measure
    return entry
