"""The final answer a math task's own checker reads from a response, for samples.jsonl and for maj@K's vote.

lm-eval's minerva_math and aime tasks extract and compare inside `process_results`, which returns only the verdict
(`exact_match`, minerva's `math_verify`); gsm8k's answer is its filters' output (already in `filtered`). For these
task families the answer is recomputed with the task's own helpers, as its checker computes it:
    minerva_math*   `normalize_final_answer(get_unnormalized_answer(response))` (the "Final Answer: The final answer
                    is … I hope it is correct." line, normalised; `[invalidanswer]` when absent)
    aime*           the text between the first and last `$` (the whole response with fewer than two), replaced by
                    the last `\\boxed{…}`'s content when there is one; `strip_string`-normalised, as `is_equiv`
                    compares it
Any other task: None (its filters' answers are the answers). The verdict stays the task's own metric values.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

Extractor = Callable[[str], str]


def _minerva() -> Extractor:
    utils = importlib.import_module("lm_eval.tasks.minerva_math.utils")
    return lambda response: str(utils.normalize_final_answer(utils.get_unnormalized_answer(response)))


def _aime() -> Extractor:
    utils = importlib.import_module("lm_eval.tasks.aime.utils")

    def answer(response: str) -> str:
        dollars = [i for i, ch in enumerate(response) if ch == "$"]
        text = response if len(dollars) <= 1 else response[dollars[0] + 1 : dollars[-1]]
        boxed = utils.last_boxed_only_string(response)
        if boxed is not None:
            try:
                content = utils.remove_boxed(boxed)
            except (AssertionError, IndexError):
                content = None
            if content is not None:
                text = content
        try:
            return str(utils.strip_string(text))
        except Exception:  # strip_string's own asserts on malformed LaTeX: keep the raw extraction
            return text.strip()

    return answer


FAMILIES: dict[str, Callable[[], Extractor]] = {"minerva_math": _minerva, "aime": _aime}


def extractor(task: Any) -> Extractor | None:
    """The answer extractor of `task`'s family (module docstring), or None."""
    name = str(getattr(task.config, "task", "") or "")
    for prefix, make in FAMILIES.items():
        if name.startswith(prefix):
            try:
                return make()
            except ImportError:
                return None
    return None
