"""Partners and years: several respondents per council, an agreed return, next year's workbook prefilled."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from helpers import answers as build_answers
from helpers import fill_workbook
from office import convert
from python_calamine import CalamineWorkbook

from scoa_xl import layout as L
from scoa_xl.check import check_return
from scoa_xl.cli import main
from scoa_xl.consolidate import DIVERGENCE_POINTS
from scoa_xl.generate import CARRIED_MARK, generate
from scoa_xl.model import Identity
from scoa_xl.plan import PARTNERS
from scoa_xl.prefill import DIFFER_MARK
from scoa_xl.spec import load_spec

SPEC = load_spec()
DAY = dt.date(2026, 2, 1)
RATING = {c.value: c.label for c in SPEC.rating}
# The council sees three factors far more gloomily than its NHS partner; they agree on the rest.
DIFFER = {"sd_one_place": (1, 4), "rel_legal": (5, 2), "pol_national_influence": (2, 5)}
CLOSE = {"proc_clear_contracts": (3, 4)}  # one point apart: not a divergence


def respondent_answers(index: int) -> dict[str, object]:
    answers = build_answers(SPEC, lambda n, f: DIFFER.get(f.id, CLOSE.get(f.id, (None, None)))[index] or (n % 5) + 1,
                            control=lambda n, f, k: SPEC.control[n % 4].label,
                            boost=lambda n, f, k: "Yes" if n % 2 else "No",
                            identity={"date": "2026-03-0" + str(index + 1)})
    for f in SPEC.factors:
        answers[f"notes_{f.id}"] = f"View of respondent {index + 1} on {f.id}"
    for k, m in enumerate(SPEC.models):
        answers[f"priority_{m.id}"] = SPEC.priority[(k + index) % 5].label
    answers["text_policy_strengths"] = f"Strength seen by respondent {index + 1}"
    return answers


@pytest.fixture(scope="module")
def partners(tmp_path_factory, soffice) -> dict:
    tmp = tmp_path_factory.mktemp("partners")
    inbox = tmp / "inbox"
    inbox.mkdir()
    who = [("Ann Lee", "Leeds City Council"), ("Bo Khan", "NHS West Yorkshire ICB")]
    paths = []
    for i, (name, org) in enumerate(who):
        blank = generate(SPEC, tmp / f"blank-{i}.xlsx", Identity("Leeds", "E08000035", name, org), generated_at=DAY)
        paths.append(fill_workbook(blank, tmp / f"leeds-{i}.xlsx", respondent_answers(i)))
    # The NHS partner's copy travelled through LibreOffice before it came back.
    resaved = convert([paths[1]], tmp / "lo", "xlsx")[0]
    (inbox / "leeds-council.xlsx").write_bytes(paths[0].read_bytes())
    (inbox / "leeds-nhs.xlsx").write_bytes(resaved.read_bytes())
    result = CliRunner().invoke(main, ["batch", str(inbox), "-o", str(tmp / "out"), "--json", "--quiet"])
    return {"tmp": tmp, "paths": paths, "inbox": inbox, "out": tmp / "out", "cli": result,
            "json": json.loads(result.output)}


def test_batch_json_consolidates_respondents_and_shows_divergence(partners):
    assert partners["cli"].exit_code == 0, partners["cli"].output
    councils = partners["json"]["councils"]
    assert len(councils) == 1
    leeds = councils[0]
    assert leeds["code"] == "E08000035"
    assert leeds["respondents"] == ["Ann Lee", "Bo Khan"]
    assert "mean" in leeds["combined"]
    got = {d["factor"]: [r["rating"] for r in d["ratings"]] for d in leeds["divergence"]}
    assert got == {fid: list(pair) for fid, pair in DIFFER.items()}
    assert all(d["spread"] >= DIVERGENCE_POINTS for d in leeds["divergence"])
    assert "proc_clear_contracts" not in got
    # Combined scores are the mean of the two respondents' own scores.
    scores = [f["score"] for f in partners["json"]["files"]]
    for k, aspect in enumerate(leeds["aspects"]):
        own = [s["aspects"][k]["room_for_manoeuvre"] for s in scores]
        assert aspect["room_for_manoeuvre"] == pytest.approx(sum(own) / 2)


def test_summary_has_a_partners_sheet(partners):
    wb = CalamineWorkbook.from_path(str(partners["out"] / "summary.xlsx"))
    assert "Partners" in wb.sheet_names
    rows = wb.get_sheet_by_name("Partners").to_python()
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Council")
    body = [dict(zip(rows[header], r, strict=False)) for r in rows[header + 1:] if r and r[0]]
    assert sorted(r["Factor id"] for r in body) == sorted(DIFFER)
    first = next(r for r in body if r["Factor id"] == "sd_one_place")
    assert "Ann Lee" in first["Ratings"] and RATING[1] in first["Ratings"] and RATING[4] in first["Ratings"]


def test_each_plan_shows_where_partners_differ_and_agree(partners):
    plans = sorted((partners["out"] / "plans").glob("*.xlsx"))
    assert len(plans) == 2
    for plan in plans:
        wb = CalamineWorkbook.from_path(str(plan))
        assert PARTNERS in wb.sheet_names
        text = "\n".join(str(c) for row in wb.get_sheet_by_name(PARTNERS).to_python() for c in row)
        for fid in DIFFER:
            assert SPEC.factor(fid).statement in text
        assert SPEC.factor("proc_clear_contracts").statement not in text.split("What you agree on")[0]
        assert "What you agree on" in text
        # a factor both rated the same is common ground
        agreed = next(f for f in SPEC.factors if f.id not in DIFFER and f.id not in CLOSE)
        assert agreed.statement in text.split("What you agree on")[1]


def test_agreed_return_is_prefilled_where_partners_agree_and_flagged_where_not(partners, tmp_path):
    a, b = partners["paths"]
    out = tmp_path / "agreed.xlsx"
    result = CliRunner().invoke(main, ["generate", "--from-returns", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    agreed = check_return(out, SPEC)
    assert agreed.ret.identity.council == "Leeds"
    assert "Ann Lee" in agreed.ret.identity.respondent and "Bo Khan" in agreed.ret.identity.respondent
    first = check_return(a, SPEC)
    for f in SPEC.factors:
        if f.id in DIFFER or f.id in CLOSE:
            assert agreed.ret.factors[f.id].rating is None, f.id
        else:
            assert agreed.ret.factors[f.id].rating == first.ret.factors[f.id].rating, f.id
    flagged = {(i.location, i.code.value) for i in agreed.issues if i.code.value == "ANS_007"}
    aspect_of = {f.id: a.sheet for a in SPEC.aspects for f in a.factors}
    rows = {f.id: L.FIRST_FACTOR_ROW + [x.id for x in SPEC.aspect(f.aspect_id).factors].index(f.id) + 1
            for f in SPEC.factors}
    col = L.col_letter(L.COL_CARRIED)
    assert flagged == {(f"'{aspect_of[fid]}'!{col}{rows[fid]}", "ANS_007") for fid in [*DIFFER, *CLOSE]}
    mark = openpyxl.load_workbook(out)[aspect_of["sd_one_place"]][f"{col}{rows['sd_one_place']}"].value
    assert mark.startswith(DIFFER_MARK) and "Ann Lee" in mark and RATING[1] in mark and RATING[4] in mark
    # Both partners' notes are kept, each labelled with who said it.
    assert "respondent 1" in agreed.ret.factors["sd_one_place"].evidence
    assert "respondent 2" in agreed.ret.factors["sd_one_place"].evidence


def test_agreed_return_refuses_returns_from_different_councils(partners, tmp_path):
    other = fill_workbook(generate(SPEC, tmp_path / "york.xlsx", Identity("York", "E06000014", "Cy")),
                          tmp_path / "york-filled.xlsx", respondent_answers(0))
    result = CliRunner().invoke(main, ["generate", "--from-returns", str(partners["paths"][0]), str(other),
                                       "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1
    assert "different councils" in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_next_year_carries_every_answer_scores_the_same_and_asks_for_confirmation(partners, tmp_path, soffice):
    last = partners["paths"][0]
    out = tmp_path / "leeds-2027.xlsx"
    result = CliRunner().invoke(main, ["generate", "--prefill", str(last), "-o", str(out)])
    assert result.exit_code == 0, result.output
    before, after = check_return(last, SPEC), check_return(out, SPEC)
    assert after.ret.identity.council == "Leeds" and after.ret.identity.respondent == "Ann Lee"
    for fid, a in before.ret.factors.items():
        b = after.ret.factors[fid]
        assert (b.rating, b.importance, b.control, b.boost, b.evidence, b.dont_know) == \
               (a.rating, a.importance, a.control, a.boost, a.evidence, a.dont_know), fid
        assert b.carried
    assert after.ret.texts == before.ret.texts
    assert after.ret.priorities == before.ret.priorities
    assert after.scores.to_json() == before.scores.to_json()
    carried = [i for i in after.issues if i.code.value == "ANS_007"]
    assert len(carried) == len(SPEC.factors)
    # The same through LibreOffice.
    resaved = convert([out], tmp_path / "lo", "xlsx")[0]
    assert check_return(resaved, SPEC).scores.to_json() == before.scores.to_json()
    # Clearing the marks, as a user would, confirms the answers.
    wb = openpyxl.load_workbook(out)
    for aspect in SPEC.aspects:
        ws = wb[aspect.sheet]
        for r in range(len(aspect.factors)):
            cell = ws.cell(row=L.FIRST_FACTOR_ROW + 1 + r, column=L.COL_CARRIED + 1)
            assert cell.value == CARRIED_MARK
            cell.value = None
    wb.save(tmp_path / "confirmed.xlsx")
    confirmed = check_return(tmp_path / "confirmed.xlsx", SPEC)
    assert not [i for i in confirmed.issues if i.code.value == "ANS_007"]
    assert confirmed.scores.to_json() == before.scores.to_json()


def test_next_year_migrates_to_a_new_form_version_by_factor_id(partners, tmp_path):
    data = yaml.safe_load(Path(SPEC.source).read_text(encoding="utf-8"))
    data["version"] = "1.1"
    sd = data["aspects"][0]["factors"]
    sd[0]["id"] = "sd_whole_place"  # renamed
    retired = sd.pop(1)["id"]  # retired
    sd.append({"id": "sd_new_factor", "statement": "A factor new this year.", "weight": 2, "evidence": "Any."})
    data["migrations"] = [{"from_version": "1.0", "renamed": {"sd_one_place": "sd_whole_place"},
                           "retired": [retired]}]
    path = tmp_path / "scoa-1.1.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    new_spec = load_spec(path)
    last = partners["paths"][0]
    out = tmp_path / "next.xlsx"
    result = CliRunner().invoke(main, ["generate", "--prefill", str(last), "--spec", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    before, after = check_return(last, SPEC), check_return(out, new_spec)
    assert after.ret.spec_version == "1.1"
    assert after.ret.factors["sd_whole_place"].rating == before.ret.factors["sd_one_place"].rating
    assert after.ret.factors["sd_new_factor"].rating is None
    cover = "\n".join(str(c) for row in CalamineWorkbook.from_path(str(out)).get_sheet_by_name(L.COVER).to_python()
                      for c in row)
    assert retired in cover and "A factor new this year." in cover


def test_plan_shows_change_since_last_year(partners, tmp_path):
    last, this = partners["paths"]
    out = tmp_path / "plan.xlsx"
    result = CliRunner().invoke(main, ["plan", str(this), "--previous", str(last), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = "\n".join(str(c) for row in CalamineWorkbook.from_path(str(out)).get_sheet_by_name("Cover").to_python()
                     for c in row)
    assert "Change since last year" in text
