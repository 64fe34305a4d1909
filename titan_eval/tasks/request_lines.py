"""lm-eval's per-document sample records → titan-eval sample lines, by the task's output type
(docs/results-format.md "samples.jsonl"): `mc_samples` (multiple_choice), `loglikelihood_samples`,
`rolling_samples` (loglikelihood_rolling) and `generate_samples` (generate_until) build them; this module holds
the dispatch (what they share: `line_fields`)."""

from __future__ import annotations

from typing import Any, Callable


def sample_lines(task: Any, samples: list[dict[str, Any]], key: str, mode: str, log: Any,
                 pass_ks: tuple[int, ...] = (1,)) -> list[dict[str, Any]]:
    """One line per document of `samples` (lm-eval's records for one chunk; a generate task has one record per
    document and filter), in doc_id order, built by the task's output type (`pass_ks`: the pass@k a generate task
    with K samples per document reports)."""
    if task.OUTPUT_TYPE == "generate_until":
        from titan_eval.tasks.generate_samples import generate_sample_lines

        return generate_sample_lines(task, samples, key, mode, log, pass_ks)
    return _builder(task.OUTPUT_TYPE)(task, samples, key, mode, log)


def _builder(output_type: str) -> Callable[..., list[dict[str, Any]]]:
    if output_type == "multiple_choice":
        from titan_eval.tasks.mc_samples import mc_sample_lines

        return mc_sample_lines
    if output_type == "loglikelihood":
        from titan_eval.tasks.loglikelihood_samples import loglikelihood_sample_lines

        return loglikelihood_sample_lines
    if output_type == "loglikelihood_rolling":
        from titan_eval.tasks.rolling_samples import rolling_sample_lines

        return rolling_sample_lines
    from titan_eval.tasks.generate_samples import generate_sample_lines

    return generate_sample_lines
