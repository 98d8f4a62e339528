"""Real LibreOffice round trips through tests/office.py (no mocks)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from office import OfficeError, convert
from python_calamine import CalamineWorkbook


def _cells(path: Path) -> list[list[object]]:
    """First sheet of ``path`` as rows, anchored at A1."""
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    return sheet.to_python(skip_empty_area=False)


def _openpyxl_book(path: Path) -> Path:
    """A1=2, A2=3, A3 =A1*A2, B1 =A1+A2, formulas with no cached value."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = 2
    ws["A2"] = 3
    ws["A3"] = "=A1*A2"
    ws["B1"] = "=A1+A2"
    wb.save(path)
    return path


def _stale_book(path: Path) -> Path:
    """A1=2, A2=3, A3 =A1+A2 with a deliberately wrong cached value 999."""
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_number("A1", 2)
    ws.write_number("A2", 3)
    ws.write_formula("A3", "=A1+A2", None, 999)
    wb.close()
    return path


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_convert_computes_formulas(soffice: str, tmp_path: Path, fmt: str) -> None:
    src_dir, out_dir = tmp_path / "in", tmp_path / "out"
    src_dir.mkdir()
    first = _openpyxl_book(src_dir / "first.xlsx")
    second = _openpyxl_book(src_dir / "second.xlsx")

    outputs = convert([first, second], out_dir, fmt)

    assert outputs == [out_dir / f"first.{fmt}", out_dir / f"second.{fmt}"]
    for out in outputs:
        rows = _cells(out)
        assert rows[0][0] == 2
        assert rows[1][0] == 3
        assert rows[2][0] == 6
        assert rows[0][1] == 5
    assert first.stat().st_size > 0  # inputs untouched


def test_recalc_replaces_stale_cached_value(soffice: str, tmp_path: Path) -> None:
    src = _stale_book(tmp_path / "stale.xlsx")
    assert _cells(src)[2][0] == 999

    (fresh,) = convert([src], tmp_path / "recalc")
    assert _cells(fresh)[2][0] == 5

    (kept,) = convert([src], tmp_path / "norecalc", recalc=False)
    assert _cells(kept)[2][0] == 999


def test_refuses_out_dir_equal_to_source_dir(tmp_path: Path) -> None:
    src = _openpyxl_book(tmp_path / "book.xlsx")
    before = src.read_bytes()
    with pytest.raises(OfficeError, match="out_dir"):
        convert([src], tmp_path)
    assert src.read_bytes() == before


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(OfficeError, match="not found"):
        convert([tmp_path / "nope.xlsx"], tmp_path / "out")


def test_timeout_raises(soffice: str, tmp_path: Path) -> None:
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = _openpyxl_book(src_dir / "book.xlsx")
    with pytest.raises(OfficeError, match="timed out"):
        convert([src], tmp_path / "out", timeout=0.05)
