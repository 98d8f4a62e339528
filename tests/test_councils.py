"""A council is a council: names checked against the bundled register (or one given with --register), ONS
codes by shape and by name, and a cover that holds the form's own text (the sheets mixed up) refused. Filled as a
user would, and re-saved by the real LibreOffice."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from click.testing import CliRunner
from helpers import fill_workbook
from office import convert

from scoa_xl import layout as L
from scoa_xl.batch import run_batch
from scoa_xl.check import PARALLEL_FROM, check_paths, check_return
from scoa_xl.cli import main
from scoa_xl.errors import CATALOGUE, Code
from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.register import Register
from scoa_xl.spec import load_spec

SPEC = load_spec()
COVER_COUNCIL = "identity_council"


def id_issues(path):
    return [(i.code, i.sheet, i.found, i.expected) for i in check_return(path, SPEC).issues
            if i.code.value.startswith("ID_") and i.code not in (Code.ID_001, Code.ID_002)]


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    return generate(SPEC, tmp_path_factory.mktemp("councils") / "blank.xlsx", Identity(),
                    generated_at=dt.date(2026, 2, 2))


def filled(blank, tmp_path, name, **identity):
    return fill_workbook(blank, tmp_path / name, {f"identity_{k}": v for k, v in identity.items()})


def test_a_council_on_the_register_with_its_own_code_passes(blank, tmp_path):
    assert id_issues(filled(blank, tmp_path, "ok.xlsx", council="Leeds", council_code="E08000035",
                            respondent="Jo Bloggs")) == []
    # Case and spacing aside, and with no code at all, a council on the register is known.
    assert id_issues(filled(blank, tmp_path, "ok2.xlsx", council="  leeds ", respondent="Jo Bloggs")) == []


def test_an_unknown_council_is_a_query_with_the_nearest_names(blank, tmp_path, soffice):
    path = filled(blank, tmp_path, "leedz.xlsx", council="Leedz", respondent="Jo Bloggs")
    ods, = convert([path], tmp_path / "lo", "ods")
    for p in (path, ods):
        (code, sheet, found, expected), = id_issues(p)
        assert (code, sheet, found) == (Code.ID_003, L.COVER, '"Leedz"')
        assert "did you mean Leeds" in expected
        assert CATALOGUE[code].severity.value == "query"


def test_an_ons_code_must_look_like_one(blank, tmp_path):
    (code, _, found, expected), = id_issues(filled(blank, tmp_path, "code.xlsx", council="Leeds",
                                                   council_code="E0800003", respondent="Jo Bloggs"))
    assert code == Code.ID_004 and found == '"E0800003"' and "eight digits" in expected


def test_an_ons_code_must_be_the_named_councils(blank, tmp_path):
    (code, _, found, expected), = id_issues(filled(blank, tmp_path, "kent.xlsx", council="Kent",
                                                   council_code="E08000035", respondent="Jo Bloggs"))
    assert code == Code.ID_005 and "Leeds's code" in found and "E10000016" in expected
    assert CATALOGUE[code].severity.value == "error"


@pytest.mark.parametrize("text", ["Factor", SPEC.factors[0].statement])
def test_a_cover_holding_the_forms_own_text_is_an_error(blank, tmp_path, text):
    # What a cover overwritten by an aspect sheet holds where the council's name should be.
    issues = id_issues(filled(blank, tmp_path, "mixed.xlsx", council=text, council_code=SPEC.factors[1].statement,
                              respondent="Jo Bloggs"))
    assert [c for c, *_ in issues] == [Code.ID_006, Code.ID_006]
    assert check_return(tmp_path / "mixed.xlsx", SPEC).status.value == "invalid"


def test_a_batch_checks_councils_against_the_register_it_is_given(blank, tmp_path):
    """A programme's own register (here a council the bundled one does not know) is the one its returns are
    checked against, in reading and in the plan's second look; without it, the bundled register is."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    filled(blank, inbox, "barsetshire.xlsx", council="Barsetshire", council_code="E06099901", respondent="Jo Bloggs")
    filled(blank, inbox, "leeds.xlsx", council="Leeds", council_code="E08000035", respondent="Ann Other")
    register = tmp_path / "register.csv"
    register.write_text("name,code,region\nBarsetshire,E06099901,South West\n", encoding="utf-8")

    def council_codes(result, file):
        (record,) = [f for f in result.files if f.file == file]
        return sorted(i.code.value for i in record.issues if i.code.value.startswith("ID_"))

    own = run_batch(inbox, tmp_path / "own", SPEC, register=register, jobs=2)
    bundled = run_batch(inbox, tmp_path / "bundled", SPEC, register=None, jobs=2)
    assert council_codes(own, "barsetshire.xlsx") == []
    assert council_codes(bundled, "barsetshire.xlsx") == ["ID_003"]
    assert council_codes(own, "leeds.xlsx") == ["ID_003"]  # on the bundled register, not on this programme's
    assert council_codes(bundled, "leeds.xlsx") == []


def test_scoa_check_takes_a_register_too_in_one_process_and_in_workers(blank, tmp_path):
    path = filled(blank, tmp_path, "barsetshire.xlsx", council="Barsetshire", council_code="E06099901",
                  respondent="Jo Bloggs")
    register = tmp_path / "register.csv"
    register.write_text("name,code,region\nBarsetshire,E06099901,South West\n", encoding="utf-8")
    runner = CliRunner()
    own = runner.invoke(main, ["check", str(path), "--register", str(register)])
    bundled = runner.invoke(main, ["check", str(path)])
    assert "ID_003" not in own.output and "ID_003" in bundled.output, (own.output, bundled.output)

    many = tmp_path / "many"
    many.mkdir()
    copies = [shutil.copyfile(path, many / f"b{i}.xlsx") for i in range(PARALLEL_FROM)]
    for reg, queried in ((Register.load(register), False), (None, True)):
        results = list(check_paths(copies, SPEC, jobs=2, register=reg))
        assert len(results) == PARALLEL_FROM
        assert all((Code.ID_003 in {i.code for i in a.issues}) is queried for _, a in results)
