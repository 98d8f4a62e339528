"""workers.Beside: one piece of work on the other core, while the caller does another."""

from __future__ import annotations

import errno
import os
import signal
import time
from pathlib import Path

import pytest

from scoa_xl.workers import Beside


def _whose(path: Path, text: str) -> int:
    path.write_text(text)
    return os.getpid()


def _write_into_missing(path: Path) -> None:
    (path / "missing" / "letter.txt").write_text("never written")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _sleep(path: Path) -> None:
    path.write_text(str(os.getpid()))
    time.sleep(60)


def test_beside_runs_in_another_process_while_the_caller_works(tmp_path):
    side = Beside(_whose, tmp_path / "side.txt", "written beside")
    (tmp_path / "main.txt").write_text("written by the caller")
    pid = side.wait()
    assert pid != os.getpid()
    assert (tmp_path / "side.txt").read_text() == "written beside"


def test_what_the_work_raised_is_raised_by_wait_with_its_errno(tmp_path):
    side = Beside(_write_into_missing, tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        side.wait()
    assert caught.value.errno == errno.ENOENT
    assert "missing" in str(caught.value.filename)


def test_work_killed_by_a_real_sigkill_is_reported_not_lost():
    side = Beside(_die)
    with pytest.raises(RuntimeError, match="_die stopped before it finished"):
        side.wait()


def test_close_stops_work_the_caller_will_not_wait_for(tmp_path):
    marker = tmp_path / "pid.txt"
    side = Beside(_sleep, marker)
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pid = int(marker.read_text())
    side.close()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
