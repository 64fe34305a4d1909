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


def assert_same_tree(a: Any, b: Any, where: str = "", rel: float = 0.0, abs_: float = 1e-5) -> None:
    """`a` and `b` (JSON-like: dicts, lists, scalars) equal, floats within `abs_` or `rel` relative (two runs that
    batch differently may differ in the last bits of a float)."""
    import pytest

    if isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=rel, abs=abs_), where
    elif isinstance(a, dict) and isinstance(b, dict):
        assert set(a) == set(b), where
        for k in a:
            assert_same_tree(a[k], b[k], f"{where}.{k}", rel, abs_)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_tree(x, y, f"{where}[{i}]", rel, abs_)
    else:
        assert a == b, where
