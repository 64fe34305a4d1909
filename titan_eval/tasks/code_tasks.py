"""Which tasks execute model-written code: the project's task YAMLs whose metadata says `sandboxed_code: true`
(humaneval, humaneval_plus, mbpp, mbpp_plus; an `include:`d YAML passes it on). Read from the YAMLs as data, so a
run knows before anything loads whether it needs the sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from titan_eval.tasks.task_yaml import read_task_yaml

MARKER = "sandboxed_code"


def _declares(path: Path, depth: int = 0) -> bool:
    """Whether the YAML, or one it includes (relative to it), sets metadata.sandboxed_code."""
    cfg: dict[str, Any] = read_task_yaml(path)
    meta = cfg.get("metadata")
    if isinstance(meta, dict) and MARKER in meta:
        return bool(meta[MARKER])
    included = cfg.get("include")
    if isinstance(included, str) and depth < 8 and (path.parent / included).is_file():
        return _declares(path.parent / included, depth + 1)
    return False


def code_task_names(names: list[str], include_path: Path | None = None) -> list[str]:
    """The project tasks among `names` (tags and groups expanded) that run model-written code."""
    from titan_eval.tasks.catalog import expand_names, lm_eval_task_files
    from titan_eval.tasks.task_names import PROJECT

    files = lm_eval_task_files()
    return [n for n, source in expand_names(names, include_path).items()
            if source == PROJECT and n in files and _declares(files[n])]
