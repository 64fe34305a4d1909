"""The tasks titan-eval knows: lm-eval tasks defined by the YAMLs in the repo's `tasks/` folder, and the
project's native suites (run by their own runners on the same engine).

Task YAMLs are code: lm-eval's loader resolves `!function module.name` by importing Python files next to the YAML.
So lm-eval only ever reads the project's own `tasks/` folder (`include_path=TASKS_DIR`, its built-in task folder
off), `titan-eval run` has no include-path option, and `load_lm_eval_tasks` accepts only names declared by a YAML
directly in that folder: a file path or any other name is refused before lm-eval sees it (lm-eval itself would
load a task from a YAML path).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from titan_eval.errors import DataError, TitanEvalError, UsageError
from titan_eval.paths import TASKS_DIR
from titan_eval.textfiles import load_yaml, one_line, read_text

NATIVE_TASKS: dict[str, str] = {}
"""name → 'module:function' of native task runners (filled by the suites)."""
NATIVE_TASKS.update({
    "reasoning85": "titan_eval.suites.reasoning:run_reasoning85",
    "fact_margins": "titan_eval.suites.margins:run_fact_margins",
    "bpb": "titan_eval.suites.bpb:run_bpb",
})
SHARDED_NATIVE_TASKS: frozenset[str] = frozenset({"reasoning85", "fact_margins"})
"""Native tasks whose runner takes `(loaded, options, dist)` and shards its items across ranks; the others run
on rank 0 only in a distributed run."""


def quiet_libraries() -> None:
    """Keep lm-eval / datasets chatter off the terminal (warnings still reach the log)."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    for name in ("lm-eval", "lm_eval", "lm_eval.api.task", "lm_eval.evaluator", "lm_eval.tasks"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except Exception:  # datasets is a dependency; this is only cosmetic
        pass


@lru_cache(maxsize=1)
def lm_eval_task_files() -> dict[str, Path]:
    """{task name: YAML file} for the lm-eval tasks directly in tasks/ (each YAML's `task:` line)."""
    found: dict[str, Path] = {}
    for path in sorted(TASKS_DIR.glob("*.yaml")):
        for line in read_text(path, "task YAML").splitlines():
            if line.startswith("task:"):
                found[line.split(":", 1)[1].strip()] = path
    return found


def lm_eval_task_names() -> tuple[str, ...]:
    """Names of the lm-eval tasks under tasks/."""
    return tuple(lm_eval_task_files())


def all_task_names() -> list[str]:
    return sorted(set(lm_eval_task_names()) | set(NATIVE_TASKS))


def check_task_names(names: list[str]) -> None:
    """`UsageError` naming any unknown task."""
    unknown = [n for n in names if n not in all_task_names()]
    if unknown:
        raise UsageError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(all_task_names())}")


def load_lm_eval_tasks(names: list[str], data_dir: str | None) -> dict[str, Any]:
    """lm-eval Task objects for `names` (tasks/ YAMLs only, see the module docstring), reading local release
    files from `data_dir` when given. `UsageError` for any other name; `DataError` for a task YAML that does not
    parse (file:line) or that lm-eval cannot build a task from."""
    files = lm_eval_task_files()
    outside = [n for n in names if n not in files]
    if outside:
        raise UsageError(f"not a task of {TASKS_DIR}: {', '.join(map(repr, outside))}; task YAMLs are only read "
                         f"from there (known: {', '.join(files)})")
    quiet_libraries()
    from lm_eval.tasks import TaskManager

    for name in names:
        check_task_yaml(files[name])
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False,
                          metadata={"data_dir": data_dir} if data_dir else None)
    try:
        return manager.load(names)["tasks"]  # {name: Task} (lm-eval 0.4.13: get_task_dict is deprecated)
    except TitanEvalError:
        raise
    except Exception as err:  # lm-eval's config errors have no common type; the YAML or its data is at fault
        where = ", ".join(str(files[n]) for n in names)
        raise DataError(f"lm-eval cannot build {', '.join(names)} from {where} "
                        f"({type(err).__name__}: {one_line(err)[:300]})") from err


def check_task_yaml(path: Path) -> None:
    """Parse a task YAML as plain data (`!function` read as its text, nothing imported) so a defect is a
    `DataError` naming the file and line; lm-eval's index would skip the file silently."""
    cfg = load_yaml(path, "task YAML", loader=_task_yaml_loader())
    if not isinstance(cfg, dict) or not isinstance(cfg.get("task"), str):
        raise DataError(f"{path}: a task YAML must be a mapping with a `task:` name")


@lru_cache(maxsize=1)
def _task_yaml_loader() -> type:
    import yaml

    class TaskYamlLoader(yaml.SafeLoader):
        """The safe loader plus lm-eval's `!function` tag, kept as a string."""

    TaskYamlLoader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    return TaskYamlLoader
