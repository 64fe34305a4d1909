"""`titan-eval sweep` killed with SIGKILL inside a step (issue 31): re-running the same command resumes that step
inside its run (the runner's own resume) and ends with the same per-step samples as an uninterrupted sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sweep_helpers import make_checkpoints

pytestmark = pytest.mark.slow


def _args(shared: Path, ckpts: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "titan_eval", "sweep", "arc_easy", "--model", "titan-tiny", "--checkpoints",
            str(ckpts / "ckpt_*.pt"), "--data-dir", str(shared / "data"), "--limit", "64", "--output", str(out),
            "--quiet"]


def _samples(out: Path) -> dict[str, bytes]:
    return {p.parent.name: p.read_bytes() for p in sorted(out.glob("*/samples.jsonl"))}


def test_a_killed_sweep_resumes_to_the_uninterrupted_files(shared: Path, tmp_path: Path) -> None:
    ckpts = tmp_path / "ckpts"
    make_checkpoints(ckpts, [100, 200])
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = subprocess.run(_args(shared, ckpts, whole), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    proc = subprocess.Popen(_args(shared, ckpts, killed), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        partial = [p for p in killed.glob("*/samples.jsonl") if p.read_text().count("\n") >= 32]
        if partial:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    assert _samples(killed) != _samples(whole)  # killed inside its first step
    again = subprocess.run(_args(shared, ckpts, killed), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert _samples(killed) == _samples(whole) and len(_samples(whole)) == 2
