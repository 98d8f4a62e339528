"""Example returns for `scoa demo`: a programme team's inbox, with the usual mess.

Answers are made up but plausible: each council has its own climate (some have more room for
manoeuvre than others, and it varies by aspect), drawn from a seeded random generator so the demo
is the same every time. Then the mess: a return with errors, returns with queries, a half-filled
one, an identical copy, a resubmission, an Excel lock file, a stray note, a broken file and a
return on an old version of the form.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from . import layout as L
from .batch import write_atomic
from .generate import Prefill, generate
from .model import CONTROL_IDS, FactorAnswer, Identity, Spec
from .register import Council, load_register
from .resources import data_dir

ISSUED = dt.date(2025, 1, 13)
SEED = 20250113

_EVIDENCE = (
    "Discussed at the joint commissioning board; examples in the market position statement.",
    "Seen in this year's contract reviews and provider forum feedback.",
    "Raised by several colleagues in the workshop; needs more evidence.",
    "Based on the last two budget rounds and the medium-term financial plan.",
    "Partners agreed this at the place-based partnership meeting.",
    "From the co-production group and the annual survey of people who draw on care.",
    "",
    "",
)
_DISCUSSION = (
    "Views differed between the council and NHS colleagues; worth returning to at the next board.",
    "Most of the group agreed; finance colleagues were more cautious.",
    "We found it hard to rate some factors without better data.",
)
_STRENGTHS = (
    "Good relationships with the main providers and a stable team.",
    "Strong voluntary sector partners and a clear shared vision.",
    "Elected members are engaged and supportive of change.",
)
_DEVELOPMENT = (
    "Build analytical capacity and make more use of what people tell us.",
    "Agree a shared outcomes framework with health partners.",
    "Simplify procurement so that small and community providers can bid.",
)


@dataclass(frozen=True, slots=True)
class Example:
    """One file of the example inbox and what the demo expects the batch to make of it."""

    path: Path
    expect: str  # the status the batch should give it
    about: str


def example_register_path() -> Path:
    return data_dir() / "example-register.csv"


def _answers(spec: Spec, rng: random.Random, climate: float, *, share: float = 1.0,
             no_category: int = 0) -> tuple[dict[str, FactorAnswer], dict[str, dict[str, str]], dict[str, int | None]]:
    """Plausible answers: ratings around the council's climate, shifted per aspect."""
    factors: dict[str, FactorAnswer] = {}
    missing_category = no_category
    for a in spec.aspects:
        shift = rng.uniform(-0.9, 0.9)
        for f in a.factors:
            if rng.random() > share:
                continue
            if rng.random() < 0.04:
                factors[f.id] = FactorAnswer(f.id, None, None, None, None, "", dont_know=True)
                continue
            rating = min(5, max(1, round(rng.gauss(climate + shift, 0.9))))
            importance = rng.choice((None, None, 1, 2, 3))
            control = boost = None
            if rating <= 2:
                if missing_category:
                    missing_category -= 1
                else:
                    control = rng.choices(CONTROL_IDS, weights=(3, 4, 2, 1))[0]
            elif rating >= 4:
                boost = rng.random() < 0.6
            factors[f.id] = FactorAnswer(f.id, rating, importance, control, boost, rng.choice(_EVIDENCE))
    texts = {a.id: {"discussion": rng.choice(_DISCUSSION), "strengths": rng.choice(_STRENGTHS),
                    "development": rng.choice(_DEVELOPMENT)} for a in spec.aspects if rng.random() < share}
    texts = {k: {p.id: v.get(p.id, "") for p in spec.text_prompts} for k, v in texts.items()}
    priorities = {m.id: min(5, max(1, round(rng.gauss(3.2, 1.1)))) for m in spec.models if rng.random() < share}
    return factors, texts, priorities


def _return(spec: Spec, path: Path, identity: Identity, rng: random.Random, climate: float, **kw) -> Path:
    factors, texts, priorities = _answers(spec, rng, climate, **kw)
    return generate(spec, path, identity, prefill=Prefill(factors=factors, texts=texts, priorities=priorities,
                                                          carried=False), generated_at=ISSUED)


def _stamp(path: Path, day: dt.date) -> None:
    """Give a file the modification time of the day it 'arrived', so the inbox looks lived in."""
    t = dt.datetime(day.year, day.month, day.day, 9, 30).timestamp()
    os.utime(path, (t, t))


def _type_into(path: Path, spec: Spec, typed: dict[str, str]) -> None:
    """Type into cells by field name as a user would: over a dropdown (a value not on its list), or a formula
    ("=..." becomes a live formula, as in Excel)."""
    import openpyxl

    fields = {f.name: f for f in L.build_layout(spec).fields}
    wb = openpyxl.load_workbook(path)
    for name, text in typed.items():
        wb[fields[name].sheet][fields[name].cell] = text
    tmp = path.with_name(".~" + path.name)
    wb.save(tmp)
    os.replace(tmp, path)


def make_examples(folder: Path, spec: Spec, register: Path | None = None, seed: int = SEED) -> list[Example]:
    """Write the example inbox into `folder` (created if needed); return its files and expected statuses."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "late").mkdir(exist_ok=True)
    rng = random.Random(seed)
    c: dict[str, Council] = {x.name: x for x in load_register(register or example_register_path())}
    names = list(c)

    def council(i: int) -> Council:
        return c[names[i % len(names)]]

    def who(x: Council, respondent: str, organisation: str = "", role: str = "Head of commissioning",
            date: str = "2025-02-14") -> Identity:
        return Identity(council=x.name, council_code=x.code, respondent=respondent,
                        organisation=organisation or f"{x.name} adult social care", role=role, date=date)

    out: list[Example] = []

    def add(path: Path, expect: str, about: str, day: dt.date = dt.date(2025, 2, 14)) -> None:
        _stamp(path, day)
        out.append(Example(path, expect, about))

    people = ("Priya Shah", "Tom Okafor", "Helen Price", "Sam Whitfield", "Aisha Rahman", "Gareth Lloyd",
              "Nadia Kowalski", "Chris Ellison", "Ruth Adebayo", "Owen Marsh")
    # Good returns, each council with its own climate.
    good = [(2, 3.6), (1, 2.7), (7, 3.1), (9, 2.4), (6, 3.4)]
    for i, climate in good:
        x = council(i)
        p = _return(spec, folder / f"{x.name} SCOA return.xlsx", who(x, people[i]), rng, climate)
        add(p, "valid", "a complete return")
    lead = council(2)
    # A partner fills in their own view of the same council (kept apart, then combined per council).
    p = _return(spec, folder / f"{lead.name} - NHS partner view.xlsx",
                who(lead, "Daniel Hughes", "West Yorkshire Integrated Care Board", "Director of strategy"), rng, 3.0)
    add(p, "valid", "a second respondent for the same council")
    # The same return sent twice: an identical copy.
    cam = council(6)
    copy = folder / f"Copy of {cam.name} SCOA return.xlsx"
    shutil.copyfile(folder / f"{cam.name} SCOA return.xlsx", copy)
    add(copy, "duplicate", "an identical copy of another file")
    # A resubmission: same council and respondent, a later date completed, some answers changed.
    man = council(1)
    p = _return(spec, folder / "late" / f"{man.name} SCOA return v2.xlsx", who(man, people[1], date="2025-03-03"),
                rng, 2.9)
    add(p, "valid", "a resubmission that replaces an earlier return", dt.date(2025, 3, 3))
    out[:] = [Example(e.path, "superseded", "replaced by a resubmission") if e.path.name ==
              f"{man.name} SCOA return.xlsx" else e for e in out]
    # Errors: no council name, and a rating typed over the dropdown; and a note typed as a formula (kept as text).
    nor = council(5)
    p = _return(spec, folder / f"{nor.name}.xlsx", dataclasses.replace(who(nor, people[5]), council=""), rng, 3.0)
    _type_into(p, spec, {L.name_of("rating", spec.aspects[1].factors[2].id): "7 - brilliant",
                         L.name_of("notes", spec.aspects[1].factors[0].id):
                         '=HYPERLINK("https://example.org/board-minutes","Board minutes")'})
    add(p, "invalid", "no council named, a rating that is not on the list, and a note typed as a formula")
    # Queries: inhibitors with no control category.
    bham = council(4)
    p = _return(spec, folder / f"{bham.name} self assessment FINAL.xlsx", who(bham, people[4]), rng, 2.2,
                no_category=3)
    add(p, "queries", "inhibitors with no control category")
    # Half filled: several aspects have too few answers to score.
    hants = council(8)
    p = _return(spec, folder / f"{hants.name} (draft).xlsx", who(hants, people[8]), rng, 3.3, share=0.4)
    add(p, "queries", "about half of the factors rated")
    # An old version of the form.
    derby = council(3)
    old = dataclasses.replace(spec, version="0.9")
    p = generate(old, folder / f"{derby.name} return 2024 form.xlsx", who(derby, people[3]),
                 prefill=Prefill(*_answers(spec, rng, 3.0), carried=False), generated_at=dt.date(2024, 1, 15))
    add(p, "invalid", "made from an old version of the form")
    # A broken file: a return cut short in transit.
    nland = council(0)
    whole = _return(spec, folder / ".~whole.xlsx", who(nland, people[0]), rng, 3.0)
    data = whole.read_bytes()
    whole.unlink()
    p = write_atomic(folder / f"{nland.name} return.xlsx", data[: len(data) // 2])
    add(p, "unreadable", "a damaged (truncated) file")
    # Things that are not returns.
    kent = council(7)
    lock = write_atomic(folder / f"~${kent.name} SCOA return.xlsx", b"\x0bHelen Price" + b"\x20" * 40 + b"\x00" * 110)
    add(lock, "skipped", "an Excel lock file")
    notes = write_atomic(folder / "notes.txt", "Chased Hampshire for the rest of their return on 3 March.\n"
                         "Leeds sent a partner view from the ICB as well.\n")
    add(notes, "skipped", "a note, not a return")
    return out


def run_demo(out: Path, spec: Spec, *, progress: bool = True, jobs: int | None = None):
    """Make the example inbox in OUT/returns and run the batch on it into OUT; return the BatchResult."""
    from .batch import DEFAULT_JOBS, run_batch

    out = Path(out)
    inbox = out / "returns"
    examples = make_examples(inbox, spec)
    result = run_batch(inbox, out, spec, register=example_register_path(), jobs=jobs or DEFAULT_JOBS,
                       progress=progress)
    return examples, result
