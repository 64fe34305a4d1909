"""Glue for lm-eval's `!function` tags in the code task YAMLs (humaneval*, mbpp*): the functions live in
`titan_eval.code.lm_eval_metrics`; their metric runs model-written programs under the project's sandbox."""

from typing import Any

from titan_eval.code import lm_eval_metrics as m


def pass_at_k(references: Any, predictions: Any, k: Any = None) -> dict[str, float]:
    return m.pass_at_k(references, predictions, k)


def pass_at_1(references: Any, predictions: Any) -> float:
    return m.pass_at_1(references, predictions)


def humaneval_predictions(resps: Any, docs: Any) -> Any:
    return m.humaneval_predictions(resps, docs)


def mbpp_prefetch(resps: Any, docs: Any) -> Any:
    return m.mbpp_prefetch(resps, docs)


def list_fewshot_samples() -> Any:
    return m.mbpp_fewshot_samples()
