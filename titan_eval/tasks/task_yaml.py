"""Reading a task YAML as plain data: lm-eval's `!function` tag kept as its text, nothing imported, so a defect is
a DataError with file and line before lm-eval (whose index would skip the file silently) sees it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from titan_eval.errors import DataError
from titan_eval.textfiles import load_yaml


def read_task_yaml(path: Path) -> dict[str, Any]:
    """A task YAML as plain data (`!function` read as its text, nothing imported); DataError (file:line) when it
    does not parse or is not a mapping."""
    cfg = load_yaml(path, "task YAML", loader=_task_yaml_loader())
    if not isinstance(cfg, dict):
        raise DataError(f"{path}: a task YAML must be a mapping")
    return cfg


@lru_cache(maxsize=1)
def _task_yaml_loader() -> type:
    import yaml

    class TaskYamlLoader(yaml.SafeLoader):
        """The safe loader plus lm-eval's `!function` tag, kept as a string."""

    TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return TaskYamlLoader
