"""The Analysis Function's checklist for releasing statistics in spreadsheets, every point a program can check,
on all three workbooks (the self-assessment, a plan and the summary) as written and after a LibreOffice re-save;
and the printed pages, rendered by the real LibreOffice to PDF. docs/accessibility.md has the whole checklist.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from statistics import median

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import fill_workbook
from office import convert
from test_roundtrip import user_answers

from scoa_xl import styles
from scoa_xl.cli import main
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.spec import load_spec
from scoa_xl.writer import LINE_HEIGHT, MAX_ROW_HEIGHT, wrapped_lines

SPEC = load_spec()
KINDS = ("blank", "filled", "plan", "summary")
# The sheets laid out as one table of data (a plan's cover, development plan and the About sheet are prose and
# sections; a cover and the how-to sheet are instructions).
TABLE_SHEETS = {
    "blank": {a.sheet for a in SPEC.aspects} | {"Models", "Your scores"},
    "plan": {"Action plan", "Model fit", "Model risks", "Partners", "What to confirm"},
    "summary": {"Returns", "Scores", "Cohort", "Constraints", "Models", "Partners", "Issues", "Tracker"},
}
TABLE_SHEETS["filled"] = TABLE_SHEETS["blank"]


# ---------------------------------------------------------------- the workbooks


@pytest.fixture(scope="module")
def books(tmp_path_factory, soffice) -> dict[str, dict[str, Path]]:
    tmp = tmp_path_factory.mktemp("a11y")
    written = tmp / "written"
    written.mkdir()
    blank = generate(SPEC, written / "blank.xlsx", Identity(), generated_at=dt.date(2026, 1, 5))
    fill_workbook(blank, written / "filled.xlsx", user_answers(7))
    demo = tmp / "demo"
    result = CliRunner().invoke(main, ["demo", str(demo)])
    assert result.exit_code == 0, result.output
    shutil.copy(demo / "summary.xlsx", written / "summary.xlsx")
    with_partners = [p for p in sorted((demo / "plans").glob("*.xlsx"))
                     if "Partners" in openpyxl.load_workbook(p, read_only=True).sheetnames]
    assert with_partners, "the demo should include a council with several respondents"
    shutil.copy(with_partners[0], written / "plan.xlsx")
    sources = [written / f"{k}.xlsx" for k in KINDS]
    resaved = convert(sources, tmp / "resaved", "xlsx")
    pdfs = convert(sources, tmp / "pdf", "pdf")
    return {"written": dict(zip(KINDS, sources, strict=True)), "resaved": dict(zip(KINDS, resaved, strict=True)),
            "pdf": dict(zip(KINDS, pdfs, strict=True))}


def _open(books, state: str, kind: str) -> openpyxl.Workbook:
    return openpyxl.load_workbook(books[state][kind])


def _visible(wb: openpyxl.Workbook):
    return [ws for ws in wb.worksheets if ws.sheet_state == "visible"]


BOTH = pytest.mark.parametrize("state", ["written", "resaved"])
EACH = pytest.mark.parametrize("kind", KINDS)


# ---------------------------------------------------------------- colour contrast (WCAG 2.1)


def _luminance(hex_colour: str) -> float:
    rgb = hex_colour.lstrip("#")[-6:]
    channels = [int(rgb[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula_matches_wcag_examples():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    # The measurements of the first form: the yellow input fill against white and the grey.
    assert contrast("#fff7d6", "#ffffff") == pytest.approx(1.08, abs=0.01)
    assert contrast("#fff7d6", "#eef0f2") == pytest.approx(1.06, abs=0.02)


def _colour(c) -> str | None:
    if c is None or c.type != "rgb" or not isinstance(c.rgb, str):
        return None
    return "#" + c.rgb[-6:]


def _fill(cell) -> str:
    f = cell.fill
    if f is not None and f.fill_type == "solid":
        return _colour(f.fgColor) or "#ffffff"
    return "#ffffff"


@BOTH
@pytest.mark.parametrize("kind", ["blank", "filled"])
def test_input_cells_stand_out_without_relying_on_colour(books, state, kind):
    """WCAG 1.4.11: an input's boundary has 3:1 or more against white, the input fill and the computed grey (and
    against whatever fill its neighbours have); its text 4.5:1 or more on its fill (1.4.3)."""
    wb = _open(books, state, kind)
    checked = 0
    for ws in _visible(wb):
        if not ws.protection.sheet:
            continue
        for row in ws.iter_rows():
            for cell in row:
                if cell.protection.locked is not False:
                    continue
                checked += 1
                fill = _fill(cell)
                neighbours = {_fill(ws.cell(cell.row + dr, cell.column + dc))
                              for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0))
                              if cell.row + dr >= 1 and cell.column + dc >= 1}
                where = f"{ws.title}!{cell.coordinate}"
                for side in ("left", "right", "top", "bottom"):
                    edge = getattr(cell.border, side)
                    assert edge.style in ("medium", "thick"), (where, side, edge.style)
                    colour = _colour(edge.color) or "#000000"
                    for against in {"#ffffff", styles.INPUT_FILL, styles.COMPUTED_FILL, fill}:
                        assert contrast(colour, against) >= 3, (where, side, colour, against)
                    # Beside a dark header the boundary is the yellow itself against the header's blue.
                    for against in neighbours:
                        assert max(contrast(colour, against), contrast(fill, against)) >= 3, (where, against)
                text = _colour(cell.font.color) or "#000000"
                assert contrast(text, fill) >= 4.5, (where, text, fill)
    assert checked >= len(SPEC.factors) * 6 + len(SPEC.models)  # every answer cell of the form


@BOTH
@EACH
def test_all_text_has_enough_contrast_with_its_fill(books, state, kind):
    wb = _open(books, state, kind)
    for ws in _visible(wb):
        for row in ws.iter_rows():
            for cell in row:
                if cell.value in (None, ""):
                    continue
                text = _colour(cell.font.color) or "#000000"
                assert contrast(text, _fill(cell)) >= 4.5, (ws.title, cell.coordinate, text, _fill(cell))


def test_the_contrast_ratios_reported_in_docs(books):
    """The figures quoted in docs/accessibility.md, before and after issue 14."""
    assert contrast(styles.INPUT_BORDER, "#ffffff") >= 19
    assert contrast(styles.INPUT_BORDER, styles.INPUT_FILL) >= 17
    assert contrast(styles.INPUT_BORDER, styles.COMPUTED_FILL) >= 16
    assert contrast(styles.INPUT_BORDER, styles.WARN_FILL) >= 13
    assert contrast(styles.INK, styles.INPUT_FILL) >= 17
    assert contrast(styles.CHECK_TEXT, styles.COMPUTED_FILL) >= 7
    assert contrast("#ffffff", styles.HEADER_FILL) >= 8
    assert contrast(styles.ACCENT, "#ffffff") >= 4.5


# ---------------------------------------------------------------- structure


@BOTH
@EACH
def test_title_in_a1_of_every_sheet(books, state, kind):
    for ws in _visible(_open(books, state, kind)):
        a1 = ws["A1"]
        assert isinstance(a1.value, str) and a1.value.strip(), ws.title
        assert a1.font.b and (a1.font.sz or 11) >= 13, ws.title


@BOTH
@EACH
def test_no_merged_cells(books, state, kind):
    for ws in _open(books, state, kind).worksheets:
        assert not ws.merged_cells.ranges, ws.title


@BOTH
@EACH
def test_sheets_have_meaningful_names_and_the_file_a_title(books, state, kind):
    wb = _open(books, state, kind)
    assert wb.properties.title
    for ws in wb.worksheets:
        assert not re.fullmatch(r"Sheet\d*", ws.title), ws.title


@BOTH
@EACH
def test_tabular_data_is_marked_up_as_tables(books, state, kind):
    wb = _open(books, state, kind)
    with_tables = {ws.title for ws in wb.worksheets if ws.tables}
    assert TABLE_SHEETS[kind] <= with_tables, TABLE_SHEETS[kind] - with_tables
    for ws in wb.worksheets:
        for table in ws.tables.values():
            header = ws[table.ref.split(":")[0]].row
            first, last = table.ref.split(":")
            cols = range(openpyxl.utils.column_index_from_string(re.sub(r"\d", "", first)),
                         openpyxl.utils.column_index_from_string(re.sub(r"\d", "", last)) + 1)
            heads = [ws.cell(header, c).value for c in cols]
            assert all(isinstance(h, str) and h.strip() for h in heads), (ws.title, table.name)


def _charts(path: Path) -> tuple[list[str], list[str]]:
    with zipfile.ZipFile(path) as zf:
        drawings = [zf.read(n).decode("utf-8") for n in zf.namelist() if re.match(r"xl/drawings/drawing\d+\.xml", n)]
        charts = [zf.read(n).decode("utf-8") for n in zf.namelist() if re.match(r"xl/charts/chart\d+\.xml", n)]
    return drawings, charts


@pytest.mark.parametrize("kind", ["blank", "plan", "summary"])  # a filled return was last saved by openpyxl
def test_every_chart_has_alt_text_and_a_title(books, kind):
    drawings, charts = _charts(books["written"][kind])
    frames = [f for d in drawings for f in re.findall(r"<xdr:graphicFrame.*?</xdr:graphicFrame>", d, re.S)]
    assert len(frames) == len(charts) >= 1
    for frame in frames:
        descr = re.search(r'descr="([^"]*)"', frame)
        assert descr and len(descr.group(1)) > 40, frame[:200]
    for chart in charts:
        assert "<c:title>" in chart
        assert "<c:autoTitleDeleted val=\"1\"/>" not in chart
    # LibreOffice drops chart alt text when it saves (docs/accessibility.md), but keeps every chart and its title.
    _, after = _charts(books["resaved"][kind])
    assert len(after) == len(charts)
    assert all("<c:title>" in c for c in after)


@BOTH
@EACH
def test_link_text_says_where_it_goes(books, state, kind):
    wb = _open(books, state, kind)
    links = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.hyperlink is None:
                    continue
                text = str(cell.value or "")
                assert text.strip(), (ws.title, cell.coordinate)
                assert not re.match(r"(?i)(https?:|www\.|click|here\b|link\b)", text), (ws.title, text)
                links += 1
    if kind != "summary":
        assert links >= 4


@BOTH
@EACH
def test_no_text_smaller_than_11_point(books, state, kind):
    wb = _open(books, state, kind)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.value not in (None, ""):
                    assert (cell.font.sz or 11) >= styles.MIN_FONT_SIZE, (ws.title, cell.coordinate)
    for chart in _charts(books[state][kind])[1]:
        for size in re.findall(r'<a:defRPr[^>]*\bsz="(\d+)"', chart) + re.findall(r'<a:rPr[^>]*\bsz="(\d+)"', chart):
            assert int(size) >= 1000, size  # hundredths of a point: charts keep to 10 point or more


@BOTH
@EACH
def test_every_sheet_is_set_up_to_print_legibly(books, state, kind):
    for ws in _visible(_open(books, state, kind)):
        ps = ws.page_setup
        assert ws.print_area, ws.title
        assert ps.paperSize in (9, "9"), ws.title
        assert ps.orientation in ("landscape", "portrait"), ws.title
        if ws.sheet_properties.pageSetUpPr is not None and ws.sheet_properties.pageSetUpPr.fitToPage:
            assert (ps.fitToWidth or 1) == 1 and (ps.fitToHeight or 0) == 0, ws.title
        else:
            assert int(ps.scale or 100) == 100, ws.title  # never shrunk: it prints over pages across instead
            assert ws.print_title_cols, ws.title  # with its identifying columns on every page


@pytest.mark.parametrize("kind", ["blank", "plan", "summary"])  # a filled return's rows are the user's
def test_every_wrapped_row_is_tall_enough_and_no_header_word_is_cut(books, kind):
    """The one row-height rule, applied by every writer to every row with wrapped text (neither Excel nor
    LibreOffice grows such a row by itself when the file opens)."""
    wb = _open(books, "written", kind)
    checked = 0
    for ws in _visible(wb):
        for row in ws.iter_rows():
            for cell in row:
                if not isinstance(cell.value, str) or not cell.value or not cell.alignment.wrap_text:
                    continue
                if cell.data_type == "f":
                    continue
                dim = _dimension(ws, cell.column)
                if dim is not None and dim.hidden:
                    continue
                width = dim.width if dim is not None and dim.width else 8.43
                bold = bool(cell.font.b)
                need = min(MAX_ROW_HEIGHT, wrapped_lines(cell.value, width, bold=bold) * LINE_HEIGHT
                           * (cell.font.sz or 11) / 11)
                height = ws.row_dimensions[cell.row].height or LINE_HEIGHT
                assert height >= need, (ws.title, cell.coordinate, height, need, cell.value[:40])
                checked += 1
                if bold and cell.fill is not None and cell.fill.fill_type == "solid":  # a header
                    longest = max(len(w) for w in cell.value.split())
                    assert longest <= width, (ws.title, cell.coordinate, cell.value)
    assert checked > 20


def _dimension(ws, col: int):
    for dim in ws.column_dimensions.values():  # openpyxl groups equal columns under the first one's letter
        if dim.min and dim.max and dim.min <= col <= dim.max:
            return dim
    return None


# ---------------------------------------------------------------- the printed pages


def _poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} not found; install poppler-utils")
        pytest.skip(f"{tool} not found; install poppler-utils")
    return path


def _pages(pdf: Path) -> list[dict]:
    """Each page: its size, the sheet named in its footer, its text and the heights of its words."""
    info = subprocess.run([_poppler("pdfinfo"), "-f", "1", "-l", "9999", str(pdf)], capture_output=True,
                          text=True, check=True).stdout
    sizes = [(float(w), float(h)) for w, h in re.findall(r"Page\s+\d+ size:\s+([\d.]+) x ([\d.]+)", info)]
    text = subprocess.run([_poppler("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout.split("\f")
    html = subprocess.run([_poppler("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    word = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>')
    pages = []
    for i, (body, (w, h)) in enumerate(zip(html.split("<page ")[1:], sizes, strict=True)):
        words = [(float(x0), float(y0), float(y1), t) for x0, y0, y1, t in word.findall(body)]
        # The footer: the sheet's name on the left of the bottom line, "Page n of N" on the right.
        marks = [x for x in words if x[3] == "Page" and x[1] > h - 45]
        line = [x for x in words if marks and abs(x[1] - marks[-1][1]) < 2 and x[0] < marks[-1][0]]
        sheet = " ".join(x[3] for x in sorted(line, key=lambda x: x[0])) if marks else None
        sheet = sheet.replace("&amp;", "&") if sheet else sheet
        pages.append({"size": (w, h), "sheet": sheet, "text": text[i],
                      "heights": [y1 - y0 for _, y0, y1, _ in words if y0 <= h - 45]})
    return pages


# Pages for the demo data and the bundled form, with room to spare: the point is that nothing is squeezed to one
# page wide, nor spread over dozens of near-empty pages.
MAX_PAGES = {"blank": 60, "filled": 60, "plan": 70, "summary": 70}


@EACH
def test_printed_pages_are_a4_in_each_sheets_orientation_and_legible(books, kind):
    pages = _pages(books["pdf"][kind])
    wb = _open(books, "written", kind)
    sheets = {ws.title: ws for ws in _visible(wb)}
    assert 1 <= len(pages) <= MAX_PAGES[kind]
    seen = set()
    for n, page in enumerate(pages, start=1):
        w, h = page["size"]
        assert sorted((round(w), round(h))) == [595, 842], (n, w, h)  # A4
        assert page["sheet"] in sheets, (n, page["sheet"], page["text"][-300:])
        seen.add(page["sheet"])
        landscape = sheets[page["sheet"]].page_setup.orientation == "landscape"
        assert (w > h) == landscape, (n, page["sheet"])
        # Legible at 100% on A4: the typical word is as tall as 11-point text shrunk to no less than 80%.
        words = [x for x in page["heights"] if x > 0]
        assert median(words) >= 9.5, (n, page["sheet"], median(words))
    assert seen == set(sheets)


@EACH
def test_no_title_note_or_label_is_cut_at_the_page_edge(books, kind):
    """Every text written on one line (titles, notes, labels, ids) prints in full somewhere."""
    printed = re.sub(r"\s+", " ", "".join(p["text"] for p in _pages(books["pdf"][kind])))
    printed = re.sub(r"\s+", " ", subprocess.run([_poppler("pdftotext"), str(books["pdf"][kind]), "-"],
                                                 capture_output=True, text=True, check=True).stdout) + printed
    missing = []
    for ws in _visible(_open(books, "written", kind)):
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and cell.data_type == "s" and cell.value.strip() \
                        and not cell.alignment.wrap_text:
                    if re.sub(r"\s+", " ", cell.value.strip()) not in printed:
                        missing.append((ws.title, cell.coordinate, cell.value[:60]))
    assert missing == []


def test_each_printed_page_of_a_table_is_headed_by_its_own_columns(books):
    """A plan's model risks print under their own column headers on every page, never under the headers the fit
    table repeats on each page of the Model fit sheet (as when both were on one sheet)."""
    pages = _pages(books["pdf"]["plan"])
    risky = [p for p in pages if p["sheet"] == "Model risks"]
    assert risky
    for n, page in enumerate(risky, start=1):
        text = re.sub(r"\s+", " ", page["text"])
        assert "How to reduce it" in text and "Why this fit" not in text, n
    mitigations = {re.sub(r"\s+", " ", k.mitigation)[:25] for m in SPEC.models for k in m.risks}
    assert any(m in re.sub(r"\s+", " ", p["text"]) for p in risky for m in mitigations)  # found where printed
    for page in pages:
        if page["sheet"] != "Model risks":
            text = re.sub(r"\s+", " ", page["text"])
            assert not any(m in text for m in mitigations), page["sheet"]
