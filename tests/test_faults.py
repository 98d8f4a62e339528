"""A batch run is all or nothing, and nothing outlives it: real faults against real runs.

Each test runs `scoa batch` as a separate process and does to it what happens on a programme team's shared
drive: a real SIGKILL at several moments (the moment chosen with SCOA_KILL_AT, the kill itself real, and also
at a moment picked by the clock), SIGTERM and Ctrl-C, a disk that really fills (a small tmpfs, as root), a
folder it may not write (capabilities dropped), and the umask. After each, OUT must hold exactly one run's
outputs, no process of the run may be left, and the next run must clear what was left behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers import answers, fill_workbook

from scoa_xl.generate import generate
from scoa_xl.model import Identity
from scoa_xl.outputs import JOURNAL, RUN_PREFIX, recover
from scoa_xl.spec import load_spec

SPEC = load_spec()
CMD = [sys.executable, "-c", "from scoa_xl.cli import main; main()"]
COUNCILS = [("Leeds", "E08000035"), ("Kent", "E10000016"), ("Camden", "E09000007"), ("Cornwall", "E06000052"),
            ("Norfolk", "E10000020"), ("Birmingham", "E08000025"), ("Derbyshire", "E10000007"),
            ("Manchester", "E08000003")]


def make_inbox(folder: Path, tmp: Path, councils: list[tuple[str, str]], shift: int) -> Path:
    folder.mkdir(parents=True)
    blank = tmp / "blank.xlsx"
    if not blank.exists():
        generate(SPEC, blank, Identity())
    for k, (name, code) in enumerate(councils):
        fill = answers(SPEC, lambda i, f, k=k: (i + k + shift) % 5 + 1,
                       control=lambda i, f, n: SPEC.control[i % 4].label, boost=lambda i, f, n: "Yes",
                       identity={"council": name, "council_code": code, "respondent": f"Officer {shift}",
                                 "organisation": f"{name} Council", "date": f"2026-03-{10 + shift:02d}"})
        for m in SPEC.models:
            fill[f"priority_{m.id}"] = SPEC.priority[(k + shift) % 5].label
        fill_workbook(blank, folder / f"{name.lower()}.xlsx", fill)
    return folder


@pytest.fixture(scope="module")
def inboxes(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("faults")
    return {"A": make_inbox(tmp / "inbox-a", tmp, COUNCILS[:2], 0),
            "B": make_inbox(tmp / "inbox-b", tmp, COUNCILS, 1)}


def batch(inbox: Path, out: Path, *, token: str = "", env: dict[str, str] | None = None,
          wait: bool = True, umask: int | None = None, prefix: tuple[str, ...] = ()):
    """`scoa batch` in its own process; every process of the run carries SCOA_TEST_TOKEN, so none can hide."""
    full = {**os.environ, "SCOA_TEST_TOKEN": token or uuid.uuid4().hex, **(env or {})}
    args = [*prefix, *CMD, "batch", str(inbox), "-o", str(out), "--quiet", "--jobs", "2"]
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    if wait:
        return subprocess.run(args, env=full, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                              preexec_fn=preexec)
    return subprocess.Popen(args, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=preexec)


def processes_with(token: str) -> list[int]:
    """Live processes whose environment carries the token (a worker re-parented to init included)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"SCOA_TEST_TOKEN={token}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def none_left(token: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while processes_with(token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def snapshot(out: Path) -> dict[str, str]:
    """Every entry of OUT with a digest of its bytes, apart from what a stopped run leaves to be cleared."""
    got = {}
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if rel.startswith(RUN_PREFIX):
            continue
        got[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
    return got


def leftovers(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.name.startswith((RUN_PREFIX, ".~scoa-", ".scoa-staging-", JOURNAL)))


def plans(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "plans").iterdir())


@pytest.fixture
def run_a(inboxes, tmp_path) -> tuple[Path, dict[str, str]]:
    """OUT after one complete run A (two councils), and its snapshot."""
    out = tmp_path / "out"
    done = batch(inboxes["A"], out)
    assert done.returncode == 0, done.stderr
    return out, snapshot(out)


@pytest.mark.parametrize("moment", ["reading", "plans", "placing", "summary"])
def test_a_kill_at_any_moment_leaves_the_previous_run_and_the_next_run_clears_up(inboxes, run_a, moment):
    out, before = run_a
    token = uuid.uuid4().hex
    killed = batch(inboxes["B"], out, token=token, env={"SCOA_KILL_AT": moment})
    assert killed.returncode == -signal.SIGKILL
    assert none_left(token), f"processes of the run still alive after 5 s: {processes_with(token)}"
    assert snapshot(out) == before  # exactly run A, byte for byte
    assert len(plans(out)) == 2

    again = batch(inboxes["B"], out)
    assert again.returncode == 0, again.stderr
    assert leftovers(out) == []
    assert len(plans(out)) == len(COUNCILS)  # now wholly run B
    manifest = json.loads((out / ".scoa-batch-manifest.json").read_text())
    assert sorted(Path(p).name for p in manifest["written"] if p.startswith("plans/")) == plans(out)


def test_the_next_run_says_it_cleared_a_killed_run(inboxes, run_a):
    out, _ = run_a
    assert batch(inboxes["B"], out, env={"SCOA_KILL_AT": "placing"}).returncode == -signal.SIGKILL
    assert [p for p in leftovers(out) if p.startswith(RUN_PREFIX)]  # the staging folder, with council data
    res = subprocess.run([*CMD, "batch", str(inboxes["B"]), "-o", str(out)], capture_output=True, text=True,
                         timeout=300, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    notes = [line for line in res.stderr.splitlines() if line.startswith("Before this run")]
    assert len(notes) == 1 and "removed" in notes[0], res.stderr
    assert leftovers(out) == []


def test_a_kill_during_the_swap_is_finished_before_anything_else(inboxes, run_a):
    out, before = run_a
    killed = batch(inboxes["B"], out, env={"SCOA_KILL_AT": "swap"})
    assert killed.returncode == -signal.SIGKILL
    assert (out / JOURNAL).exists()  # killed after the first output was swapped: half done, and recorded
    said = recover(out)
    assert "finished putting in place" in said
    assert leftovers(out) == []
    assert len(plans(out)) == len(COUNCILS)  # rolled forward to the complete run B, not a mix
    manifest = json.loads((out / ".scoa-batch-manifest.json").read_text())
    assert sorted(Path(p).name for p in manifest["written"] if p.startswith("plans/")) == plans(out)
    assert snapshot(out) != before


def test_a_kill_at_a_moment_the_clock_picks(inboxes, run_a):
    # No hook: the kill lands wherever the run happens to be once it has started writing.
    out, before = run_a
    for delay in (0.0, 0.4, 1.0):
        token = uuid.uuid4().hex
        proc = batch(inboxes["B"], out, token=token, wait=False)
        deadline = time.monotonic() + 60
        while not any(p.name.startswith(RUN_PREFIX) for p in out.iterdir()) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(delay)
        proc.kill()
        proc.communicate(timeout=60)
        assert none_left(token)
        now = snapshot(out)
        if (out / JOURNAL).exists():
            recover(out)
            now = snapshot(out)
        # One whole run, never a mix: still run A, or (if the kill came after it finished) all of run B.
        assert now == before or len(plans(out)) == len(COUNCILS)
        assert len([p for p in now if p.startswith("plans/")]) in (2, len(COUNCILS))
        before = now if len(plans(out)) == len(COUNCILS) else before
    assert batch(inboxes["B"], out).returncode == 0
    assert leftovers(out) == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
def test_a_stop_signal_ends_the_run_cleanly_with_its_exit_status(inboxes, run_a, sig, code):
    out, before = run_a
    token = uuid.uuid4().hex
    proc = batch(inboxes["B"], out, token=token, wait=False)
    deadline = time.monotonic() + 60
    while len(processes_with(token)) < 2 and proc.poll() is None:  # the workers have started
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "Stopped before the end" in err
    assert none_left(token)
    if len(plans(out)) != len(COUNCILS):  # the signal came before the run had finished
        assert snapshot(out) == before
    assert leftovers(out) == []  # a run that is stopped (not killed) clears up after itself


def test_workers_die_with_a_killed_parent(inboxes, tmp_path):
    token = uuid.uuid4().hex
    proc = batch(inboxes["B"], tmp_path / "out", token=token, wait=False)
    deadline = time.monotonic() + 60
    while len(processes_with(token)) < 3 and proc.poll() is None:  # main and two workers
        assert time.monotonic() < deadline
        time.sleep(0.01)
    proc.kill()
    proc.communicate(timeout=60)
    assert none_left(token, 5.0), f"still alive 5 s after the main process was killed: {processes_with(token)}"


def _mount_tmpfs(where: Path, size: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True)
    return done.returncode == 0


def _blocks(folder: Path) -> int:
    """What the files under `folder` take on a tmpfs (whole pages)."""
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("moment", ["plans", "summary"])
def test_a_full_disk_gives_one_message_and_leaves_the_previous_run(inboxes, tmp_path, moment):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, 8 << 20):
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs as root and must be able to mount a small tmpfs for the full-disk test")
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        out = disk / "out"
        assert batch(inboxes["A"], out).returncode == 0
        before = snapshot(out)
        used = shutil.disk_usage(disk).used
        if moment == "plans":
            room = 160 << 10  # about half of run B: the disk fills while its plans and letters are being written
        else:
            # Room for all of run B but its summary, which is assembled part by part in files beside it: measured
            # on a run of B where the disk does not fill.
            trial = disk / "trial"
            assert batch(inboxes["B"], trial).returncode == 0
            room = _blocks(trial) - _blocks(trial / "summary.xlsx") + 8192
            shutil.rmtree(trial)
            used = shutil.disk_usage(disk).used
        subprocess.run(["mount", "-o", f"remount,size={used + room}", str(disk)], check=True)
        res = batch(inboxes["B"], out)
        assert res.returncode == 1
        assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith(f"Error: could not write {out}")
        assert "the disk is full" in lines[0] and "untouched" in lines[0] and ".~scoa" not in lines[0]
        assert snapshot(out) == before
        assert leftovers(out) == []
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.parametrize("locked", [".", "plans"])
def test_a_folder_it_may_not_write_gives_one_message_and_changes_nothing(inboxes, run_a, locked):
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is needed to drop root's right to write anywhere")
    out, before = run_a
    target = out / locked
    target.chmod(0o555)
    try:
        # As root every folder is writable; so the batch runs without the capabilities that allow it.
        res = batch(inboxes["B"], out, prefix=("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"))
    finally:
        target.chmod(0o755)
    assert res.returncode == 1
    assert "Traceback" not in res.stderr and ".~scoa" not in res.stderr
    assert "permission to write there was refused" in res.stderr and "untouched" in res.stderr
    assert str(out) in res.stderr
    assert snapshot(out) == before


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_outputs_honour_the_umask(inboxes, tmp_path, umask, file_mode, dir_mode):
    out = tmp_path / "out"
    assert batch(inboxes["A"], out, umask=umask).returncode == 0
    for p in [out, *out.rglob("*")]:
        mode = p.stat().st_mode & 0o777
        assert mode == (dir_mode if p.is_dir() else file_mode), f"{p}: {oct(mode)}"
    for args in (["generate", "-o", str(tmp_path / "blank.xlsx")],
                 ["plan", str(inboxes["A"] / "leeds.xlsx"), "-o", str(tmp_path / "plan.xlsx")]):
        done = subprocess.run([*CMD, *args], capture_output=True, text=True, preexec_fn=lambda: os.umask(umask))
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "blank.xlsx").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "plan.xlsx").stat().st_mode & 0o777 == file_mode


def test_check_json_is_valid_utf8_whatever_the_file_name(inboxes, tmp_path):
    odd = os.fsencode(tmp_path) + b"/caf\xe9 \x07return.xlsx"
    shutil.copyfile(inboxes["A"] / "leeds.xlsx", odd)
    for command in ("check", "score"):
        res = subprocess.run([os.fsencode(a) for a in CMD] + [command.encode(), odd, b"--json"],
                             capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr
        data = json.loads(res.stdout.decode("utf-8"))  # strict UTF-8, and valid JSON
        if command == "check":
            assert data[0]["file"].endswith("caf\\xe9 \\x07return.xlsx")


def test_without_an_atomic_exchange_the_journalled_swap_gives_one_whole_run(inboxes, tmp_path, monkeypatch):
    # Another OS, or a file system that refuses RENAME_EXCHANGE: each output is set aside, then replaced.
    from scoa_xl import outputs
    from scoa_xl.batch import run_batch

    monkeypatch.setattr(outputs, "exchange", lambda a, b: False)
    out = tmp_path / "out"
    run_batch(inboxes["A"], out, SPEC, register=None, jobs=1)
    before = snapshot(out)

    # A complete run B, made by a real batch elsewhere and staged for OUT.
    other = tmp_path / "other"
    run_batch(inboxes["B"], other, SPEC, register=None, jobs=1)
    run = outputs.StagedRun(out)
    for name in outputs.OUTPUTS:
        if (other / name).is_dir():
            shutil.copytree(other / name, run.dir / name)
        elif (other / name).exists():
            shutil.copyfile(other / name, run.dir / name)
    real_replace, calls = os.replace, []

    def refuse_the_third(src, dst):  # the file system refuses part-way through the swap (injected)
        calls.append(dst)
        if len(calls) == 3:  # journal, old summary set aside, then the new summary put in: refused
            raise OSError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(os, "replace", refuse_the_third)
        with pytest.raises(OSError):
            run.commit()
    run.discard()
    assert snapshot(out) == before  # what was already swapped was put back
    assert leftovers(out) == []

    run_batch(inboxes["B"], out, SPEC, register=None, jobs=1)  # and without the fault, renames do the swap
    assert len(plans(out)) == len(COUNCILS) and leftovers(out) == []
