"""A register → one personalised workbook per council (name and ONS code filled in), and the issue log that
says who got which.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from pathlib import Path

from .drafts import Attachment, issue_draft
from .fileio import make_dir, safe_filename, write_atomic
from .generate import FormTemplate, generate, template_key, workbook_id
from .model import Identity, Spec
from .register import Council, council_key, load_register
from .workers import DEFAULT_JOBS, Pool, TaskFailed

ISSUE_LOG = "issue-log.csv"
DRAFTS = "drafts"
# Measured on 2 shared cores, 153 councils, each filled in from the form written once (generate.FormTemplate): one
# process 13-15 ms a workbook, two 7-8 ms (writing each in full had been 42-47 and 26-38). A handful of workbooks
# is not worth starting workers for.
_PARALLEL_FROM = 8
_TIME_LIMIT = 120.0  # seconds for one workbook: far beyond the tens of milliseconds one takes


@dataclass(frozen=True, slots=True)
class IssuedWorkbook:
    council: Council
    file: Path
    workbook_id: str


def issue_workbooks(spec: Spec, register: Path, out_dir: Path, *, day: dt.date | None = None,
                    respondent: str = "", organisation: str = "", role: str = "",
                    jobs: int = DEFAULT_JOBS, drafts: bool = False) -> list[IssuedWorkbook]:
    """Write one workbook per council on the register (name and ONS code filled in) and DIR/issue-log.csv; with
    `drafts`, also DIR/drafts/: one unsent email per council, to the register's `email`, its workbook attached."""
    day = day or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = {"issue-log"}
    seen: set[str] = set()
    issued: list[IssuedWorkbook] = []
    work: list[tuple[Path, Identity]] = []
    for c in load_register(Path(register)):
        key = council_key(c.code, c.name)
        if key in seen:
            continue  # the same council listed twice gets one workbook
        seen.add(key)
        name = safe_filename(f"{c.name} - self-assessment", used, fallback="council") + ".xlsx"
        identity = Identity(council=c.name, council_code=c.code, respondent=respondent, organisation=organisation,
                            role=role)
        work.append((out_dir / name, identity))
        issued.append(IssuedWorkbook(c, out_dir / name, workbook_id(spec, identity, day.isoformat(), "")))
    _generate_all(spec, work, day, jobs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["council", "code", "region", "file", "workbook_id"])
    for i in issued:
        w.writerow([_csv_safe(i.council.name), _csv_safe(i.council.code), _csv_safe(i.council.region), i.file.name,
                    i.workbook_id])
    write_atomic(out_dir / ISSUE_LOG, buf.getvalue())
    if drafts:
        folder = make_dir(out_dir / DRAFTS)
        used_drafts: set[str] = set()
        for i in issued:
            draft = issue_draft(spec, i.council.name, Attachment.from_path(i.file), to=i.council.email)
            write_atomic(folder / (safe_filename(i.file.stem, used_drafts, fallback="council") + ".eml"),
                         draft.to_bytes())
    return issued


def _generate_all(spec: Spec, work: list[tuple[Path, Identity]], day: dt.date, jobs: int) -> None:
    """Generate each (file, identity); in worker processes when there are enough to share out."""
    jobs = max(1, min(jobs, len(work) // 4)) if len(work) >= _PARALLEL_FROM else 1
    forms = _Forms(spec, day)
    if jobs == 1:
        for item in work:
            _generate_one(item, forms)
        return
    with Pool(jobs, _generate_one, forms) as pool:
        for task, result, failure in pool.run(work, _TIME_LIMIT):
            if isinstance(result, TaskFailed) and isinstance(result.error, OSError):
                raise result.error  # a full disk or a folder it may not write: the caller reports it
            if failure:  # a workbook the tool itself could not write: a bug, not an input problem
                raise RuntimeError(f"could not write {task[0]} ({failure})")


@dataclass(slots=True)
class _Forms:
    """The form as issued on one day, written once per process for each shape it takes (FormTemplate)."""

    spec: Spec
    day: dt.date
    templates: dict[tuple, FormTemplate] = field(default_factory=dict)

    def workbook(self, identity: Identity, scratch: Path) -> bytes | None:
        key = template_key(self.spec, self.day, identity)
        form = self.templates.get(key)
        if form is None:
            form = self.templates[key] = FormTemplate.make(self.spec, self.day, identity, scratch)
        return form.fill(identity)


def _generate_one(item: tuple[Path, Identity], forms: _Forms) -> None:
    path, identity = item
    data = forms.workbook(identity, path.parent)
    if data is None:  # a name the template cannot hold exactly as generate() writes it
        generate(forms.spec, path, identity, generated_at=forms.day)
    else:
        write_atomic(path, data)


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ would run as a formula when the log is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
