"""One writer per run folder (titan_eval.run_lock, cli.run_guard): the lock names its owner; a folder another live
process holds is refused (exit 2 from the CLI, naming the pid, before anything is written); a lock left by a dead
process is taken over, and the run says so; the lock is gone when the run ends."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import titan_eval
from titan_eval.errors import UsageError
from titan_eval.run_lock import LOCK_NAME, RunLock

HOLDER = "import sys, time; from titan_eval.run_lock import RunLock; RunLock.acquire(sys.argv[1]); print('held', " \
         "flush=True); time.sleep(120)"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _plant_lock(folder: Path, pid: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "since_utc": "then"}))


def test_the_lock_names_its_owner_refuses_a_second_holder_and_is_deleted_on_release(tmp_path: Path) -> None:
    lock = RunLock.acquire(tmp_path)
    owner = json.loads((tmp_path / LOCK_NAME).read_text())
    assert owner["pid"] == os.getpid() and owner["host"] == socket.gethostname() and lock.taken_over is None
    with pytest.raises(UsageError, match=f"in use by another titan-eval run \\(pid {os.getpid()} "):
        RunLock.acquire(tmp_path)  # one holder, even in one process: the CLI hands its lock to the writer
    lock.release()
    assert not (tmp_path / LOCK_NAME).exists()
    lock.release()  # idempotent
    with RunLock.acquire(tmp_path) as again:
        assert again.taken_over is None
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_run_writer_uses_a_lock_handed_in_and_leaves_it_held(tmp_path: Path) -> None:
    from titan_eval.store import RunWriter

    lock = RunLock.acquire(tmp_path)
    writer = RunWriter(tmp_path, "run-1", {"x": 1}, lock=lock)
    assert writer.lock is lock
    writer.close()
    assert (tmp_path / LOCK_NAME).exists() and not lock.released  # the caller that took it releases it
    lock.release()
    other = RunLock.acquire(tmp_path / "elsewhere") if (tmp_path / "elsewhere").mkdir() is None else None
    with pytest.raises(UsageError, match="not .*'s"):
        RunWriter(tmp_path / "third", "run-2", lock=other)
    other.release()


def test_a_live_owner_is_refused_by_pid_and_a_dead_ones_lock_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=f"in use by another titan-eval run \\(pid {holder.pid} on host"):
            RunLock.acquire(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    with RunLock.acquire(tmp_path) as lock:  # SIGKILL left the file; the kernel dropped the flock
        assert lock.taken_over is not None and lock.taken_over.pid == holder.pid
    dead = _dead_pid()
    _plant_lock(tmp_path, dead)
    with RunLock.acquire(tmp_path) as lock:
        assert lock.taken_over is not None and lock.taken_over.pid == dead
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_second_run_into_a_locked_output_exits_2_naming_the_pid(tmp_path: Path) -> None:
    out = tmp_path / "r"
    out.mkdir()
    with RunLock.acquire(out):
        proc = titan_eval("run", "titan_sample", "--model", "titan-tiny", "--output", str(out))
    assert proc.returncode == 2, proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr and "choose another --output" in proc.stderr
    assert "Traceback" not in proc.stderr and sorted(p.name for p in out.iterdir()) == []


@pytest.mark.slow
def test_a_stale_lock_is_taken_over_with_a_notice(tmp_path: Path) -> None:
    out = tmp_path / "r"
    dead = _dead_pid()
    _plant_lock(out, dead)
    proc = titan_eval("run", "titan_sample", "--model", "titan-tiny", "--limit", "4", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    notice = [ln for ln in proc.stderr.splitlines() if ln.startswith("note: took over")]
    assert len(notice) == 1 and f"pid {dead} on host" in notice[0] and "no longer running" in notice[0], proc.stderr
    assert json.loads((out / "run.json").read_text())["titan_eval"]["status"] == "complete"
    assert not (out / LOCK_NAME).exists()
