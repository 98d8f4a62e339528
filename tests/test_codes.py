"""The issue catalogue documents itself, and every code in it is exercised by a test."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code, catalogue_markdown

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "issue-codes.md"


def test_every_code_has_a_catalogue_entry():
    assert set(CATALOGUE) == set(Code)
    assert all(entry.title and entry.fix.endswith((".", ")")) for entry in CATALOGUE.values())
    assert all(re.fullmatch(r"[A-Z]+_\d{3}", code.value) for code in Code)


def test_committed_page_equals_the_catalogue():
    # If this fails, regenerate the page: scoa codes --markdown > docs/issue-codes.md
    assert DOC.read_text(encoding="utf-8") == catalogue_markdown()


def test_page_has_one_row_per_code_in_catalogue_order():
    rows = [line for line in catalogue_markdown().splitlines() if line.startswith("| ") and "_0" in line]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [c.value for c in CATALOGUE]
    for row, (code, entry) in zip(rows, CATALOGUE.items(), strict=True):
        assert row == f"| {code.value} | {entry.severity.value} | {entry.title} | {entry.fix} |"


def test_scoa_codes_prints_the_catalogue():
    runner = CliRunner()
    md = runner.invoke(main, ["codes", "--markdown"])
    assert md.exit_code == 0 and md.stdout == catalogue_markdown()
    plain = runner.invoke(main, ["codes"])
    assert plain.exit_code == 0
    for code, entry in CATALOGUE.items():
        assert f"{code.value:10} {entry.severity.value:6} {entry.title}" in plain.stdout
        assert entry.fix in plain.stdout
    helped = runner.invoke(main, ["codes", "-h"])
    assert helped.exit_code == 0 and "Example:" in helped.stdout and "scoa codes --markdown" in helped.stdout


def test_every_code_is_exercised_by_a_test():
    this = Path(__file__).resolve()
    sources = "\n".join(p.read_text(encoding="utf-8") for p in sorted(ROOT.joinpath("tests").rglob("test_*.py"))
                        if p.resolve() != this)
    missing = [code.value for code in Code if code.value not in sources]
    assert missing == [], f"no test mentions {missing}"
