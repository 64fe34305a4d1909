"""Sampled gsm8k in cot mode (issue 30: titan-tiny, K = 4, T = 0.8) on the real GSM8K test split: a run SIGKILLed after
its first chunk of documents, resumed, ends byte-identical to an uninterrupted run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from cli_helpers import titan_eval
from test_run_reliability import _signal_after_first_chunk

pytestmark = pytest.mark.slow


def _args(shared: Path, out: Path) -> list[str]:
    return ["run", "gsm8k", "--model", "titan-tiny", "--data-dir", str(shared / "data"), "--limit", "40", "--cot",
            "--samples", "4", "--temperature", "0.8", "--think-budget", "4", "--num-fewshot", "0",
            "--gen-kwargs", "max_gen_toks=4", "--output", str(out)]


def test_a_killed_sampled_cot_run_resumes_to_the_uninterrupted_files(shared: Path, tmp_path: Path) -> None:
    if not (shared / "data" / "openai" / "gsm8k" / "main" / "test.jsonl").exists():
        pytest.skip("the GSM8K mirror is not under the shared data folder")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert titan_eval(*_args(shared, whole)).returncode == 0
    code, _ = _signal_after_first_chunk(_args(shared, killed), killed / "samples.jsonl", signal.SIGKILL)
    assert code == -signal.SIGKILL, "the run finished before it could be killed"
    resumed = titan_eval(*_args(shared, killed)[:-2], "--resume", str(killed))
    assert resumed.returncode == 0, resumed.stderr
    assert (killed / "samples.jsonl").read_bytes() == (whole / "samples.jsonl").read_bytes()
