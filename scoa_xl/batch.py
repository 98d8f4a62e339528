"""A folder of returns → a status for every file, a plan per readable return, a feedback letter per
file and the programme team's summary; and the other way round, a register → one workbook per council.

One bad file never stops the rest: each file is read in a worker process with a time limit, so a
file that hangs or crashes the reader is reported (FILE_006, FILE_001) and the batch carries on.
Results stream back as small records; no workbook is held in memory longer than its own worker needs
it. The input folder is only ever read; every output is written whole (temp file + os.replace).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import functools
import io
import json
import multiprocessing as mp
import os
import pickle
import re
import shutil
import signal
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

import click

from .consolidate import Respondent, consolidate, council_key
from .errors import Code, Issue, IssueCounts, ReturnUnreadable, issue
from .model import CONTROL_IDS, Identity, Spec, Status
from .preflight import OLE2_MAGIC, ZIP_MAGIC, file_sha256, sniff
from .register import Council, load_register
from .writer import atomic_output

SPREADSHEET_EXTS = frozenset({".xlsx", ".xlsm", ".ods", ".xls"})
DEFAULT_TIME_LIMIT = 60.0  # seconds per file: generous for a real return (tens of ms), short enough to notice
# Measured on the 2-core machine, 100 returns read and planned, medians of 3 interleaved runs: 1 worker
# 92 ms a return, 2 workers 53 ms, 4 workers 56 ms. Writing the plan (~70 ms) is most of the work, so a
# worker per core pays; more workers than cores do not. Capped at 4 to keep memory modest.
DEFAULT_JOBS = max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                          else os.cpu_count() or 1))
NAME_BYTES = 120  # file names kept well under the 255-byte limit of common file systems
MANIFEST = ".scoa-batch-manifest.json"
MAX_DEPTH = 32  # folders within folders: deeper is not a programme team's inbox

_UNSAFE = re.compile(r'[<>:"/\\|?*]+')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_NOT_SPREADSHEET = {
    ".pdf": "a PDF document", ".txt": "a text file", ".md": "a text file", ".doc": "a Word document",
    ".docx": "a Word document", ".csv": "a CSV file", ".msg": "an email message", ".eml": "an email message",
    ".png": "a picture", ".jpg": "a picture", ".jpeg": "a picture", ".gif": "a picture", ".zip": "a zip archive",
    ".pptx": "a PowerPoint file", ".html": "a web page", ".htm": "a web page", ".json": "a data file",
}
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r"}


# ---------------------------------------------------------------------------------------------------
# Safe names


def safe_filename(text: str, used: set[str] | None = None, *, fallback: str = "return") -> str:
    """A file name (no extension) made from what a person typed: no path separators, no "..", no control
    or invisible characters, no reserved device names, at most NAME_BYTES bytes, unique within `used`."""
    name = unicodedata.normalize("NFKC", str(text)[:4 * NAME_BYTES])  # a name is cut to NAME_BYTES anyway
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _UNSAFE.sub("-", name)
    name = re.sub(r"\.{2,}", ".", name)
    name = re.sub(r"\s+", " ", name).strip(" .-")
    if not name:
        name = fallback
    name = _clip(name, NAME_BYTES)
    if name.split(".")[0].strip().upper() in _RESERVED:
        name = "_" + name
    if used is None:
        return name
    base, n = name, 1
    while name.casefold() in used:
        n += 1
        name = f"{_clip(base, NAME_BYTES - 8)} ({n})"
    used.add(name.casefold())
    return name


def _clip(name: str, limit: int) -> str:
    name = name[:limit]  # every character takes at least a byte: cut first, so a huge name costs no more
    while len(name.encode("utf-8")) > limit:
        name = name[:-1]
    return name.rstrip(" .-") or "return"


_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def display_name(name: str) -> str:
    """A file name as text that can be shown and written anywhere: bytes that are not UTF-8, control
    characters and text-direction marks become visible escapes (\\xe9, \\x07), so it stays unique and findable."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xff else
                          f"\\x{ord(m.group()):02x}", text)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


# ---------------------------------------------------------------------------------------------------
# Atomic writes


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write a file whole or not at all: a temp file in the same folder, then os.replace."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------------------------------------------
# What a batch finds and makes


@dataclass(slots=True)
class FileResult(IssueCounts):
    """One file found in the folder: a small record, cheap to send between processes and to keep."""

    file: str  # path relative to the folder, with "/" separators
    path: Path
    status: Status | None = None
    issues: list[Issue] = field(default_factory=list)
    reason: str = ""  # why it was skipped, or what else happened to it
    sha256: str = ""
    mtime_ns: int = 0
    council: str = ""
    code: str = ""  # ONS code: from the return, else matched on the register by name
    register_name: str = ""  # the council's name on the register, when matched
    respondent: str = ""
    organisation: str = ""
    date: str = ""  # the "Date completed" answer
    workbook_id: str = ""
    spec_version: str = ""
    migrated_from: str = ""
    read_by: str = ""
    file_format: str = ""
    completeness: float | None = None  # share (0-100) of factors rated
    payload: dict | None = None  # Scores.to_json(), only while on its way from a worker to the spool
    score_at: int = -1  # where the full scores sit in the batch's spool
    score_len: int = 0
    spool: Spool | None = None
    rooms: tuple[float | None, ...] = ()  # room for manoeuvre per aspect, in the current spec's order
    controllability: tuple[float | None, ...] = ()
    overall: float | None = None
    fits: tuple[float | None, ...] = ()  # fit per model, in the current spec's order
    current: bool = False  # read against the current form version
    ratings: dict[str, int | None] = field(default_factory=dict)
    controls: dict[str, str | None] = field(default_factory=dict)
    duplicate_of: str = ""
    superseded_by: str = ""
    supersedes: list[str] = field(default_factory=list)
    same_workbook_as: list[str] = field(default_factory=list)  # forwarded to another respondent
    staged_plan: str = ""
    plan: str = ""  # relative to OUT
    feedback: str = ""  # relative to OUT

    @property
    def score(self) -> dict | None:
        """What `scoa score --json` prints for this file, or None; kept on disk, not in memory, between uses."""
        if self.payload is not None:
            return self.payload
        if self.spool is None or self.score_len == 0:
            return None
        return self.spool.get(self.score_at, self.score_len)

    @property
    def scored(self) -> bool:
        return self.payload is not None or self.score_len > 0

    @property
    def readable(self) -> bool:
        """Its answers could be read (whatever their state)."""
        return bool(self.read_by)

    @property
    def counted(self) -> bool:
        """Counted in the cross-council figures: a usable return on the current form, not a copy."""
        return self.status in (Status.VALID, Status.QUERIES) and self.current and self.scored

    @property
    def council_name(self) -> str:
        return self.register_name or self.council

    @property
    def relation(self) -> str:
        """The `Duplicate of / Superseded by` entry: who supersedes whom."""
        parts = []
        if self.duplicate_of:
            parts.append(f"Duplicate of {self.duplicate_of}")
        if self.superseded_by:
            parts.append(f"Superseded by {self.superseded_by}")
        if self.supersedes:
            parts.append("Supersedes " + ", ".join(self.supersedes))
        if self.same_workbook_as:
            parts.append("Same issued workbook as " + ", ".join(self.same_workbook_as) + " (another respondent)")
        return "; ".join(parts)

    def to_json(self) -> dict:
        """One entry of `files` in `scoa batch --json`."""
        return {"file": self.file, "status": self.status.value if self.status else None,
                "issues": [i.to_json() for i in self.issues], "score": self.score}


class Spool:
    """Each return's full scores in a temporary file, so a batch of thousands does not hold them all in memory."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile()

    def put(self, data: dict) -> tuple[int, int]:
        raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._fh.seek(0, os.SEEK_END)
        at = self._fh.tell()
        self._fh.write(raw)
        return at, len(raw)

    def get(self, at: int, length: int) -> dict:
        self._fh.seek(at)
        return json.loads(self._fh.read(length).decode("utf-8"))

    def close(self) -> None:
        self._fh.close()


@dataclass(slots=True)
class BatchResult:
    folder: Path
    out: Path
    spec: Spec
    files: list[FileResult]
    councils: list[dict]
    started: dt.datetime
    seconds: float = 0.0
    register: Path | None = None
    previous: Path | None = None
    jobs: int = 1
    summary: Path | None = None
    spool: Spool | None = None

    @property
    def plans_dir(self) -> Path:
        return self.out / "plans"

    @property
    def feedback_dir(self) -> Path:
        return self.out / "feedback"

    def count(self, *statuses: Status) -> int:
        return sum(f.status in statuses for f in self.files)

    @property
    def failed(self) -> bool:
        """Exit status 1: some return must be fixed (an error) or could not be read."""
        return any(f.status in (Status.INVALID, Status.UNREADABLE) for f in self.files)

    def to_json(self) -> dict:
        """The object `scoa batch --json` prints."""
        return {"files": [f.to_json() for f in self.files], "councils": self.councils}

    def write_json(self, fh) -> None:
        """Write to_json() to a text stream one file at a time (the same object, without building it whole)."""
        def block(obj, pad: str) -> str:
            # JSON strings never hold a raw newline, so re-indenting by lines is safe.
            return json.dumps(obj, ensure_ascii=False, indent=2, default=str).replace("\n", "\n" + pad)

        fh.write('{\n  "files": [')
        for i, f in enumerate(self.files):
            fh.write(("," if i else "") + "\n    " + block(f.to_json(), "    "))
        fh.write('\n  ],\n  "councils": ' + block(self.councils, "  ") + "\n}\n")


# ---------------------------------------------------------------------------------------------------
# Finding the files


def discover(folder: Path) -> list[FileResult]:
    """Every entry of the folder, recursively, sorted; links are not followed out of it, nor into folders."""
    root = folder.resolve()
    found: list[FileResult] = []

    def skip(rel: str, path: Path, why: str) -> None:
        found.append(FileResult(rel, path, Status.SKIPPED, reason=why))

    def walk(directory: Path, prefix: str, depth: int = 0) -> None:
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            skip(prefix or ".", directory, f"a folder that could not be opened ({exc.strerror})")
            return
        for e in entries:
            rel = f"{prefix}/{display_name(e.name)}" if prefix else display_name(e.name)
            path = Path(e.path)
            try:
                if e.is_symlink():
                    try:
                        target = path.resolve(strict=True)
                    except (OSError, RuntimeError):  # missing, or a loop of links
                        skip(rel, path, "a link to nothing (its target is missing, or it points round in a loop)")
                        continue
                    if target.is_dir():
                        skip(rel, path, "a link to a folder (links to folders are not followed)")
                    elif not target.is_relative_to(root):
                        skip(rel, path, "a link to a file outside the folder (not followed)")
                    elif target.is_file():
                        found.append(FileResult(rel, path))
                    else:
                        skip(rel, path, "a link to something that is not an ordinary file (a device, pipe or socket)")
                elif e.is_dir(follow_symlinks=False):
                    if e.name.startswith("."):
                        skip(rel + "/", path, "a hidden folder (not opened)")
                    elif depth >= MAX_DEPTH:
                        skip(rel + "/", path, f"a folder nested more than {MAX_DEPTH} deep (not opened)")
                    else:
                        walk(path, rel, depth + 1)
                elif e.is_file(follow_symlinks=False):
                    found.append(FileResult(rel, path))
                else:
                    skip(rel, path, "not an ordinary file (a device, pipe or socket)")
            except OSError as exc:
                skip(rel, path, f"a file that could not be opened ({exc.strerror})")

    walk(folder, "")
    found.sort(key=lambda r: (r.file.casefold(), r.file))
    return found


def classify(r: FileResult) -> None:
    """Decide whether a found file is a spreadsheet to read; if not, mark it skipped and say why."""
    if r.status is not None:
        return
    name = r.path.name
    ext = r.path.suffix.lower()
    if name.startswith("~$"):
        r.status, r.reason = Status.SKIPPED, ("an Excel lock file (Excel leaves it while someone has the workbook "
                                              "open; it holds no answers)")
    elif name.startswith(".~lock.") and name.endswith("#"):
        r.status, r.reason = Status.SKIPPED, ("a LibreOffice lock file (left while someone has the workbook open; "
                                              "it holds no answers)")
    elif name.startswith("."):
        r.status, r.reason = Status.SKIPPED, "a hidden file"
    elif name.casefold() in _SYSTEM_FILES:
        r.status, r.reason = Status.SKIPPED, "a system file made by the computer, not a return"
    elif ext not in SPREADSHEET_EXTS:
        # By content as well as name: a workbook saved with the wrong extension is still read.
        what = _sniff_other(r.path)
        if what:
            r.status = Status.SKIPPED
            r.reason = f"not a spreadsheet ({what})"


def _sniff_other(path: Path) -> str:
    """'' when a file with a non-spreadsheet name holds a workbook after all; else what it is."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return f"a file that could not be opened ({exc.strerror})"
    ext = path.suffix.lower()
    if not head:
        return "an empty file"
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
        # Pre-flight knows a workbook inside any container; when it is not one, the name says best what it is.
        try:
            sniff(path)
            return ""
        except ReturnUnreadable as exc:
            return _NOT_SPREADSHEET.get(ext) or exc.issue.found or "a file that is not a workbook"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    return _NOT_SPREADSHEET.get(ext, f"a {ext or 'nameless'} file" if ext else "a file with no extension")


# ---------------------------------------------------------------------------------------------------
# Reading in worker processes, with a time limit per file


def _context():
    # fork: a worker starts in milliseconds and inherits the loaded spec; elsewhere, spawn.
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


class _Worker:
    __slots__ = ("proc", "conn", "task", "started")


class _Pool:
    """Worker processes fed one task at a time, so a task that overruns its limit can be killed alone."""

    def __init__(self, jobs: int, args: tuple):
        self._ctx = _context()
        self._args = args
        self.workers = [self._spawn() for _ in range(max(1, jobs))]

    def _spawn(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, *self._args), daemon=True)
        proc.start()
        child.close()
        w = _Worker()
        w.proc, w.conn, w.task, w.started = proc, parent, None, 0.0
        return w

    def _replace(self, w: _Worker) -> _Worker:
        """Stop a worker (stuck or dead) and start a fresh one in its place."""
        if w.proc.is_alive():
            w.proc.kill()
        w.proc.join(5)
        w.conn.close()
        fresh = self._spawn()
        self.workers[self.workers.index(w)] = fresh
        return fresh

    def _dispatch(self, w: _Worker, task: tuple) -> None:
        try:
            w.conn.send(task)
        except (BrokenPipeError, OSError):  # the worker died between tasks
            w = self._replace(w)
            w.conn.send(task)
        w.task, w.started = task, time.monotonic()

    def run(self, tasks: Iterable[tuple], limit: float) -> Iterator[tuple[tuple, object, str]]:
        """Yield (task, result, failure) as tasks finish; failure is "", "timeout" or "crash"."""
        pending = iter(tasks)
        more = True
        while True:
            for w in list(self.workers):
                if more and w.task is None:
                    task = next(pending, None)
                    if task is None:
                        more = False
                    else:
                        self._dispatch(w, task)
            active = [w for w in self.workers if w.task is not None]
            if not active:
                return
            timeout = max(0.0, min(w.started + limit for w in active) - time.monotonic())
            ready = wait([w.conn for w in active], timeout)
            now = time.monotonic()
            for w in active:
                task, overrun = w.task, now - w.started > limit
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):  # the reader died on this file
                        self._replace(w)
                        yield task, None, "crash"
                        continue
                    w.task = None
                    # Finished, but later than allowed: the same rule for every file, however busy the machine.
                    yield task, result, "timeout" if overrun else ""
                elif overrun:
                    self._replace(w)
                    yield task, None, "timeout"

    def close(self) -> None:
        for w in self.workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for w in self.workers:
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(2)
            w.conn.close()
        self.workers = []


def _worker_main(conn, spec: Spec, staging: str, previous: dict[str, str], made_on: dt.date | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        kind = task[0]
        try:
            if kind == "peek":
                result = _peek(task[1], spec)
            elif kind == "plan":
                result = _plan_group(task, spec, staging, previous, made_on)
            else:
                result = _read_one(task, spec, staging)
        except Exception as exc:  # never let one file take the worker down silently
            result = _failed(task, f"a file that stopped the reader ({type(exc).__name__})")
        conn.send(result)


def _failed(task: tuple, found: str, code: Code = Code.FILE_001) -> FileResult | None:
    if task[0] != "read":
        return None
    _, _index, path, rel = task
    return FileResult(rel, Path(path), Status.UNREADABLE,
                      [issue(code, found=found, expected="an .xlsx or .ods workbook that opens normally")])


def _who(ident: Identity) -> tuple[str, str]:
    return council_key(ident.council_code, ident.council), ident.respondent.casefold()


def _peek(path: str, spec: Spec) -> tuple[str, str, str, str] | None:
    """Who last year's return is from (for --previous): council key, respondent, date, path."""
    from .assess import assess

    a = assess(path, spec)
    if a.ret is None or a.status == Status.UNREADABLE:
        return None
    council, respondent = _who(a.ret.identity)
    return council, respondent, a.ret.identity.date, path


def _read_one(task: tuple, spec: Spec, staging: str = "") -> FileResult:
    """Read, check and score one file into a small record (its plan is written later, by _plan_group)."""
    from .assess import assess

    _, index, path, rel = task
    a = assess(path, spec)
    if staging and a.scores is not None:
        _hand_over(a, spec, Path(staging) / f"{index}.assessment")
    r = FileResult(rel, Path(path), a.status, list(a.issues), sha256=a.sha256, read_by=a.read_by,
                   spec_version=a.spec_version, migrated_from=a.migrated_from)
    if a.ret is None:
        return r
    ret = a.ret
    ident = ret.identity
    r.council, r.code, r.respondent = ident.council, ident.council_code, ident.respondent
    r.organisation, r.date, r.workbook_id, r.file_format = ident.organisation, ident.date, ret.workbook_id, \
        ret.file_format
    r.ratings = {fid: fa.rating for fid, fa in ret.factors.items()}
    r.controls = {fid: fa.control for fid, fa in ret.factors.items() if fa.control}
    total = len(ret.spec.factors)
    r.completeness = sum(v is not None for v in r.ratings.values()) / total * 100 if total else None
    if a.scores is None:
        return r
    r.payload = a.scores.to_json()
    r.current = ret.spec.id == spec.id and ret.spec.version == spec.version
    by_aspect = {x.id: x for x in a.scores.aspects}
    r.rooms = tuple(by_aspect[x.id].room_for_manoeuvre if x.id in by_aspect else None for x in spec.aspects)
    r.controllability = tuple(by_aspect[x.id].controllability if x.id in by_aspect else None for x in spec.aspects)
    r.overall = a.scores.overall_room_for_manoeuvre
    fits = {m.id: m.fit for m in a.scores.models}
    r.fits = tuple(fits.get(m.id) for m in spec.models)
    return r


def _write_plan(a, out: Path, spec: Spec, previous_path: str | None, made_on: dt.date | None,
                partners: list | None = None) -> None:
    from .assess import assess
    from .plan import write_plan

    prev = assess(previous_path, spec) if previous_path else None
    write_plan(a, out, previous=prev if prev is not None and prev.ret is not None else None, partners=partners,
               made_on=made_on)


def _plan_tasks(results: list[FileResult]) -> list[tuple]:
    """One task per plan to write, except that a council with several counted respondents is one task: each of
    its plans also shows where the partners differ and agree, so they are read together.

    Plans are written once every file has been read (and copies and resubmissions are known), by the same
    workers: writing each plan once and in parallel, rather than again in the main process for every council
    with partners, is what keeps a programme team's batch fast (issue 7)."""
    groups: dict[str, list[int]] = {}
    tasks: list[tuple] = []
    for i, r in enumerate(results):
        if r.status not in (Status.VALID, Status.QUERIES, Status.INVALID) or not r.scored:
            continue
        if r.counted:
            groups.setdefault(council_key(r.code, r.council_name), []).append(i)
        else:
            tasks.append(("plan", ((i, str(r.path)),)))
    tasks.extend(("plan", tuple((i, str(results[i].path)) for i in members)) for members in groups.values())
    tasks.sort(key=lambda t: t[1][0][0])  # in the folder's order, as the files were read
    return tasks


def _plan_group(task: tuple, spec: Spec, staging: str, previous: dict[str, str],
                made_on: dt.date | None) -> list[tuple[int, str, str]]:
    """Write the plans of one task's returns into the staging folder: (index, staged file or "", reason)."""
    from .assess import assess

    assessed = []
    for index, path in task[1]:
        a = _taken_over(Path(staging) / f"{index}.assessment", spec) or assess(path, spec)
        a.file = a.file.with_name(display_name(a.file.name))  # the plan names its source: as text it can hold
        assessed.append((index, a))
    done = []
    for index, a in assessed:
        if a.ret is None or a.scores is None:
            done.append((index, "", "its plan could not be written (the file could not be read a second time)"))
            continue
        partners = [b for _, b in assessed if b is not a] if len(assessed) > 1 else None
        out = Path(staging) / f"{index}.xlsx"
        try:
            _write_plan(a, out, spec, previous.get("|".join(_who(a.ret.identity))), made_on, partners)
            done.append((index, str(out), ""))
        except Exception as exc:  # a plan that cannot be written must not lose the return's status
            done.append((index, "", f"its plan could not be written ({type(exc).__name__}: {str(exc)[:120]})"))
    return done


def _hand_over(a, spec: Spec, where: Path) -> None:
    """Keep the first reading of a return on disk for its plan (reading it again cost ten times as long as this;
    kept on disk, not in memory, so a batch of thousands stays small). Best effort: without it the plan re-reads."""
    if a.ret is None or a.ret.spec is not spec:  # the spec is put back on load: only the batch's own
        return
    try:
        data = pickle.dumps(dataclasses.replace(a, ret=dataclasses.replace(a.ret, spec=None)),
                            protocol=pickle.HIGHEST_PROTOCOL)
        where.write_bytes(data)
    except Exception:  # a return that cannot be kept this way is simply read again
        where.unlink(missing_ok=True)


def _taken_over(where: Path, spec: Spec):
    """The first reading kept by _hand_over (this batch's own file in its private staging folder), or None."""
    try:
        a = pickle.loads(where.read_bytes())
        where.unlink()
    except Exception:  # missing or incomplete: read the return again instead
        return None
    a.ret = dataclasses.replace(a.ret, spec=spec)
    return a


def _write_plans(pool: _Pool, results: list[FileResult], limit: float, progress: bool) -> None:
    """Run the plan tasks; a task that fails or overruns leaves its returns without a plan, saying why."""
    tasks = _plan_tasks(results)
    if not tasks:
        return
    largest = max(len(t[1]) for t in tasks)
    with _progress(sum(len(t[1]) for t in tasks), progress, "Writing plans") as bar:
        # Each return of a task is read again and its plan written: allow for that, per return of the largest.
        for task, res, failure in pool.run(tasks, limit * (1 + largest)):
            if failure or res is None:
                why = "it took too long" if failure == "timeout" else "the program writing it stopped"
                res = [(i, "", f"its plan could not be written ({why})") for i, _ in task[1]]
            for index, staged, reason in res:
                if failure == "timeout" and staged:
                    Path(staged).unlink(missing_ok=True)
                    staged = ""
                results[index].staged_plan = staged
                if reason:
                    results[index].reason = reason
            bar.update(len(task[1]))


# ---------------------------------------------------------------------------------------------------
# Duplicates and resubmissions


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y", "%B %d, %Y",
                 "%Y-%m-%d %H:%M:%S", "%Y/%m/%d")


def parse_date(text: str) -> dt.date | None:
    """The 'Date completed' answer as a date, from the ways people type it (UK order first)."""
    text = (text or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d{5}", text):  # an Excel date serial kept as a number
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _newer(a: FileResult, b: FileResult, order: dict[str, int]) -> int:
    """>0 when a is the later submission: by date completed, else file time, else name order."""
    da, db = parse_date(a.date), parse_date(b.date)
    if da and db and da != db:
        return 1 if da > db else -1
    if a.mtime_ns != b.mtime_ns:
        return 1 if a.mtime_ns > b.mtime_ns else -1
    return 1 if order[a.file] > order[b.file] else -1


def resolve_copies(results: list[FileResult]) -> None:
    """Flag resubmissions: the same council and respondent (in the same issued workbook, or named alike),
    the older superseded by the newer. The same workbook filled in by another respondent is noted only."""
    order = {r.file: i for i, r in enumerate(results)}
    live = [r for r in results if r.status in (Status.VALID, Status.QUERIES, Status.INVALID)
            and (r.council or r.workbook_id)]
    groups: dict[tuple, list[FileResult]] = {}
    for r in live:
        ckey = council_key(r.code, r.council)
        resp = r.respondent.casefold()
        if ckey and resp:
            groups.setdefault(("who", ckey, resp), []).append(r)
        elif r.workbook_id and (ckey or resp):  # nobody named at all: nothing says it is the same return
            groups.setdefault(("wid", r.workbook_id, ckey, resp), []).append(r)
    for members in groups.values():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=functools.cmp_to_key(lambda a, b: _newer(a, b, order)))
        newest = ranked[-1]
        for old in ranked[:-1]:
            old.status = Status.SUPERSEDED
            old.superseded_by = newest.file
            newest.supersedes.append(old.file)
    # The same issued workbook filled in by another respondent for the same council: a partner's view,
    # kept and counted, but noted. (A blank workbook sent to every council shares one id: not noted.)
    by_wid: dict[tuple[str, str], list[FileResult]] = {}
    for r in live:
        if r.workbook_id and r.status != Status.SUPERSEDED:
            by_wid.setdefault((r.workbook_id, council_key(r.code, r.council)), []).append(r)
    for members in by_wid.values():
        for r in members:
            r.same_workbook_as = [o.file for o in members if o is not r][:5]


# ---------------------------------------------------------------------------------------------------
# The batch


def _check_folders(folder: Path, out: Path) -> None:
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder; give the folder that holds the returns")
    if _inside(out, folder):
        raise ValueError(f"the output folder {out} is inside the folder of returns {folder}; choose an output "
                         "folder outside it, so the returns are never changed")
    for sub in ("plans", "feedback"):
        if _inside(folder, out / sub):
            raise ValueError(f"the folder of returns {folder} is inside {out / sub}, which the batch writes to; "
                             "choose another output folder")


class _Register:
    """Name and code look-ups on the register (the given one, else the bundled list of councils)."""

    def __init__(self, path: Path | None):
        try:
            councils = load_register(path)
        except (OSError, ValueError):
            if path is not None:
                raise
            councils = ()
        self.councils: tuple[Council, ...] = councils
        self.by_code = {c.code.upper(): c for c in councils if c.code}
        self.by_name = {c.name.casefold(): c for c in councils}

    def match(self, code: str, name: str) -> Council | None:
        return self.by_code.get(code.strip().upper()) or (None if code.strip() else
                                                           self.by_name.get(name.strip().casefold()))


def run_batch(folder: Path, out: Path, spec: Spec, *, register: Path | None, jobs: int = DEFAULT_JOBS,
              progress: bool = True, previous: Path | None = None,
              time_limit: float = DEFAULT_TIME_LIMIT) -> BatchResult:
    """Read every file of `folder`, write plans, feedback and summary.xlsx into `out`; never stop on a file."""
    started = dt.datetime.now().replace(microsecond=0)
    clock = time.monotonic()
    folder, out = Path(folder), Path(out)
    _check_folders(folder, out)
    if previous is not None and not Path(previous).is_dir():
        raise ValueError(f"{previous} is not a folder; give the folder of last year's returns")
    reg = _Register(register)

    results = discover(folder)
    for r in results:
        classify(r)
        if r.path.is_file():
            r.sha256 = file_sha256(r.path)
            try:
                r.mtime_ns = r.path.stat().st_mtime_ns
            except OSError:
                pass
    first_of: dict[str, int] = {}  # sha256 -> index of the first file with those bytes
    tasks = []
    for i, r in enumerate(results):
        if r.status is not None:
            continue
        if r.sha256 and r.sha256 in first_of:
            r.status, r.duplicate_of = Status.DUPLICATE, results[first_of[r.sha256]].file
            continue
        if r.sha256:
            first_of[r.sha256] = i
        tasks.append(("read", i, str(r.path), r.file))

    plans_dir, feedback_dir = out / "plans", out / "feedback"
    plans_dir.mkdir(parents=True, exist_ok=True)
    feedback_dir.mkdir(parents=True, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".scoa-staging-", dir=plans_dir)
    jobs = max(1, jobs)
    spool = Spool()
    try:
        prev_index = _index_previous(Path(previous), spec, jobs, time_limit) if previous else {}
        from . import assess, plan  # noqa: F401 - loaded once here, so every forked worker starts with them
        pool = _Pool(min(jobs, len(tasks)), (spec, staging, prev_index, started.date())) if tasks else None
        try:
            if pool is not None:
                with _progress(len(tasks), progress) as bar:
                    for task, res, failure in pool.run(tasks, time_limit):
                        settled = _settle(results[task[1]], task, res, failure, time_limit)
                        results[task[1]] = _keep(settled, spool, spec)
                        bar.update(1)
            _resolve(results, first_of, reg)
            if pool is not None:
                _write_plans(pool, results, time_limit, progress)
        finally:
            if pool is not None:
                pool.close()
        respondents = [Respondent(r.council_name, r.code, r.respondent, r.organisation, r.file, r.rooms,
                                  r.controllability, r.fits, r.ratings) for r in results if r.counted]
        councils = consolidate(respondents, spec)
        written = _place_outputs(results, out, spec)
        result = BatchResult(folder, out, spec, results, councils, started, register=register, previous=previous,
                             jobs=jobs, spool=spool)
        result.seconds = time.monotonic() - clock
        from .summary import write_summary

        result.summary = write_summary(result, out / "summary.xlsx", reg.councils if register else None)
        written.add("summary.xlsx")
        _tidy(out, written)
        return result
    except BaseException:
        spool.close()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _resolve(results: list[FileResult], first_of: dict[str, int], reg: _Register) -> None:
    """Once every file is read: copies take their original's answers, councils are matched on the register,
    and resubmissions are found."""
    for r in results:
        if r.status == Status.DUPLICATE:
            _copy_from(r, results[first_of[r.sha256]])
    for r in results:
        if r.status not in (Status.SKIPPED, Status.UNREADABLE):
            c = reg.match(r.code, r.council)
            if c is not None:
                r.code, r.register_name = r.code or c.code, c.name
    resolve_copies(results)


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def _progress(length: int, show: bool, label: str = "Reading returns"):
    """A progress bar on stderr (so --json output on stdout stays clean), or none."""
    if not show:
        return _NoBar()
    return click.progressbar(length=length, label=label, file=sys.stderr)


def _settle(r: FileResult, task: tuple, res: FileResult | None, failure: str, limit: float) -> FileResult:
    """Fold a worker's answer (or its failure) into the file's record."""
    if failure == "timeout":
        if res is not None and res.staged_plan:
            Path(res.staged_plan).unlink(missing_ok=True)
        res = FileResult(r.file, r.path, Status.UNREADABLE, [issue(
            Code.FILE_006, found=f"no result after {limit:g} seconds",
            expected=f"a workbook that can be read within {limit:g} seconds")])
    elif res is None:
        res = _failed(task, "a file that stopped the reader (it may be damaged)")
    res.path, res.file, res.sha256 = r.path, r.file, r.sha256 or res.sha256
    res.mtime_ns = r.mtime_ns
    return res


def _keep(r: FileResult, spool: Spool, spec: Spec) -> FileResult:
    """Make a record small for keeping: full scores to the spool, ids and catalogue text shared, not copied."""
    if r.payload is not None:
        r.score_at, r.score_len = spool.put(r.payload)
        r.payload, r.spool = None, spool
    if r.ratings:
        r.ratings = {f.id: r.ratings.get(f.id) for f in spec.factors}
    if r.controls:
        ids = {c: c for c in CONTROL_IDS}
        r.controls = {f.id: ids.get(r.controls[f.id], r.controls[f.id]) for f in spec.factors if f.id in r.controls}
    r.issues = [issue(i.code, found=i.found, expected=i.expected, sheet=i.sheet, cell=i.cell) for i in r.issues]
    return r


def _copy_from(r: FileResult, original: FileResult) -> None:
    """An identical copy says what its original says (it was not read again)."""
    for name in ("issues", "council", "code", "respondent", "organisation", "date", "workbook_id", "spec_version",
                 "migrated_from", "read_by", "file_format", "completeness", "score_at", "score_len", "spool", "rooms",
                 "controllability", "overall", "fits", "ratings", "controls"):
        value = getattr(original, name)
        setattr(r, name, list(value) if isinstance(value, list) else value)
    r.current = False


def _index_previous(previous: Path, spec: Spec, jobs: int, limit: float) -> dict[str, str]:
    """Last year's returns by council and respondent (the latest where there are several)."""
    found = discover(previous)
    for r in found:
        classify(r)
    tasks = [("peek", str(r.path)) for r in found if r.status is None]
    if not tasks:
        return {}
    best: dict[str, tuple[dt.date | None, str]] = {}
    pool = _Pool(min(jobs, len(tasks)), (spec, "", {}, None))
    try:
        for _task, res, failure in pool.run(tasks, limit):
            if failure or res is None or not res[0]:
                continue
            council, respondent, date, path = res
            key = f"{council}|{respondent}"
            when = parse_date(date)
            if key not in best or (when and (best[key][0] is None or when > best[key][0])):
                best[key] = (when, path)
    finally:
        pool.close()
    return {k: v[1] for k, v in best.items()}


def _place_outputs(results: list[FileResult], out: Path, spec: Spec) -> set[str]:
    """Move each kept plan to its final name and write every feedback letter; return what was written."""
    from .render import render

    plans_dir, feedback_dir = out / "plans", out / "feedback"
    used_plans: set[str] = set()
    used_letters: set[str] = set()
    written: set[str] = set()
    for r in results:
        who = " - ".join(x for x in (r.council_name, r.respondent) if x)
        if r.staged_plan:
            if r.status in (Status.VALID, Status.QUERIES, Status.INVALID):
                name = safe_filename(who or Path(r.file).stem, used_plans) + ".xlsx"
                target = plans_dir / name
                if target.resolve().parent == plans_dir.resolve():
                    os.replace(r.staged_plan, target)
                    r.plan = f"plans/{name}"
                    written.add(r.plan)
            Path(r.staged_plan).unlink(missing_ok=True)
            r.staged_plan = ""
        # A live return's letter is named after who sent it; a copy, an old or a broken file after the file.
        live = r.status in (Status.VALID, Status.QUERIES, Status.INVALID)
        base = who if live and who else r.file.replace("/", " - ")
        name = safe_filename(base, used_letters, fallback="file") + ".txt"
        target = feedback_dir / name
        if target.resolve().parent != feedback_dir.resolve():
            continue
        r.feedback = f"feedback/{name}"
        write_atomic(target, render("feedback.txt.j2", **feedback_context(r, spec)))
        written.add(r.feedback)
    return written


def feedback_context(r: FileResult, spec: Spec) -> dict:
    """What the feedback letter template needs for one file."""
    def item(i: Issue) -> dict:
        return {"where": i.location or "the whole file", "title": i.title, "found": i.found, "expected": i.expected,
                "fix": i.fix, "code": i.code.value}

    return {
        "file": r.file, "status": r.status.value if r.status else "", "council": r.council_name,
        "respondent": r.respondent, "reason": r.reason, "errors": [item(i) for i in r.issues if i.severity.value
                                                                    == "error"],
        "queries": [item(i) for i in r.issues if i.severity.value == "query"],
        "duplicate_of": r.duplicate_of, "superseded_by": r.superseded_by, "supersedes": r.supersedes,
        "plan": Path(r.plan).name if r.plan else "", "counted": r.counted, "current": r.current,
        "spec": spec, "spec_version": r.spec_version, "completeness": r.completeness,
        "overall": r.overall,
        "new_form": any(i.code in (Code.SPEC_001, Code.SPEC_002) for i in r.issues),
    }


def _tidy(out: Path, written: set[str]) -> None:
    """Remove plans and letters that an earlier run into the same folder wrote and this run did not."""
    manifest = out / MANIFEST
    try:
        before = set(json.loads(manifest.read_text(encoding="utf-8")).get("written", []))
    except (OSError, ValueError, AttributeError):
        before = set()
    for rel in sorted(before - written):
        parts = Path(rel).parts
        if len(parts) == 2 and parts[0] in ("plans", "feedback") and ".." not in parts:
            (out / rel).unlink(missing_ok=True)
    write_atomic(manifest, json.dumps({"written": sorted(written)}, indent=1))


# ---------------------------------------------------------------------------------------------------
# A register → one personalised workbook per council


@dataclass(frozen=True, slots=True)
class Issued:
    council: Council
    file: Path
    workbook_id: str


def issue_workbooks(spec: Spec, register: Path, out_dir: Path, *, day: dt.date | None = None,
                    respondent: str = "", organisation: str = "", role: str = "",
                    jobs: int = DEFAULT_JOBS) -> list[Issued]:
    """Write one workbook per council on the register (name and ONS code filled in) and DIR/issue-log.csv."""
    from .generate import workbook_id

    day = day or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    used: set[str] = {"issue-log"}
    seen: set[str] = set()
    issued: list[Issued] = []
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
        issued.append(Issued(c, out_dir / name, workbook_id(spec, identity, day.isoformat(), "")))
    _generate_all(spec, work, day, jobs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["council", "code", "region", "file", "workbook_id"])
    for i in issued:
        w.writerow([_csv_safe(i.council.name), _csv_safe(i.council.code), _csv_safe(i.council.region), i.file.name,
                    i.workbook_id])
    write_atomic(out_dir / "issue-log.csv", buf.getvalue())
    return issued


# Measured for issue 7 on 2 shared cores, 153 councils: one process 42-47 ms a workbook; two 26-38 ms, depending on
# how busy the machine was. A handful of workbooks is not worth starting workers for.
_PARALLEL_FROM = 8
_ISSUING: tuple[Spec, dt.date] | None = None  # what each worker generates from


def _generate_all(spec: Spec, work: list[tuple[Path, Identity]], day: dt.date, jobs: int) -> None:
    """Generate each (file, identity); in worker processes when there are enough to share out."""
    global _ISSUING
    jobs = max(1, min(jobs, len(work) // 4)) if len(work) >= _PARALLEL_FROM else 1
    if jobs == 1:
        _ISSUING = (spec, day)
        try:
            for item in work:
                _generate_one(item)
        finally:
            _ISSUING = None
        return
    with _context().Pool(jobs, initializer=_start_issuing, initargs=(spec, day)) as pool:
        for _ in pool.imap_unordered(_generate_one, work, chunksize=4):
            pass


def _start_issuing(spec: Spec, day: dt.date) -> None:
    global _ISSUING
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    _ISSUING = (spec, day)


def _generate_one(item: tuple[Path, Identity]) -> None:
    from .generate import generate

    assert _ISSUING is not None
    spec, day = _ISSUING
    generate(spec, item[0], item[1], generated_at=day)


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ would run as a formula when the log is opened in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
