"""Running titan-eval in-process for tests, with the record as run.json's JSON layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from titan_eval.loading import LoadedModel
from titan_eval.runner import RunOptions, run


def run_json(loaded: LoadedModel, options: RunOptions,
             progress: Callable[[int], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """`titan_eval.runner.run`, returning the run folder and `RunRecord.to_json()`."""
    out, record = run(loaded, options, progress)
    return out, record.to_json()
