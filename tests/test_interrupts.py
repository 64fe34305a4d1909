"""Stopping a run cleanly (titan_eval.interrupts, cli.run_guard): SIGINT / SIGTERM become `RunInterrupted` with
exit code 130 / 143, a write inside `uninterruptible()` finishes before the signal acts, the previous handlers
come back, an ignored SIGINT stays ignored; the runner marks run.json `interrupted` and releases its lock; the
resume line repeats the user's command with `--resume DIR`."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from titan_eval.cli.run_guard import resume_command
from titan_eval.errors import RunInterrupted
from titan_eval.interrupts import stop_on_signals, uninterruptible
from titan_eval.loading import load
from titan_eval.progress import RunProgress
from titan_eval.run_lock import LOCK_NAME
from titan_eval.runner import RunOptions, run


def _deliver(sig: int) -> None:
    """Send `sig` to this process and give the interpreter a moment to run its handler."""
    os.kill(os.getpid(), sig)
    time.sleep(0.2)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_raises_run_interrupted_with_its_exit_code(sig: int, code: int) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(RunInterrupted) as caught, stop_on_signals():
        _deliver(sig)
        pytest.fail("the signal did not interrupt")
    assert caught.value.exit_code == code and str(caught.value) == f"interrupted by {signal.Signals(sig).name}"
    assert signal.getsignal(sig) is before


def test_a_signal_waits_for_the_write_in_progress() -> None:
    finished = []
    with pytest.raises(RunInterrupted) as caught, stop_on_signals():
        with uninterruptible():
            _deliver(signal.SIGTERM)
            finished.append("the whole chunk")
        pytest.fail("the held signal was lost")
    assert finished == ["the whole chunk"] and caught.value.exit_code == 143


def test_an_ignored_sigint_stays_ignored() -> None:
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with stop_on_signals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            _deliver(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)


def test_the_resume_line_repeats_the_command_with_resume() -> None:
    argv = ["run", "arc_easy", "--limit", "5", "--output", "/r/a b", "--seed", "1"]
    assert resume_command("/r/a b", argv) == "titan-eval run arc_easy --limit 5 --seed 1 --resume '/r/a b'"
    assert resume_command("/r/x", ["run", "arc_easy", "--resume=/r/x"]) == "titan-eval run arc_easy --resume /r/x"
    assert resume_command("/r/x", ["-m", "pytest"]) == "titan-eval run … --resume /r/x"


class _StopAfterFirstChunk(RunProgress):
    """Raises what the signal handler raises, right after the first chunk was written."""

    def docs_done(self, key: str, n: int) -> None:
        raise RunInterrupted(signal.SIGTERM)


def test_the_runner_marks_an_interrupted_run_and_releases_its_lock(tmp_path: Path) -> None:
    out = tmp_path / "r"
    options = RunOptions(tasks=("titan_sample",), limit=8, output_dir=str(out))
    with pytest.raises(RunInterrupted) as caught:
        run(load("titan-tiny", device="cpu"), options, _StopAfterFirstChunk())
    assert caught.value.run_dir == out and caught.value.exit_code == 143
    state = json.loads((out / "run.json").read_text())["titan_eval"]
    assert state["status"] == "interrupted" and state["interrupted_by"] == "SIGTERM"
    assert len((out / "samples.jsonl").read_text().splitlines()) == 8  # the chunk written before the signal
    assert not (out / LOCK_NAME).exists()
    _, record = run(load("titan-tiny", device="cpu"), options)  # an interrupted run resumes
    assert record.status == "complete"
