"""Test helpers. Tests that need ../shared use the `shared` fixture, which skips with a reason when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from titan_eval.paths import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """Path of the read-only shared folder ($TITAN_EVAL_SHARED or ../shared); skip if absent."""
    path = shared_dir()
    if path is None:
        pytest.skip("needs ../shared (or $TITAN_EVAL_SHARED): reference vectors, data and tokenizers live there")
    return path


def load_vector(shared: Path, name: str) -> dict:
    """A reference-vector file from shared/vectors (weights-only load)."""
    path = shared / "vectors" / name
    if not path.exists():
        pytest.skip(f"reference vector {name} is not in {shared / 'vectors'}")
    return torch.load(path, weights_only=True)


# pytest-xdist runs one worker per core: give each worker its share of threads instead of oversubscribing.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))


@pytest.fixture(autouse=True)
def _deterministic() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def view_runs(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder with real ll + cot runs of titan-tiny and mamba-tiny on arc_easy (tests/view_helpers.py);
    made once per session (per xdist worker)."""
    from view_helpers import make_runs

    return make_runs(tmp_path_factory.mktemp("view-results"), shared / "data")
