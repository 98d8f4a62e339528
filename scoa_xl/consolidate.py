"""Several respondents for one council → one consolidated view of that council.

Each respondent's return stays a record of its own; this only combines their figures for the
cross-council outputs. Kept in one place so the way respondents are combined, and where they
disagree, is defined once for the JSON, the summary and the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .model import Spec
from .score import MIN_SCORED_ASPECTS, SHORT_LIST

COMBINED = ("mean of the respondents' scores: each aspect's room for manoeuvre and controllability is the "
            "plain average over the respondents whose return has a figure for it; overall room for manoeuvre is "
            "the average of those combined aspect scores (none if fewer than {min} are scored); each model's fit "
            "is the average of the respondents' fits. Only valid returns and returns with queries on form "
            "{spec} version {version} are counted; duplicates and superseded returns are left out.")


@dataclass(frozen=True, slots=True)
class Respondent:
    """One counted return, as consolidation needs it (figures in the spec's order of aspects and models)."""

    council: str
    code: str
    respondent: str
    organisation: str
    file: str
    rooms: tuple[float | None, ...]  # room for manoeuvre per aspect
    controllability: tuple[float | None, ...]  # per aspect
    fits: tuple[float | None, ...]  # per model
    ratings: dict[str, int | None] = field(default_factory=dict)  # factor id -> rating (None: unanswered)


DIVERGENCE_POINTS = 2  # ratings this far apart are a conversation worth having


def divergence(named: Sequence[tuple[str, dict[str, int | None]]], spec: Spec) -> list[dict]:
    """Factors where respondents' ratings differ by DIVERGENCE_POINTS or more, widest gap first."""
    out = []
    for a in spec.aspects:
        for f in a.factors:
            rated = [(name, ratings.get(f.id)) for name, ratings in named]
            values = [v for _, v in rated if v is not None]
            if len(values) >= 2 and max(values) - min(values) >= DIVERGENCE_POINTS:
                out.append({"factor": f.id, "aspect": a.id, "statement": f.statement,
                            "spread": max(values) - min(values),
                            "ratings": [{"respondent": name, "rating": v} for name, v in rated]})
    out.sort(key=lambda d: -d["spread"])
    return out


def agreement(named: Sequence[tuple[str, dict[str, int | None]]], spec: Spec) -> list[dict]:
    """Factors every respondent rated, all the same: common ground to build on."""
    out = []
    for a in spec.aspects:
        for f in a.factors:
            values = [ratings.get(f.id) for _, ratings in named]
            if len(values) >= 2 and None not in values and len(set(values)) == 1:
                out.append({"factor": f.id, "aspect": a.id, "statement": f.statement, "rating": values[0]})
    return out


def respondent_label(name: str, organisation: str, index: int) -> str:
    """How a respondent is named where partners are compared (never blank)."""
    label = name or f"Respondent {index + 1}"
    return f"{label} ({organisation})" if organisation and organisation not in label else label


def council_key(code: str, name: str) -> str:
    """Councils are matched on their ONS code; on the name only where no code is known."""
    return code.strip().upper() or name.strip().casefold()


def _mean(values: Iterable[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return sum(got) / len(got) if got else None


def consolidate(respondents: Sequence[Respondent], spec: Spec) -> list[dict]:
    """One object per council (sorted by name): its respondents, files and combined scores."""
    groups: dict[str, list[Respondent]] = {}
    for r in respondents:
        groups.setdefault(council_key(r.code, r.council), []).append(r)
    out = [_council(rs, spec) for rs in groups.values()]
    out.sort(key=lambda c: (c["council"].casefold(), c["code"]))
    return out


def _council(rs: list[Respondent], spec: Spec) -> dict:
    aspects = []
    for i, a in enumerate(spec.aspects):
        aspects.append({
            "id": a.id,
            "name": a.name,
            "room_for_manoeuvre": _mean(r.rooms[i] for r in rs),
            "controllability": _mean(r.controllability[i] for r in rs),
            "respondents_scored": sum(r.rooms[i] is not None for r in rs),
        })
    scored = [a["room_for_manoeuvre"] for a in aspects if a["room_for_manoeuvre"] is not None]
    overall = sum(scored) / len(scored) if len(scored) >= MIN_SCORED_ASPECTS else None
    fits = {m.id: _mean(r.fits[k] for r in rs) for k, m in enumerate(spec.models)}
    order = sorted((m for m in spec.models if fits[m.id] is not None), key=lambda m: -fits[m.id])
    rank = {m.id: i + 1 for i, m in enumerate(order)}
    models = [{"id": m.id, "name": m.name, "fit": fits[m.id], "rank": rank.get(m.id),
               "short_list": rank.get(m.id, SHORT_LIST + 1) <= SHORT_LIST}
              for m in sorted(spec.models, key=lambda m: rank.get(m.id, len(spec.models) + 1))]
    first = rs[0]
    named = [(respondent_label(r.respondent, r.organisation, i), r.ratings) for i, r in enumerate(rs)]
    return {
        "council": first.council,
        "code": first.code,
        "respondents": [r.respondent for r in rs],
        "organisations": [r.organisation for r in rs],
        "files": [r.file for r in rs],
        "combined": COMBINED.format(min=MIN_SCORED_ASPECTS, spec=spec.id, version=spec.version),
        "aspects": aspects,
        "overall_room_for_manoeuvre": overall,
        "models": models,
        "divergence": divergence(named, spec) if len(rs) > 1 else [],
        "agreement": agreement(named, spec) if len(rs) > 1 else [],
    }
