"""Where the project's own files live: the repo root (model cards, tasks, results) and ../shared."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CARDS_DIR = REPO_ROOT / "model"
TASKS_DIR = REPO_ROOT / "tasks"
RESULTS_DIR = REPO_ROOT / "results"


def shared_dir() -> Path | None:
    """`$TITAN_EVAL_SHARED`, else `../shared` beside the checkout; None when neither exists."""
    env = os.environ.get("TITAN_EVAL_SHARED")
    candidates = [Path(env)] if env else [REPO_ROOT.parent / "shared"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def expand(path: str, base: Path | None = None) -> str:
    """Expand `${TITAN_EVAL_SHARED}`/`~`/env vars; relative paths are taken relative to `base` if it exists there."""
    shared = shared_dir()
    if shared is not None and "TITAN_EVAL_SHARED" not in os.environ:
        path = path.replace("${TITAN_EVAL_SHARED}", str(shared))
    out = os.path.expanduser(os.path.expandvars(path))
    if base is not None and not os.path.isabs(out) and (base / out).exists():
        return str((base / out).resolve())
    return out
