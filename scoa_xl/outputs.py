"""A batch's results → the files it leaves in OUT: each plan under its council's name, a feedback letter per
file, the summary and the manifest; all of it staged inside OUT and swapped in whole.

A run is all or nothing. Everything is written into a staging folder (OUT/.scoa-run-...); only when all of it is
there does `StagedRun.commit` put it in place of the previous run's outputs. On Linux each output is swapped
with the old one in one atomic step (renameat2 with RENAME_EXCHANGE), so no output is ever missing or half
written; the few swaps of one run are recorded in a journal first, and a run killed during them is finished
by the next run before it does anything else (`recover`). Elsewhere the swap is two renames per output under
the same journal. A run that fails or is killed at any other moment leaves OUT's outputs as they were, and
the next run removes what it left behind.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .drafts import Attachment, feedback_draft, greeting_name, reminder_draft, unreadable_by_council
from .errors import Code, Issue, OutputError
from .fileio import TEMP_PREFIX, display_name, exchange, make_dir, safe_filename, write_atomic
from .model import Spec, Status
from .register import Council, Register, council_key
from .render import render
from .results import FileRecord

MANIFEST = ".scoa-batch-manifest.json"
PLANS, FEEDBACK, DRAFTS, SUMMARY = "plans", "feedback", "drafts", "summary.xlsx"
OUTPUTS = (SUMMARY, PLANS, FEEDBACK, DRAFTS, MANIFEST)  # what a run owns in OUT; nothing else there is touched
RUN_PREFIX = ".scoa-run-"
JOURNAL = ".scoa-swap.json"
_OLD_STAGING = ".scoa-staging-"  # left in OUT/plans by killed runs of earlier versions
FAULTS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
          errno.EACCES: "permission to write there was refused", errno.EPERM: "permission to write there was refused",
          errno.EROFS: "the folder is on a read-only disk"}


def fault_point(name: str) -> None:
    """Where the fault tests stop a run with a real SIGKILL (SCOA_KILL_AT=name); does nothing otherwise."""
    if os.environ.get("SCOA_KILL_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


class StagedRun:
    """One run's outputs, written into a staging folder inside OUT and then swapped in whole."""

    def __init__(self, out: Path):
        self.out = out
        self.dir = make_dir(out / f"{RUN_PREFIX}{secrets.token_hex(6)}")
        self.work = make_dir(self.dir / ".work")  # the workers' own files: never swapped in
        self.committed = False

    def shown(self, path: str | os.PathLike[str] | None) -> Path:
        """Where a staged path will be once swapped in: the path to name in a message."""
        if not path:
            return self.out
        p = Path(os.fsdecode(path))
        try:
            rel = p.relative_to(self.dir)
        except ValueError:
            return p
        return self.out / rel if rel.parts[:1] != (".work",) else self.out

    def commit(self) -> None:
        """Put every staged output in place of the previous run's, under a journal."""
        entries = {name: os.lstat(self.dir / name).st_ino for name in OUTPUTS if (self.dir / name).exists()}
        journal = {"run": self.dir.name, "entries": entries}
        write_atomic(self.out / JOURNAL, json.dumps(journal))
        _swap(self.out, self.dir, entries)
        self.committed = True
        _finish(self.out, self.dir)

    def discard(self) -> None:
        if not self.committed:
            shutil.rmtree(self.dir, ignore_errors=True)


def _swap(out: Path, stage: Path, entries: dict[str, int]) -> None:
    """Each staged output to its place; the previous outputs go into the staging folder, to be removed.

    If the file system refuses one of the swaps (a folder that may not be moved, say), the ones already made are
    undone, so the previous outputs stay as they were, and the error is raised."""
    done: list[tuple[Path, Path, bool]] = []  # (staged, final, exchanged in one step)
    try:
        for name, ino in entries.items():
            new, old = stage / name, out / name
            if os.path.lexists(old) and os.lstat(old).st_ino == ino:
                continue  # already in place (a journal being finished)
            if os.path.lexists(old):
                if exchange(new, old):
                    done.append((new, old, True))
                else:  # no atomic exchange here: two renames, under the journal
                    os.replace(old, stage / f"old-{name}")
                    done.append((stage / f"old-{name}", old, False))
                    os.replace(new, old)
            else:
                os.replace(new, old)
                done.append((new, old, False))
            fault_point("swap")
        for name in OUTPUTS:  # an output of the previous run that this run does not make (drafts, say)
            if name not in entries and os.path.lexists(out / name):
                os.replace(out / name, stage / f"old-{name}")
    except OSError:
        _undo(done, stage)
        (out / JOURNAL).unlink(missing_ok=True)
        raise


def _undo(done: list[tuple[Path, Path, bool]], stage: Path) -> None:
    for moved, final, exchanged in reversed(done):
        try:
            if exchanged:
                exchange(moved, final)
            elif moved.name.startswith("old-"):  # the previous output was set aside: put it back
                if os.path.lexists(final):
                    os.replace(final, stage / moved.name.removeprefix("old-"))
                os.replace(moved, final)
            else:  # there was no previous output: take the new one away again
                os.replace(final, moved)
        except OSError:
            pass


def _finish(out: Path, stage: Path) -> None:
    (out / JOURNAL).unlink(missing_ok=True)
    shutil.rmtree(stage, ignore_errors=True)


def recover(out: Path) -> str:
    """Finish a swap a killed run left half done, and remove what killed runs left behind; one line saying what
    was done, or ''. Runs before anything else is written."""
    if not out.is_dir():
        return ""
    said = []
    journal = out / JOURNAL
    if journal.exists():
        try:
            j = json.loads(journal.read_text(encoding="utf-8"))
            stage = out / str(j["run"])
            entries = {str(k): int(v) for k, v in j["entries"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            stage, entries = Path(), {}
        if entries and stage.name.startswith(RUN_PREFIX) and stage.is_dir():
            _swap(out, stage, entries)
            said.append("finished putting in place the outputs of a run that was stopped while doing so")
        _finish(out, stage if stage.name.startswith(RUN_PREFIX) else out / "-")
    left = [p for p in out.iterdir() if p.name.startswith(RUN_PREFIX)]
    for sub in (PLANS, FEEDBACK, DRAFTS, "."):
        folder = out / sub
        if folder.is_dir():
            left += [p for p in folder.iterdir() if p.name.startswith((TEMP_PREFIX, _OLD_STAGING))]
    for p in left:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    if left:
        said.append(f"removed {len(left)} unfinished file{'s' if len(left) != 1 else ''} and folder"
                    f"{'s' if len(left) != 1 else ''} left by a run that was stopped")
    return ("Before this run: " + "; ".join(said) + ".") if said else ""


def output_error(exc: OSError, run: StagedRun | None, out: Path) -> OutputError:
    """One clear message for a fault while writing: the real output path, what happened, that nothing changed."""
    where = run.shown(exc.filename) if run is not None else Path(os.fsdecode(exc.filename or out))
    what = FAULTS.get(exc.errno or 0, exc.strerror or "the file system refused it")
    return OutputError(f"could not write {display_name(where)}: {what}. The batch's outputs are incomplete, so none "
                       f"were put in place: the previous outputs in {display_name(out)} are untouched. "
                       + ("Free some space and run the batch again." if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                          else "Choose a folder you can write to (-o), or ask for permission, and run it again."))


def place_outputs(results: list[FileRecord], where: Path) -> set[str]:
    """Move each plan a worker wrote to its final name and name every feedback letter (write_letters writes them),
    in `where` (the run's staging folder); return what was placed and named, relative to it."""
    plans_dir, feedback_dir = make_dir(where / PLANS), make_dir(where / FEEDBACK)
    plans_real, feedback_real = plans_dir.resolve(), feedback_dir.resolve()
    used_plans: set[str] = set()
    used_letters: set[str] = set()
    written: set[str] = set()
    for r in results:
        who = " - ".join(x for x in (r.council_name, r.respondent) if x)
        if r.staged_plan:
            if r.live:
                name = safe_filename(who or Path(r.file).stem, used_plans) + ".xlsx"
                if _stays_in(plans_dir / name, plans_real):
                    os.replace(r.staged_plan, plans_dir / name)
                    r.plan = f"{PLANS}/{name}"
                    written.add(r.plan)
                    fault_point("placing")
            Path(r.staged_plan).unlink(missing_ok=True)
            r.staged_plan = ""
        # A live return's letter is named after who sent it; a copy, an old or a broken file after the file.
        base = who if r.live and who else r.file.replace("/", " - ")
        name = safe_filename(base, used_letters, fallback="file") + ".txt"
        if _stays_in(feedback_dir / name, feedback_real):
            r.feedback = f"{FEEDBACK}/{name}"
            written.add(r.feedback)
    return written


def _stays_in(target: Path, folder: Path) -> bool:
    """Whether `target` is directly inside `folder` (already resolved) once any link on its way is followed."""
    return target.resolve().parent == folder


def write_letters(results: list[FileRecord], where: Path, spec: Spec) -> None:
    """Write the feedback letter of every file that place_outputs named one for, into `where`."""
    for r in results:
        if r.feedback:
            write_atomic(where / r.feedback, render("feedback.txt.j2", **feedback_context(r, spec)))


def feedback_context(r: FileRecord, spec: Spec) -> dict[str, Any]:
    """What the feedback letter template needs for one file."""
    def item(i: Issue) -> dict:
        return {"where": i.location or "the whole file", "title": i.title, "found": i.found, "expected": i.expected,
                "fix": i.fix, "code": i.code.value}

    return {
        "file": r.file, "status": r.status.value if r.status else "", "council": r.council_name,
        "respondent": r.respondent, "reason": r.reason,
        "sender": greeting_name(r.source.sender) if r.source and r.source.sender else "",
        "errors": [item(i) for i in r.issues if i.severity.value == "error"],
        "queries": [item(i) for i in r.issues if i.severity.value == "query"],
        "duplicate_of": r.duplicate_of, "superseded_by": r.superseded_by, "supersedes": r.supersedes,
        "decided_by": r.decided_by,
        "plan": Path(r.plan).name if r.plan else "", "counted": r.counted, "current": r.current,
        "spec": spec, "spec_version": r.spec_version, "completeness": r.completeness,
        "overall": r.overall,
        "new_form": any(i.code in (Code.SPEC_001, Code.SPEC_002) for i in r.issues),
    }


def _draft_stem(letter: str) -> str:
    """A draft is named after its letter, less the ".eml" a letter about a message file keeps in its name (a
    draft "Chasing.eml.eml" would look like a mistake)."""
    stem = Path(letter).stem
    return stem[:-4] if stem.lower().endswith(".eml") and len(stem) > 4 else stem


def write_drafts(results: list[FileRecord], where: Path, spec: Spec, register: Register | None,
                 expected: Sequence[Council] = ()) -> set[str]:
    """OUT/drafts: one unsent email (.eml, `X-Unsent: 1`) per feedback letter, to the address the return came
    from (else the register's contact for its council), with the plan attached; and a reminder for each council
    in `expected` that has not returned (a council whose contact sent only a file that could not be read has
    replied: its letter asks for the file again). Nothing is sent: a person opens each draft, reviews it and sends
    it."""
    folder = make_dir(where / DRAFTS)
    used: set[str] = set()
    written: set[str] = set()
    # A council whose contact sent a file that could not be read did reply: its letter asks for the file again, so
    # it is not also reminded that nothing came.
    returned: set[str] = set(unreadable_by_council(results, expected))
    for r in results:
        if r.live:
            returned.add(council_key(r.code, r.council_name))
        # A letter worth sending: about a return, or a file sent that could not be read or held no return.
        if not r.feedback or not (r.live or r.status == Status.UNREADABLE or (r.source is not None and r.issues)):
            continue
        council = register.match(r.code, r.council_name) if register is not None else None
        to = r.source.sender if r.source and r.source.sender else (council.email if council else "")
        plan = Attachment.from_path(where / r.plan) if r.plan else None
        letter = (where / r.feedback).read_text(encoding="utf-8")
        draft = feedback_draft(letter, spec, to=to, council=r.council_name, plan=plan)
        name = safe_filename(_draft_stem(r.feedback), used, fallback="draft") + ".eml"
        write_atomic(folder / name, draft.to_bytes())
        written.add(f"{DRAFTS}/{name}")
    for c in expected:
        if council_key(c.code, c.name) in returned:
            continue
        name = safe_filename(f"Reminder - {c.name}", used, fallback="reminder") + ".eml"
        write_atomic(folder / name, reminder_draft(spec, c.name, to=c.email).to_bytes())
        written.add(f"{DRAFTS}/{name}")
    return written


def write_manifest(where: Path, written: set[str]) -> None:
    """The list of what this run wrote, kept with its outputs."""
    write_atomic(where / MANIFEST, json.dumps({"written": sorted(written)}, indent=1))
