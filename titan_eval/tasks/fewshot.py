"""Few-shot settings of a run, applied to lm-eval Task objects as lm-eval's own `simple_evaluate` applies them.

`num_fewshot` None keeps each task's configured number (0 where the YAML sets none); a number overrides it, except
for a task whose YAML pins 0 (lm-eval never overrides that either). Every task's sampler is seeded with the run's
few-shot seed (`--fewshot-seed`, default the run's `--seed`; recorded in run.json's options), so the same examples
are drawn on every run; lm-eval's CLI uses 1234 by default, so pass `--fewshot-seed 1234` to draw its examples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class FewShot:
    """num_fewshot: None keeps the tasks' own; seed: the sampler seed every task gets."""

    num_fewshot: int | None
    seed: int


def apply_fewshot(tasks: Mapping[str, Any], fewshot: FewShot) -> None:
    """Set num_fewshot and the sampler seed on every task (see the module docstring); returns nothing, mutates."""
    for task in tasks.values():
        configured = task.get_config("num_fewshot")
        if fewshot.num_fewshot is not None and configured != 0:
            task.set_config(key="num_fewshot", value=fewshot.num_fewshot)
        elif configured is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=fewshot.seed)
