"""The project's one gateway to a real LibreOffice (headless ``soffice``).

Used by the tests to check that generated workbooks survive a re-save in
LibreOffice Calc, and by the code wherever a real recalculation is needed.
Each call runs its own ``soffice`` process with its own fresh profile, so
parallel calls do not clash.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["OfficeError", "convert", "find_soffice"]

_FALLBACK_PATHS = ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice")

# fmt -> LibreOffice --convert-to argument; other values are passed through.
_FILTERS = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "ods": "ods"}

# Profile settings: recalculate every formula on load, for .xlsx and .ods alike
# (0 = always, 1 = never, 2 = prompt). Without this, stale cached values stay.
_RECALC_XCU = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_TAIL_CHARS = 2000


class OfficeError(Exception):
    """LibreOffice is missing, failed, timed out or produced no output."""


def find_soffice() -> str | None:
    """Return the path of the ``soffice`` executable, or None if not installed."""
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    for candidate in _FALLBACK_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _tail(data: bytes | None) -> str:
    text = (data or b"").decode("utf-8", errors="replace").strip()
    return text[-_TAIL_CHARS:] or "(empty)"


def convert(
    sources: Sequence[Path],
    out_dir: Path,
    fmt: str = "xlsx",
    *,
    recalc: bool = True,
    timeout: float = 180,
    sheet: tuple[int, str] | None = None,
) -> list[Path]:
    """Convert ``sources`` to ``fmt`` in ``out_dir`` with one headless soffice call.

    ``fmt`` is "xlsx" or "ods" (any other LibreOffice ``--convert-to`` value
    is passed through; the output suffix is the part before a colon). With
    ``recalc`` every formula is recalculated on load; without it LibreOffice
    keeps the cached values it finds. With ``sheet`` (its 1-based index and
    name) only that sheet is exported, as CSV of the values as shown (each
    number in its cell's format), to ``stem-Name.csv``. Returns the output paths in source
    order (``out_dir / (stem + "." + suffix)``). ``out_dir`` must not be the
    directory of any source, so an input is never overwritten.

    Raises OfficeError if soffice is missing, a source is missing, the
    call times out or fails, or an expected output does not appear.
    """
    sources = [Path(s) for s in sources]
    out_dir = Path(out_dir)
    if not sources:
        return []
    suffix = fmt.split(":", 1)[0].lower()
    target = _FILTERS.get(fmt.lower(), fmt)
    if sheet is not None:  # separator, quote, UTF-8, from row 1, ..., "save cell contents as shown", that sheet
        suffix, target = "csv", f"csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,{sheet[0]}"

    out_dir.mkdir(parents=True, exist_ok=True)
    out_resolved = out_dir.resolve()
    outputs: list[Path] = []
    for src in sources:
        if not src.is_file():
            raise OfficeError(f"source file not found: {src}")
        if src.resolve().parent == out_resolved:
            raise OfficeError(
                f"out_dir {out_dir} is the directory of source {src}; "
                "refusing to risk overwriting an input"
            )
        outputs.append(out_dir / (f"{src.stem}-{sheet[1]}.csv" if sheet else f"{src.stem}.{suffix}"))
    if len({p.name for p in outputs}) != len(outputs):
        raise OfficeError("two sources share a file stem; their outputs would collide")

    soffice = find_soffice()
    if soffice is None:
        raise OfficeError("LibreOffice (soffice) not found; install libreoffice-calc-nogui")

    for out in outputs:  # so a stale file is never taken for fresh output
        out.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="scoa-lo-profile-") as profile:
        if recalc:
            user = Path(profile) / "user"
            user.mkdir()
            (user / "registrymodifications.xcu").write_text(_RECALC_XCU, encoding="utf-8")
        cmd = [
            soffice,
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--headless",
            "--norestore",
            "--nologo",
            "--convert-to",
            target,
            "--outdir",
            str(out_dir),
            *(str(s) for s in sources),
        ]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # own process group, so a timeout kills it all
        )
        try:
            _stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _stdout, stderr = proc.communicate()
            raise OfficeError(
                f"soffice timed out after {timeout:g} s; stderr: {_tail(stderr)}"
            ) from None

    missing = [str(p) for p in outputs if not p.is_file()]
    if proc.returncode != 0 or missing:
        raise OfficeError(
            f"soffice exited with {proc.returncode}; missing output: "
            f"{', '.join(missing) or 'none'}; stderr: {_tail(stderr)}"
        )
    return outputs
