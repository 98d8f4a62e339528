"""Files the tool writes and names: whole-or-nothing writes, safe names, names fit to show, file hashes.

Every writer in the package goes through `atomic_output` (or `write_atomic`), so an output is written whole or
not at all and is readable by whoever the user's umask allows; every file name made from what a person typed
goes through `safe_filename`; every name shown or written into a report goes through `display_name`.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import stat
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEXT_LIMIT = 32767  # characters a spreadsheet cell holds (Excel's limit; both writers cut silently past it)
NAME_BYTES = 120  # file names kept well under the 255-byte limit of common file systems
TEMP_PREFIX = ".~scoa-"  # every temporary file a writer leaves while it works starts with this

_UNSAFE = re.compile(r'[<>:"/\\|?*]+')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def _umask() -> int:
    # Reading the umask means setting it; set it straight back (a process-wide value, read once per write).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: Path | str) -> None:
    """Give a file the permissions an ordinary `open()` would have: 0666 less the umask (mkstemp makes 0600)."""
    os.chmod(path, 0o666 & ~_umask())


@contextmanager
def atomic_output(out: Path | str) -> Iterator[Path]:
    """A temporary path beside `out` to write to; moved into place only when the block finishes.

    So an output is written whole or not at all: an interrupted run leaves the old file (or none),
    never half a workbook.
    """
    out = Path(out)
    tmp = ""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=out.suffix, dir=out.parent)
        os.close(fd)
        yield Path(tmp)
        honour_umask(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        # Name the file the user asked for, never the temporary one.
        raise OSError(exc.errno, exc.strerror, os.fspath(out)) from None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: Path | str, data: bytes | str) -> Path:
    """Write a file whole or not at all: a temp file in the same folder, then os.replace."""
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


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


def display_name(name: str | os.PathLike[str]) -> str:
    """A file name as text that can be shown and written anywhere (JSON, a sheet, a letter): bytes that are not
    UTF-8, control characters and text-direction marks become visible escapes (\\xe9, \\x07), so it stays unique
    and findable. The one escaping rule for names, in every output."""
    text = os.fspath(name).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}" if ord(m.group()) > 0xff else
                          f"\\x{ord(m.group()):02x}", text)


def is_inside(path: Path, folder: Path) -> bool:
    """Whether `path` is `folder` or lies within it, links resolved."""
    return path.resolve().is_relative_to(folder.resolve())


def file_sha256(path: Path | str) -> str:
    """The SHA-256 of an ordinary file, read without blocking ('' for a pipe, device or unreadable file).

    Opening a named pipe normally waits for a writer forever; this never does.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            h = hashlib.sha256()
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    except OSError:
        return ""


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2  # renameat2(2) flag: swap two paths in one step
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM}


def _renameat2() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without it
        return None


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux renameat2 with RENAME_EXCHANGE): at every moment each
    path names one whole thing. False where the system or file system cannot do it; an OSError for a real fault."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE:
        return False
    raise OSError(err, os.strerror(err), str(b))


def make_dir(path: Path) -> Path:
    """A folder with the permissions the umask gives (tempfile.mkdtemp would make it private to the user)."""
    os.makedirs(path, exist_ok=True)
    return path
