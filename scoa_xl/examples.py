"""Example returns for `scoa demo`: a programme team's inbox, with the usual mess.

Answers are made up but plausible: each council has its own climate (some have more room for
manoeuvre than others, and it varies by aspect), drawn from a seeded random generator so the demo
is the same every time. Then the mess: a return with errors, returns with queries, a half-filled
one, an identical copy, a resubmission, an Excel lock file, a stray note, a broken file and a
return on an old version of the form. Some returns arrive as they do in life, by email: an .eml saved from
Outlook on the web, a .msg dragged out of desktop Outlook, a mailbox export (.mbox) with a return a colleague
forwarded and a chaser with nothing attached, and one council's partners' returns in a .zip.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import mailbox
import os
import random
import shutil
import zipfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import layout as L
from .drafts import XLSX_TYPE
from .fileio import write_atomic
from .generate import Prefill, generate
from .model import CONTROL_IDS, FactorAnswer, Identity, Spec, is_inhibitor, is_supporter
from .register import Council, load_register
from .resources import data_dir

if TYPE_CHECKING:
    from .batch import Progress
    from .results import BatchResult

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

    path: Path  # the file in the inbox (for an attachment, the email or archive that holds it)
    expect: str  # the status the batch should give it
    about: str
    file: str = ""  # its row in the batch: its path in the inbox, and for an attachment "CONTAINER > NAME"


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
            if is_inhibitor(rating):
                if missing_category:
                    missing_category -= 1
                else:
                    control = rng.choices(CONTROL_IDS, weights=(3, 4, 2, 1))[0]
            elif is_supporter(rating):
                boost = rng.random() < 0.6
            factors[f.id] = FactorAnswer(f.id, rating, importance, control, boost, rng.choice(_EVIDENCE))
    texts = {a.id: {"discussion": rng.choice(_DISCUSSION), "strengths": rng.choice(_STRENGTHS),
                    "development": rng.choice(_DEVELOPMENT)} for a in spec.aspects if rng.random() < share}
    texts = {k: {p.id: v.get(p.id, "") for p in spec.text_prompts} for k, v in texts.items()}
    priorities: dict[str, int | None] = {m.id: min(5, max(1, round(rng.gauss(3.2, 1.1)))) for m in spec.models
                                         if rng.random() < share}
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
        out.append(Example(path, expect, about, path.relative_to(folder).as_posix()))

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
    # A council forwards its workbook to its NHS partner, who changes only the organisation on the cover: a
    # respondent of their own, not a resubmission of the council's return.
    fwd = council(9)
    p = _return(spec, folder / f"Fwd {fwd.name} return (NHS trust).xlsx",
                who(fwd, people[9], f"{fwd.name} Community NHS Trust", date="2025-02-20"), rng, 2.8)
    add(p, "valid", "a forwarded copy filled in by a partner who left the name on the cover")
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
    out[:] = [dataclasses.replace(e, expect="superseded", about="replaced by a resubmission") if e.path.name ==
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
    _by_email(folder, out, c, people)
    return out


TEAM = "SCOA programme team <scoa@programme.example.org>"


def _sender(person: str, x: Council) -> str:
    """A made-up address on the reserved example.org domain: a demo's draft can never reach anyone."""
    first, *_, last = person.lower().split()
    return f"{person} <{first}.{last}@{x.name.lower().replace(' ', '')}.example.org>"


def _message(sender: str, when: dt.datetime, subject: str, body: str,
             attachments: tuple[tuple[str, bytes] | EmailMessage, ...] = ()) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, TEAM, subject
    msg["Date"] = format_datetime(when)
    msg.set_content(body)
    for a in attachments:
        if isinstance(a, EmailMessage):
            msg.add_attachment(a)  # a forwarded message, as message/rfc822
        else:
            msg.add_attachment(a[1], maintype="application", subtype=XLSX_TYPE.split("/")[1], filename=a[0])
    return msg


def _by_email(folder: Path, out: list[Example], c: dict[str, Council], people: tuple[str, ...]) -> None:
    """Move some of the returns into what they arrived in: an .eml, a .msg, an .mbox and a .zip."""
    from aspose.email_foss.msg import MapiMessage

    def take(name: str, container: Path, row: str) -> tuple[str, bytes]:
        p = folder / name
        data = p.read_bytes()
        p.unlink()
        out[:] = [dataclasses.replace(e, path=container, file=f"{container.name} > {row}") if e.path == p else e
                  for e in out]
        return row.rsplit(" > ", 1)[-1], data

    def sent(day: int, hour: int) -> dt.datetime:  # a UK winter: GMT
        return dt.datetime(2025, 2, day, hour, 12, tzinfo=dt.UTC)

    kent, bham, corn, leeds = c["Kent"], c["Birmingham"], c["Cornwall"], c["Leeds"]
    # Saved from Outlook on the web.
    eml = folder / "SCOA return - Kent.eml"
    att = take("Kent SCOA return.xlsx", eml, "Kent SCOA return.xlsx")
    write_atomic(eml, _message(_sender(people[7], kent), sent(14, 10), "SCOA return - Kent",
                               "Please find Kent's return attached.\n", (att,)).as_bytes())
    # Dragged out of desktop Outlook.
    msg = folder / "RE SCOA self-assessment.msg"
    att = take("Birmingham self assessment FINAL.xlsx", msg, "Birmingham self assessment FINAL.xlsx")
    mapi = MapiMessage.from_email_message(_message(_sender(people[4], bham), sent(14, 15), "RE: SCOA self-assessment",
                                                   "Our final version is attached.\n", (att,)))
    write_atomic(msg, mapi.to_bytes())
    # A mailbox export: a colleague forwarded Cornwall's return, and someone chased with nothing attached.
    box_path = folder / "Inbox.mbox"
    original = "SCOA return - Cornwall"
    att = take("Cornwall SCOA return.xlsx", box_path, f"Fwd: SCOA return - Cornwall.eml > {original}.eml > "
                                                       "Cornwall SCOA return.xlsx")
    box = mailbox.mbox(box_path)
    box.add(_message("Ann Lee <ann.lee@programme.example.org>", sent(17, 9), "Fwd: SCOA return - Cornwall",
                     "Cornwall sent this to me by mistake.\n",
                     (_message(_sender(people[9], corn), sent(14, 11), original, "Our return.\n", (att,)),)))
    box.add(_message(_sender(people[5], c["Norfolk"]), sent(18, 16), "SCOA deadline",
                     "Is the deadline still the end of February?\n"))
    box.flush()
    box.close()
    out.append(Example(box_path, "skipped", "an email with nothing attached", "Inbox.mbox > SCOA deadline.eml"))
    # A council's partners in one archive.
    zipped = folder / "Leeds partners.zip"
    members = [take(n, zipped, n) for n in (f"{leeds.name} SCOA return.xlsx", f"{leeds.name} - NHS partner view.xlsx")]
    tmp = folder / ".~partners.zip"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    os.replace(tmp, zipped)
    for p in (eml, msg, box_path, zipped):
        _stamp(p, dt.date(2025, 2, 18))


def run_demo(out: Path, spec: Spec, *, progress: Progress | None = None,
             jobs: int | None = None) -> tuple[list, BatchResult]:
    """Make the example inbox in OUT/returns and run the batch on it into OUT, drafts included (OUT/drafts, addressed
    from the example register's made-up `email` column); return the examples and the BatchResult."""
    from .batch import run_batch
    from .workers import DEFAULT_JOBS

    out = Path(out)
    inbox = out / "returns"
    examples = make_examples(inbox, spec)
    result = run_batch(inbox, out, spec, register=example_register_path(), jobs=jobs or DEFAULT_JOBS,
                       progress=progress, drafts=True)
    return examples, result
