"""Who a respondent is: the council, the name and the organisation (case and spacing aside). A partner who fills
in a forwarded copy is a respondent of their own; a resubmission names the rule that made it the later one."""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pytest
from helpers import answers, fill_workbook
from office import convert

from scoa_xl.batch import run_batch
from scoa_xl.generate import generate
from scoa_xl.model import Identity, Status
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 2, 2)


def fill(blank, path, *, name: str, organisation: str, date: str, shift: int = 0):
    got = answers(SPEC, lambda i, f: (i + shift) % 5 + 1, control=lambda i, f, k: SPEC.control[i % 4].label,
                  boost=lambda i, f, k: "No",
                  identity={"respondent": name, "organisation": organisation, "date": date})
    return fill_workbook(blank, path, got)


@pytest.fixture(scope="module")
def forwarded(tmp_path_factory, soffice):
    """The council's personalised workbook, filled by the council, by its NHS partner who changed only the
    organisation, and again by the council (its name typed differently) a week later; the partner's copy was
    saved by LibreOffice."""
    tmp = tmp_path_factory.mktemp("forwarded")
    blank = generate(SPEC, tmp / "issued.xlsx", Identity("Leeds", "E08000035", "Jo Bloggs", "Leeds City Council"),
                     generated_at=DAY)
    inbox = tmp / "inbox"
    inbox.mkdir()
    fill(blank, inbox / "1 council.xlsx", name="Jo Bloggs", organisation="Leeds City Council", date="2026-03-01")
    partner = fill(blank, tmp / "2 partner.xlsx", name="Jo Bloggs", organisation="Leeds ICB", date="2026-03-02",
                   shift=2)
    shutil.copyfile(convert([partner], tmp / "lo", "xlsx")[0], inbox / "2 partner.xlsx")
    fill(blank, inbox / "3 council again.xlsx", name="  jo   BLOGGS ", organisation="leeds city council",
         date="2026-03-08", shift=1)
    out = tmp / "out"
    return {"result": run_batch(inbox, out, SPEC, register=None, jobs=1), "out": out, "inbox": inbox}


def by_file(result):
    return {f.file: f for f in result.files}


def test_a_partner_who_changed_only_the_organisation_is_a_respondent_of_their_own(forwarded):
    files = by_file(forwarded["result"])
    assert files["2 partner.xlsx"].status.is_usable and files["2 partner.xlsx"].counted
    assert files["3 council again.xlsx"].counted
    leeds, = forwarded["result"].councils
    assert sorted(leeds.organisations) == ["Leeds ICB", "leeds city council"]


def test_the_same_respondent_typed_differently_is_a_resubmission_decided_by_date_completed(forwarded):
    files = by_file(forwarded["result"])
    old = files["1 council.xlsx"]
    assert old.status == Status.SUPERSEDED and old.superseded_by == "3 council again.xlsx"
    assert old.decided_by == "date completed"
    assert old.relation == "Superseded by 3 council again.xlsx (later by date completed)"
    assert files["3 council again.xlsx"].supersedes == ["1 council.xlsx"]


def test_letters_say_a_later_return_came_from_you_only_when_it_did(forwarded):
    files = by_file(forwarded["result"])
    out = forwarded["out"]
    old = (out / files["1 council.xlsx"].feedback).read_text(encoding="utf-8")
    assert "later return from you" in old and "by its date completed" in old
    partner = (out / files["2 partner.xlsx"].feedback).read_text(encoding="utf-8")
    assert "later return" not in partner and "replaces the earlier" not in partner


def test_with_the_same_date_completed_the_file_time_decides(tmp_path):
    blank = generate(SPEC, tmp_path / "issued.xlsx", Identity("Kent", "E10000016"), generated_at=DAY)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = fill(blank, inbox / "b first.xlsx", name="Ann Lee", organisation="Kent County Council", date="2026-03-01")
    second = fill(blank, inbox / "a second.xlsx", name="Ann Lee", organisation="Kent County Council",
                  date="2026-03-01", shift=3)
    os.utime(first, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    os.utime(second, ns=(1_700_000_100_000_000_000, 1_700_000_100_000_000_000))
    files = by_file(run_batch(inbox, tmp_path / "out", SPEC, register=None, jobs=1))
    assert files["b first.xlsx"].superseded_by == "a second.xlsx"
    assert files["b first.xlsx"].decided_by == "file time"


def test_of_two_identical_files_the_earlier_is_the_original(tmp_path):
    blank = generate(SPEC, tmp_path / "issued.xlsx", Identity("Kent", "E10000016"), generated_at=DAY)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    late = fill(blank, inbox / "a copy.xlsx", name="Ann Lee", organisation="Kent County Council", date="2026-03-01")
    early = inbox / "z original.xlsx"
    shutil.copyfile(late, early)
    os.utime(early, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    files = by_file(run_batch(inbox, tmp_path / "out", SPEC, register=None, jobs=1))
    assert files["z original.xlsx"].status.is_usable
    assert files["a copy.xlsx"].status == Status.DUPLICATE and files["a copy.xlsx"].duplicate_of == "z original.xlsx"
    assert "earlier file time" in files["a copy.xlsx"].reason
