"""`benchmarks/gpu_check.sh --device cpu`: the CUDA check script runs end to end on the CPU (issue 32's smoke test):
every reference-vector parity check passes and the full-size benchmark's table has one row per card and dtype."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_runs_on_the_cpu(shared: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable, "TITAN_EVAL_SHARED": str(shared)}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--device", "cpu", "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.split("== summary")[1]
    assert "parity on cpu: 24 of 24 checks ok" in summary
    rows = [ln for ln in summary.splitlines() if ln.startswith("| ") and ("float32" in ln or "bfloat16" in ln)]
    assert len(rows) == 8 and {r.split("|")[1].strip() for r in rows} == {
        "mamba-1.4b", "titan-1.4b-sft20", "helix-v2-1b", "h64lm-249m"}
    assert all(float(r.split("|")[8].replace(",", "")) > 0 for r in rows)  # scoring tokens/s measured
    assert not (tmp_path / "out" / "checkpoints").exists()  # the written checkpoints are removed
