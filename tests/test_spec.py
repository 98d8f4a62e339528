"""The spec: the bundled one loads as the seed describes it; a bad one is refused with file, key path and problem."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scoa_xl.cli import main
from scoa_xl.errors import SpecError
from scoa_xl.resources import default_spec_path
from scoa_xl.spec import load_spec

BUNDLED = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))

SEED_MODELS = [
    "Prevention and early intervention", "Leadership of a system in a place", "Community development focused",
    "Developing VCFSE capacity", "Political economy approach", "Individual focused", "Values-based commissioning",
    "Disruptive commissioning", "Strategic procurement of services against needs",
    "Contestability to drive down costs", "Market management", "Small government",
    "In-house delivery, mutualisation etc",
]
SEED_ASPECTS = ["System design", "Relationships", "Capacity and capability development", "User and outcome focus",
                "Insight and inspiration", "Policy", "Process", "Models and tactics"]


def write_spec(tmp_path: Path, data: dict, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def refused(tmp_path: Path, change) -> str:
    """Apply `change` to a copy of the bundled spec, load it, and return the SpecError's message."""
    data = copy.deepcopy(BUNDLED)
    change(data)
    path = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert message.startswith(f"{path.resolve()}: "), message  # names the file first
    return message


# --- the bundled spec -------------------------------------------------------------------------------------------


def test_bundled_spec_has_the_seeds_aspects_and_models():
    spec = load_spec()
    assert spec.id == "scoa"
    assert len(spec.aspects) == 8
    assert [a.name for a in spec.aspects] == SEED_ASPECTS
    assert all(5 <= len(a.factors) <= 8 for a in spec.aspects)
    assert len(spec.models) == 13
    assert [m.name for m in spec.models] == SEED_MODELS
    assert len({f.id for f in spec.factors}) == len(spec.factors)
    assert all(f.weight in (1, 2, 3) and f.statement and f.evidence for f in spec.factors)
    assert all(set(m.profile) == {a.id for a in spec.aspects} for m in spec.models)
    assert all(m.risks for m in spec.models)
    assert (spec.readiness_share, spec.priority_share) == (0.6, 0.4)
    assert [c.value for c in spec.rating] == [1, 2, 3, 4, 5, None]
    assert [c.value for c in spec.importance] == [1, 2, 3]
    assert [c.value for c in spec.control] == ["in_control", "influenceable", "out_of_control", "needs_innovation"]
    assert [c.value for c in spec.boost] == [True, False]
    assert [c.value for c in spec.priority] == [1, 2, 3, 4, 5]
    assert [p.id for p in spec.text_prompts] == ["discussion", "strengths", "development"]
    assert re.fullmatch(r"[0-9a-f]{16}", spec.fingerprint)


def test_fingerprint_follows_content_not_file(tmp_path):
    same = load_spec(write_spec(tmp_path, BUNDLED, "same.yaml"))
    assert same.fingerprint == load_spec().fingerprint
    changed = copy.deepcopy(BUNDLED)
    changed["aspects"][0]["factors"][0]["statement"] += " (reworded)"
    assert load_spec(write_spec(tmp_path, changed, "changed.yaml")).fingerprint != same.fingerprint


def test_an_edited_spec_is_reloaded_not_served_from_a_cache(tmp_path):
    path = write_spec(tmp_path, BUNDLED, "edited.yaml")
    assert load_spec(path).version == "1.0"
    data = copy.deepcopy(BUNDLED)
    data["version"] = "1.1"
    data["title"] = "A longer title, so the file's size changes too"
    write_spec(tmp_path, data, "edited.yaml")
    assert load_spec(path).version == "1.1"


# --- bad specs: one case each ---------------------------------------------------------------------------------


def test_unknown_aspect_in_a_model_profile(tmp_path):
    def change(d):
        d["models"][2]["profile"]["system_desing"] = 2

    msg = refused(tmp_path, change)
    assert "models[2].profile.system_desing" in msg
    assert "unknown aspect 'system_desing'" in msg
    assert "system_design" in msg  # lists the aspects it could have meant


@pytest.mark.parametrize("weight", [4, -1, "high"])
def test_profile_weight_out_of_range(tmp_path, weight):
    def change(d):
        d["models"][0]["profile"]["policy"] = weight

    msg = refused(tmp_path, change)
    assert "models[0].profile.policy" in msg
    assert "weight must be a whole number 0 to 3" in msg
    assert repr(weight) in msg


def test_duplicate_factor_id(tmp_path):
    def change(d):
        d["aspects"][3]["factors"][1]["id"] = d["aspects"][0]["factors"][0]["id"]

    msg = refused(tmp_path, change)
    first = BUNDLED["aspects"][0]["factors"][0]["id"]
    assert "aspects[3].factors[1].id" in msg
    assert f"duplicate id '{first}'" in msg
    assert "aspects[0].factors[0]" in msg  # where the first one is


def test_duplicate_sheet_name(tmp_path):
    def change(d):
        d["aspects"][5]["sheet"] = d["aspects"][1]["sheet"].upper()  # Excel ignores case

    msg = refused(tmp_path, change)
    assert "aspects[5].sheet" in msg
    assert "used twice" in msg and "aspects[1]" in msg


def test_aspect_sheet_may_not_take_a_fixed_sheets_name(tmp_path):
    def change(d):
        d["aspects"][2]["sheet"] = "Models"

    msg = refused(tmp_path, change)
    assert "aspects[2].sheet" in msg and "'Models'" in msg


def test_dropdown_label_longer_than_255_characters(tmp_path):
    def change(d):
        d["scales"]["control"][1]["label"] = "Influenceable " + "x" * 250

    msg = refused(tmp_path, change)
    assert "scales.control[1].label" in msg
    assert "264 characters" in msg and "255" in msg


def test_rating_scale_out_of_order(tmp_path):
    def change(d):
        r = d["scales"]["rating"]
        r[0], r[1] = r[1], r[0]

    msg = refused(tmp_path, change)
    assert "scales.rating" in msg
    assert "[1, 2, 3, 4, 5, None] in that order" in msg
    assert "found [2, 1, 3, 4, 5, None]" in msg


def test_missing_key(tmp_path):
    def change(d):
        del d["aspects"][4]["factors"][2]["statement"]

    msg = refused(tmp_path, change)
    assert msg.endswith("aspects[4].factors[2].statement: is missing")


def test_invalid_yaml_gives_line_and_column(tmp_path):
    lines = default_spec_path().read_text(encoding="utf-8").splitlines()
    at = lines.index("      - id: sd_one_place")
    lines.insert(at + 1, "     statement without a colon")  # mis-indented: breaks the block
    path = tmp_path / "broken.yaml"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert str(err.value).startswith(f"{path.resolve()}: line {at + 2}, column 6: not valid YAML"), str(err.value)


def test_fit_blend_not_adding_to_one(tmp_path):
    def change(d):
        d["fit_blend"] = {"readiness": 0.7, "priority": 0.4}

    msg = refused(tmp_path, change)
    assert ": fit_blend: " in msg and "adding up to 1" in msg and "0.7" in msg


@pytest.mark.parametrize("blend", [[0.6, 0.4], 0.6, {"readiness": "most"}])
def test_fit_blend_of_the_wrong_shape_is_refused_not_crashed(tmp_path, blend):
    def change(d):
        d["fit_blend"] = blend

    assert ": fit_blend" in refused(tmp_path, change)


@pytest.mark.parametrize("entry", [["old"], {"from_version": "0.9", "renamed": ["sd_one_place"]}])
def test_malformed_migration_is_refused_not_crashed(tmp_path, entry):
    def change(d):
        d["migrations"] = [entry]

    assert "migrations[0]" in refused(tmp_path, change)


@pytest.mark.parametrize("sheet", ["System/design", "A very long sheet name of more than 31", "'Quoted'"])
def test_invalid_sheet_name(tmp_path, sheet):
    def change(d):
        d["aspects"][0]["sheet"] = sheet

    msg = refused(tmp_path, change)
    assert "aspects[0].sheet" in msg and "not a valid Excel sheet name" in msg


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the spec"):
        load_spec(tmp_path / "nowhere.yaml")


# --- the command line -------------------------------------------------------------------------------------------


def test_generate_refuses_a_bad_spec_cleanly(tmp_path):
    data = copy.deepcopy(BUNDLED)
    data["models"][0]["profile"]["policy"] = 4
    bad = write_spec(tmp_path, data)
    out = tmp_path / "x.xlsx"
    result = CliRunner().invoke(main, ["generate", "--spec", str(bad), "-o", str(out)])
    assert result.exit_code == 1
    assert "models[0].profile.policy" in result.stderr
    assert str(bad.resolve()) in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [bad]  # no temp file left behind either


def test_debug_shows_the_traceback_for_a_bad_spec(tmp_path):
    data = copy.deepcopy(BUNDLED)
    data["models"][0]["profile"]["policy"] = 4
    bad = write_spec(tmp_path, data)
    result = CliRunner().invoke(main, ["--debug", "generate", "--spec", str(bad), "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code != 0
    assert isinstance(result.exception, SpecError)  # re-raised, so a traceback reaches the developer
