"""A folder of returns → a record for every file in it, sorted out: what to read, what to skip and why,
which files are copies of one another, and which returns a later one from the same respondent replaces.

Nothing here opens a workbook's answers (the workers do that); this only looks at names, content signatures,
hashes and what the workers found out about who each return is from.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
from collections.abc import Callable
from pathlib import Path

from .containers import Item, iter_container, sniff_container, write_temporary
from .errors import ReturnUnreadable
from .fileio import display_name, file_sha256, make_dir
from .model import Severity, Status
from .preflight import OLE2_MAGIC, SPREADSHEET_EXTS, ZIP_MAGIC, sniff
from .register import council_key, normal_name, respondent_key
from .results import FileRecord

MAX_DEPTH = 32  # folders within folders: deeper is not a programme team's inbox

_NOT_SPREADSHEET = {
    ".pdf": "a PDF document", ".txt": "a text file", ".md": "a text file", ".doc": "a Word document",
    ".docx": "a Word document", ".csv": "a CSV file", ".msg": "an email message", ".eml": "an email message",
    ".png": "a picture", ".jpg": "a picture", ".jpeg": "a picture", ".gif": "a picture", ".zip": "a zip archive",
    ".pptx": "a PowerPoint file", ".html": "a web page", ".htm": "a web page", ".json": "a data file",
}
# Files the computer makes beside a user's files: they are never returns, whatever they hold.
_SYSTEM_FILES = {"thumbs.db", "desktop.ini", "icon\r", ".ds_store"}


# ---------------------------------------------------------------------------------------------------
# Finding and sorting the files


def discover(folder: Path) -> list[FileRecord]:
    """Every entry of the folder, recursively, sorted; links are not followed out of it, nor into folders."""
    root = folder.resolve()
    found: list[FileRecord] = []

    def skip(rel: str, path: Path, why: str) -> None:
        found.append(FileRecord(rel, path, Status.SKIPPED, reason=why))

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
                        found.append(FileRecord(rel, path))
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
                    found.append(FileRecord(rel, path))
                else:
                    skip(rel, path, "not an ordinary file (a device, pipe or socket)")
            except OSError as exc:
                skip(rel, path, f"a file that could not be opened ({exc.strerror})")

    walk(folder, "")
    found.sort(key=lambda r: (r.file.casefold(), r.file))
    return found


def classify(r: FileRecord) -> None:
    """Decide whether a found file is a spreadsheet to read; if not, mark it skipped and say why.

    A file is skipped by its name only when that name is an application's lock file or the computer's own
    system file; anything else (a name starting with a dot included) is judged by what it holds."""
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
    elif name.casefold() in _SYSTEM_FILES or name.startswith("._"):
        r.status, r.reason = Status.SKIPPED, "a system file made by the computer, not a return"
    elif ext not in SPREADSHEET_EXTS:
        # By content as well as name: a workbook saved with the wrong extension is still read, and an email,
        # a mailbox or an archive is opened (expand) for the returns attached to it.
        try:
            r.container = sniff_container(r.path)
        except OSError:
            r.container = None
        if r.container is not None:
            return
        what = _sniff_other(r.path)
        if what:
            r.status = Status.SKIPPED
            r.reason = f"not a spreadsheet ({what})"


def _sniff_other(path: Path) -> str:
    """'' when a file with a non-spreadsheet name holds a workbook after all; else what it is."""
    # (An email or archive never gets here: classify has opened it as a container.)
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


def to_open(results: list[FileRecord]) -> list[int]:
    """Where the emails, mailboxes and archives still to be opened are in `results`."""
    return [i for i, r in enumerate(results) if r.container is not None and r.status is None]


def open_one(r: FileRecord, scratch: Path) -> list[FileRecord]:
    """An email, mailbox or archive → a record for each of its attachments and members: a spreadsheet is a return of
    its own (its bytes copied into `scratch`, named by content), anything else a row saying what it is. The
    container's own name leads each one's: `Inbox.mbox > Fwd SCOA.eml > Leeds return.xlsx`."""
    assert r.container is not None
    try:
        mtime = r.path.stat().st_mtime_ns
    except OSError:
        mtime = 0
    make_dir(scratch)
    return [item_record(item, r.path, mtime, scratch) for item in iter_container(r.path, r.file, r.container)]


def expand(results: list[FileRecord], opened: dict[int, list[FileRecord]]) -> list[FileRecord]:
    """`results` with each container (at the indexes to_open gave) in place of what open_one found in it."""
    out: list[FileRecord] = []
    for i, r in enumerate(results):
        out.extend(opened[i] if i in opened else (r,))
    return out


def item_record(item: Item, container: Path, mtime_ns: int, scratch: Path) -> FileRecord:
    """The record of one attachment or member."""
    if item.is_spreadsheet:
        # What opening it found (an attachment damaged on its way) stays with it: the reader adds its own.
        return FileRecord(item.name, write_temporary(item, scratch), issues=[item.issue] if item.issue else [],
                          sha256=item.sha256, mtime_ns=mtime_ns, source=item.source)
    issues = [item.issue] if item.issue is not None else []
    failed = any(i.severity == Severity.ERROR for i in issues)
    return FileRecord(item.name, container, Status.UNREADABLE if failed else Status.SKIPPED, issues,
                      reason=item.reason, mtime_ns=mtime_ns, source=item.source)


def fingerprint(results: list[FileRecord]) -> None:
    """Hash and time-stamp every file that is still to be read (an attachment's are known already)."""
    for r in results:
        if r.status is None and r.source is None and r.path.is_file():
            r.sha256 = file_sha256(r.path)
            try:
                r.mtime_ns = r.path.stat().st_mtime_ns
            except OSError:
                pass


def mark_duplicates(results: list[FileRecord]) -> dict[str, int]:
    """Files with the same bytes are one return: the earliest (by file time, then name) is the original, the
    rest are its duplicates, each saying why. Returns sha256 -> index of the original."""
    originals: dict[str, int] = {}
    for i, r in enumerate(results):
        if r.status is None and r.sha256:
            j = originals.get(r.sha256)
            if j is None or (r.mtime_ns, i) < (results[j].mtime_ns, j):
                originals[r.sha256] = i
    for i, r in enumerate(results):
        j = originals.get(r.sha256) if r.status is None and r.sha256 else None
        if j is not None and j != i:
            original = results[j]
            r.status, r.duplicate_of = Status.DUPLICATE, original.file
            why = "it has the earlier file time" if original.mtime_ns < r.mtime_ns else "its name comes first"
            r.reason = f"the same bytes as {original.file}, which is taken as the original because {why}"
    return originals


# ---------------------------------------------------------------------------------------------------
# Resubmissions


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


def _sent(r: FileRecord) -> dt.datetime | None:
    if r.source is None or not r.source.sent:
        return None
    try:
        when = dt.datetime.fromisoformat(r.source.sent)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def later(a: FileRecord, b: FileRecord, order: dict[str, int]) -> tuple[int, str]:
    """(>0 when a is the later submission, the rule that decided): the date completed on the cover, then the
    date the email was sent, then the file's time, then the order of the names."""
    da, db = parse_date(a.date), parse_date(b.date)
    if da and db and da != db:
        return (1 if da > db else -1), "date completed"
    sa, sb = _sent(a), _sent(b)
    if sa and sb and sa != sb:
        return (1 if sa > sb else -1), "date sent"
    if a.mtime_ns != b.mtime_ns:
        return (1 if a.mtime_ns > b.mtime_ns else -1), "file time"
    return (1 if order[a.file] > order[b.file] else -1), "order of the file names"


def _by_time(order: dict[str, int]) -> Callable[[FileRecord, FileRecord], int]:
    def compare(a: FileRecord, b: FileRecord) -> int:
        return later(a, b, order)[0]
    return compare


def resolve_copies(results: list[FileRecord]) -> None:
    """Flag resubmissions: the same respondent (council, name and organisation), the older superseded by the
    newer, saying which rule decided. The same workbook filled in by another respondent is noted only."""
    order = {r.file: i for i, r in enumerate(results)}
    live = [r for r in results if r.live and (r.council or r.workbook_id)]
    groups: dict[tuple, list[FileRecord]] = {}
    for r in live:
        who = respondent_key(r.code, r.council, r.respondent, r.organisation)
        if who is not None:
            groups.setdefault(("who", *who), []).append(r)
        elif r.workbook_id and (council_key(r.code, r.council) or normal_name(r.respondent)):
            # Nobody named, or no council: the same issued workbook, with what little it says alike.
            groups.setdefault(("wid", r.workbook_id, council_key(r.code, r.council), normal_name(r.respondent),
                               normal_name(r.organisation)), []).append(r)
    for members in groups.values():
        if len(members) < 2:
            continue
        ranked = sorted(members, key=functools.cmp_to_key(_by_time(order)))
        newest = ranked[-1]
        for old in ranked[:-1]:
            old.status = Status.SUPERSEDED
            old.superseded_by = newest.file
            old.decided_by = later(newest, old, order)[1]
            newest.supersedes.append(old.file)
    # The same issued workbook filled in by another respondent for the same council: a partner's view,
    # kept and counted, but noted. (A blank workbook sent to every council shares one id: not noted.)
    by_wid: dict[tuple[str, str], list[FileRecord]] = {}
    for r in live:
        if r.workbook_id and r.status != Status.SUPERSEDED:
            by_wid.setdefault((r.workbook_id, council_key(r.code, r.council)), []).append(r)
    for members in by_wid.values():
        for r in members:
            r.same_workbook_as = [o.file for o in members if o is not r][:5]
