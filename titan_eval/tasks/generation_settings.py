"""`--gen-kwargs`: generation settings for lm-eval's `generate_until` tasks, in lm-eval's own form and with its
semantics.

The text is `key=value,key=value` (lm-eval's `--gen_kwargs`); values are read by lm-eval's own parser (numbers and
true/false become numbers and booleans). The settings update each generate_until task's `generation_kwargs`
(keys not named keep the task's YAML values, e.g. its `until`), as lm-eval's `simple_evaluate` does; other output
types ignore them. The form is checked before anything heavy loads (`check_gen_kwargs`), the values applied when
the tasks are built (`apply_gen_kwargs`).
"""

from __future__ import annotations

from typing import Any, Mapping

from titan_eval.errors import UsageError


def check_gen_kwargs(text: str) -> None:
    """UsageError unless `text` is a non-empty `key=value[,key=value…]` list with non-empty keys."""
    items = [item for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError("--gen-kwargs needs key=value pairs, e.g. max_gen_toks=64,temperature=0")
    for item in items:
        key, sep, _ = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--gen-kwargs: {item.strip()!r} is not key=value (e.g. max_gen_toks=64)")


def apply_gen_kwargs(tasks: Mapping[str, Any], text: str | None) -> None:
    """Update every generate_until task's generation_kwargs with the parsed `text` (no-op for None)."""
    if text is None:
        return
    check_gen_kwargs(text)
    from lm_eval.utils import simple_parse_args_string

    settings = simple_parse_args_string(text)
    for task in tasks.values():
        if task.get_config("output_type") == "generate_until":
            task.set_config(key="generation_kwargs", value=settings, update=True)
