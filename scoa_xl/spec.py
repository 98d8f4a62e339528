"""workbook_specs/*.yaml → Spec: checked, with a clear message for anything wrong."""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import yaml

from .errors import SpecError
from .layout import COVER, HOW, LISTS, MODELS, SCORES
from .model import CONTROL_IDS, Aspect, Choice, CommissioningModel, Factor, Migration, Risk, Spec, TextPrompt
from .resources import default_spec_path, specs_dir

ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
SHEET_BAD = set("[]:*?/\\")
LIST_LIMIT = 255  # Excel's limit on a dropdown's list, and so on any one label
TEXT_PROMPT_IDS = ("discussion", "strengths", "development")
FIXED_SHEETS = (COVER, MODELS, SCORES, HOW, LISTS)


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, what: str) -> SpecError:
        return SpecError(f"{self.path}: {where}: {what}")

    def get(self, node: dict, key: str, where: str, kind: type | tuple = str):
        if not isinstance(node, dict):
            raise self.fail(where, f"expected a mapping, found {type(node).__name__}")
        if key not in node:
            raise self.fail(f"{where}.{key}" if where else key, "is missing")
        value = node[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(f"{where}.{key}" if where else key,
                            f"expected {want}, found {type(value).__name__} {value!r}")
        if isinstance(value, str) and not value.strip():
            raise self.fail(f"{where}.{key}" if where else key, "is empty")
        return value

    def ident(self, node: dict, where: str, seen: dict[str, str]) -> str:
        value = self.get(node, "id", where)
        if not ID_RE.match(value):
            raise self.fail(f"{where}.id", f"{value!r} is not a valid id (lower-case letters, digits and _, "
                                            "starting with a letter, at most 41 characters)")
        if value in seen:
            raise self.fail(f"{where}.id", f"duplicate id {value!r} (also at {seen[value]})")
        seen[value] = where
        return value

    def label(self, text: str, where: str) -> str:
        if len(text) > LIST_LIMIT:
            raise self.fail(where, f"dropdown label is {len(text)} characters; Excel's list limit is {LIST_LIMIT}")
        return text


def _choices(ck: _Checker, node: list, where: str, *, value_key: str = "value") -> tuple[Choice, ...]:
    if not isinstance(node, list) or not node:
        raise ck.fail(where, "expected a non-empty list")
    out = []
    labels: set[str] = set()
    for i, item in enumerate(node):
        w = f"{where}[{i}]"
        label = ck.label(ck.get(item, "label", w), f"{w}.label")
        if label.casefold() in labels:
            raise ck.fail(f"{w}.label", f"duplicate label {label!r}")
        labels.add(label.casefold())
        if value_key not in item:
            raise ck.fail(f"{w}.{value_key}", "is missing")
        out.append(Choice(label, item[value_key], str(item.get("approach", ""))))
    return tuple(out)


def _scale(ck: _Checker, choices: tuple[Choice, ...], where: str, values: list) -> None:
    got = [c.value for c in choices]
    if got != values:
        raise ck.fail(where, f"values must be {values} in that order, found {got}")


def fingerprint(data: dict) -> str:
    """A short hash of the spec's content, stamped on every workbook made from it."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _parse_yaml(text: str):
    """libyaml's loader where PyYAML has it (a tenth of the time: this is most of `scoa check`'s start-up); a file
    it refuses is parsed again by the pure-Python loader, so a bad spec is reported in the same words as ever."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # CSafeLoader: the safe loader, in C
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def load_spec(path: Path | str | None = None) -> Spec:
    """Load and check a spec; raise SpecError naming the file, key path and problem."""
    path = Path(path) if path else default_spec_path()
    path = path.resolve()
    try:
        stamp = path.stat()
        version = (stamp.st_mtime_ns, stamp.st_size)
    except OSError:
        version = None
    # Keyed on the file's modification time and size too, so an edited spec is never served stale.
    return _load(path, version)


@lru_cache(maxsize=16)
def _load(path: Path, _version: tuple[int, int] | None = None) -> Spec:
    ck = _Checker(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the spec: {exc.strerror or exc}") from None
    try:
        data = _parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise SpecError(f"{path}: {where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: the spec must be a YAML mapping with id, version, aspects and models")

    spec_id = ck.get(data, "id", "")
    version = ck.get(data, "version", "", (str, int, float))
    scales = ck.get(data, "scales", "", dict)
    rating = _choices(ck, ck.get(scales, "rating", "scales", list), "scales.rating")
    _scale(ck, rating, "scales.rating", [1, 2, 3, 4, 5, None])
    importance = _choices(ck, ck.get(scales, "importance", "scales", list), "scales.importance")
    _scale(ck, importance, "scales.importance", [1, 2, 3])
    control = _choices(ck, ck.get(scales, "control", "scales", list), "scales.control", value_key="id")
    _scale(ck, control, "scales.control", list(CONTROL_IDS))
    boost = _choices(ck, ck.get(scales, "boost", "scales", list), "scales.boost")
    _scale(ck, boost, "scales.boost", [True, False])
    priority = _choices(ck, ck.get(scales, "priority", "scales", list), "scales.priority")
    _scale(ck, priority, "scales.priority", [1, 2, 3, 4, 5])
    for where, scale in (("scales.rating", rating[:5]), ("scales.priority", priority)):
        for i, c in enumerate(scale):
            if not c.label.startswith(str(c.value)):
                raise ck.fail(f"{where}[{i}].label", f"{c.label!r} must start with its number {c.value}")

    prompts = []
    for i, p in enumerate(ck.get(data, "text_prompts", "", list)):
        prompts.append(TextPrompt(ck.get(p, "id", f"text_prompts[{i}]"), ck.get(p, "label", f"text_prompts[{i}]"),
                                  str(p.get("help", ""))))
    if tuple(p.id for p in prompts) != TEXT_PROMPT_IDS:
        raise ck.fail("text_prompts", f"ids must be {list(TEXT_PROMPT_IDS)}, found {[p.id for p in prompts]}")

    seen: dict[str, str] = {}
    # The workbook's own sheets are taken: an aspect sheet with one of their names would clash.
    sheets: dict[str, str] = {s.casefold(): f"the workbook's own {s!r} sheet" for s in FIXED_SHEETS}
    aspects = []
    for i, a in enumerate(ck.get(data, "aspects", "", list)):
        w = f"aspects[{i}]"
        aid = ck.ident(a, w, seen)
        sheet = ck.get(a, "sheet", w)
        if len(sheet) > 31 or SHEET_BAD & set(sheet) or sheet.startswith("'") or sheet.endswith("'"):
            raise ck.fail(f"{w}.sheet", f"{sheet!r} is not a valid Excel sheet name "
                                        "(at most 31 characters, none of [ ] : * ? / \\)")
        if sheet.casefold() in sheets:
            raise ck.fail(f"{w}.sheet", f"sheet name {sheet!r} is used twice (also at {sheets[sheet.casefold()]})")
        sheets[sheet.casefold()] = w
        factors = []
        raw_factors = ck.get(a, "factors", w, list)
        if not 1 <= len(raw_factors) <= 12:
            raise ck.fail(f"{w}.factors", f"expected 1 to 12 factors, found {len(raw_factors)}")
        for j, f in enumerate(raw_factors):
            fw = f"{w}.factors[{j}]"
            fid = ck.ident(f, fw, seen)
            weight = ck.get(f, "weight", fw, int)
            if weight not in (1, 2, 3):
                raise ck.fail(f"{fw}.weight", f"must be 1, 2 or 3, found {weight}")
            factors.append(Factor(fid, aid, ck.get(f, "statement", fw), weight, str(f.get("evidence", ""))))
        aspects.append(Aspect(aid, ck.get(a, "name", w), sheet, str(a.get("covers", "")), tuple(factors)))
    if not aspects:
        raise ck.fail("aspects", "at least one aspect is needed")
    aspect_ids = [a.id for a in aspects]

    models = []
    for i, m in enumerate(ck.get(data, "models", "", list)):
        w = f"models[{i}]"
        mid = ck.ident(m, w, seen)
        name = ck.get(m, "name", w)
        profile = ck.get(m, "profile", w, dict)
        for key, weight in profile.items():
            if key not in aspect_ids:
                raise ck.fail(f"{w}.profile.{key}", f"unknown aspect {key!r}; the aspects are {', '.join(aspect_ids)}")
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 3:
                raise ck.fail(f"{w}.profile.{key}", f"weight must be a whole number 0 to 3, found {weight!r}")
        missing = [a for a in aspect_ids if a not in profile]
        if missing:
            raise ck.fail(f"{w}.profile", f"no weight for {', '.join(missing)}")
        if not any(profile.values()):
            raise ck.fail(f"{w}.profile", "every weight is 0; the model must rely on at least one aspect")
        risks = tuple(Risk(ck.get(r, "risk", f"{w}.risks[{k}]"), ck.get(r, "mitigation", f"{w}.risks[{k}]"))
                      for k, r in enumerate(m.get("risks") or []))
        models.append(CommissioningModel(mid, name, str(m.get("focus", "")), {a: profile[a] for a in aspect_ids},
                                         risks))
    if not models:
        raise ck.fail("models", "at least one model is needed")

    blend = data.get("fit_blend") or {"readiness": 0.6, "priority": 0.4}
    if not isinstance(blend, dict):
        raise ck.fail("fit_blend", f"expected a mapping with readiness and priority, found {blend!r}")
    r_share, p_share = blend.get("readiness"), blend.get("priority")
    if not (isinstance(r_share, int | float) and isinstance(p_share, int | float)
            and 0 <= r_share <= 1 and 0 <= p_share <= 1 and abs(r_share + p_share - 1) <= 1e-9):
        raise ck.fail("fit_blend", f"readiness and priority must be shares from 0 to 1 adding up to 1, "
                                   f"found {r_share!r} and {p_share!r}")

    migrations = []
    for i, mg in enumerate(data.get("migrations") or []):
        w = f"migrations[{i}]"
        if not isinstance(mg, dict):
            raise ck.fail(w, f"expected a mapping with from_version, found {type(mg).__name__}")
        renamed = mg.get("renamed") or {}
        if not isinstance(renamed, dict):
            raise ck.fail(f"{w}.renamed", f"expected a mapping of old factor id to new, found {renamed!r}")
        for old, new in renamed.items():
            if new not in seen:
                raise ck.fail(f"{w}.renamed.{old}", f"maps to unknown factor {new!r}")
        migrations.append(Migration(str(ck.get(mg, "from_version", w, (str, int, float))), dict(renamed),
                                    tuple(mg.get("retired") or ())))

    return Spec(
        id=spec_id, version=str(version), title=str(data.get("title", "Self-assessment")),
        purpose=str(data.get("purpose", "")), rating=rating, importance=importance, control=control,
        boost=boost, priority=priority, text_prompts=tuple(prompts), aspects=tuple(aspects),
        models=tuple(models), readiness_share=float(r_share), priority_share=float(p_share),
        migrations=tuple(migrations), fingerprint=fingerprint(data), source=str(path),
    )


def find_spec(spec_id: str, version: str, default: Spec) -> Spec | None:
    """The bundled spec with this id and version, if there is one."""
    if default.id == spec_id and default.version == version:
        return default
    for path in sorted(specs_dir().glob("*.yaml")):
        try:
            spec = load_spec(path)
        except SpecError:
            continue
        if spec.id == spec_id and spec.version == version:
            return spec
    return None
