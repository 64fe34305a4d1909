"""The tasks titan-eval knows: lm-eval tasks defined by the YAMLs in the repo's `tasks/` folder, and the
project's native suites (run by their own runners on the same engine)."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from typing import Any

from titan_eval.errors import UsageError
from titan_eval.paths import TASKS_DIR

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
def lm_eval_task_names() -> tuple[str, ...]:
    """Names of the lm-eval tasks under tasks/ (each YAML's `task:`)."""
    names = []
    for path in sorted(TASKS_DIR.glob("*.yaml")):
        text = path.read_text()
        for line in text.splitlines():
            if line.startswith("task:"):
                names.append(line.split(":", 1)[1].strip())
    return tuple(names)


def all_task_names() -> list[str]:
    return sorted(set(lm_eval_task_names()) | set(NATIVE_TASKS))


def check_task_names(names: list[str]) -> None:
    """`UsageError` naming any unknown task."""
    unknown = [n for n in names if n not in all_task_names()]
    if unknown:
        raise UsageError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(all_task_names())}")


def load_lm_eval_tasks(names: list[str], data_dir: str | None) -> dict[str, Any]:
    """lm-eval Task objects for `names`, reading local release files from `data_dir` when given."""
    quiet_libraries()
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False,
                          metadata={"data_dir": data_dir} if data_dir else None)
    return get_task_dict(names, manager)
