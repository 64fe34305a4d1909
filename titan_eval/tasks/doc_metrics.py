"""lm-eval's per-document metric values (what `task.process_results` returned, per filter) on titan-eval sample
lines, and their aggregation into run.json results exactly as lm-eval's evaluator does it.

Glossary:
    label       a metric under one filter as compare/gate name it: `acc` for lm-eval's `"acc,none"`, else lm-eval's own
                key, e.g. `exact_match,strict-match`; results hold `"<metric>,<filter>"` and
                `"<metric>_stderr,<filter>"`
    raw value   lm-eval's per-document value, stored verbatim in a line's `doc_metrics[label]`: a number (acc,
                exact_match; lambada's `perplexity` is the log-likelihood) or a pair `[loglikelihood, weight]`
                (word_perplexity: words, byte_perplexity / bits_per_byte: bytes); run.json is aggregated from these
    doc value   the metric on this document alone (the task's aggregation applied to its one raw value: the raw value
                for a mean, exp(-ll) for perplexity, exp(-ll/words), -ll/(bytes·ln 2) ...), stored under the label at
                the top of the line: what compare and gate pair across runs (same direction as the metric)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import Any, Iterable, Iterator, Mapping, Sequence

NO_FILTER = "none"
BOOTSTRAP_ITERS = 100000
"""lm-eval's default `bootstrap_iters` (stderr of bootstrappable aggregations such as perplexity)."""


def metric_label(metric: str, filter_key: str) -> str:
    """`acc` for ("acc", "none"); lm-eval's result key `exact_match,strict-match` under any other filter."""
    return metric if filter_key == NO_FILTER else f"{metric},{filter_key}"


def split_label(label: str) -> tuple[str, str]:
    """(metric, filter) of a label (`metric_label`'s inverse)."""
    metric, _, filter_key = label.partition(",")
    return metric, filter_key or NO_FILTER


def raw_values(sample: Mapping[str, Any]) -> dict[str, Any]:
    """{label: raw value} of one lm-eval sample record (one document under one filter), tuples as lists."""
    filter_key = sample.get("filter", NO_FILTER)
    return {metric_label(m, filter_key): (list(sample[m]) if isinstance(sample[m], tuple) else sample[m])
            for m in sample.get("metrics", ())}


def doc_values(task: Any, raw: Mapping[str, Any]) -> dict[str, float | None]:
    """{label: the metric on this document alone} (module docstring); None where the aggregation gives no finite
    number for one document."""
    aggregations = task.aggregation()
    out: dict[str, float | None] = {}
    for label, value in raw.items():
        try:
            single = float(aggregations[split_label(label)[0]]([_as_item(value)]))
        except (ArithmeticError, ValueError, TypeError, KeyError):
            single = None
        out[label] = single if single is not None and math.isfinite(single) else None
    return out


def is_mean(task: Any, label: str) -> bool:
    """Whether lm-eval aggregates the metric as a plain mean of the per-document values (then the doc values'
    mean is the result, and run.json's ci95 is taken over them)."""
    from lm_eval.api.metrics import mean

    return task.aggregation().get(split_label(label)[0]) is mean


def aggregate_raw(task: Any, lines: Sequence[Mapping[str, Any]], bootstrap_iters: int = BOOTSTRAP_ITERS
                  ) -> dict[str, Any]:
    """lm-eval's results entries `"<metric>,<filter>"` and `"<metric>_stderr,<filter>"` from the valid lines'
    `doc_metrics` (lm-eval's `calculate_aggregate_metric`: the task's aggregation; `stderr_for_metric`, at most
    100 draws for bleu/chrf/ter; "N/A" for fewer than 2 documents or no known stderr). lm-eval's bootstrap runs
    in this process (`DISABLE_MULTIPROC`: the same seeded draws in the same order as its worker pool, so the same
    value, without forking a process that holds a model and the run's signal handlers); the line it prints goes to
    stderr."""
    from lm_eval.api.metrics import stderr_for_metric

    labels: list[str] = []
    for ln in lines:
        labels += [k for k in ln["doc_metrics"] if k not in labels]
    out: dict[str, Any] = {}
    for label in labels:
        metric, filter_key = split_label(label)
        items = [_as_item(ln["doc_metrics"][label]) for ln in lines if label in ln["doc_metrics"]]
        agg = task.aggregation()[metric]
        out[f"{metric},{filter_key}"] = agg(items)
        iters = min(bootstrap_iters, 100) if metric in ("bleu", "chrf", "ter") else bootstrap_iters
        stderr = stderr_for_metric(agg, iters)
        with contextlib.redirect_stdout(sys.stderr), _single_process():
            out[f"{metric}_stderr,{filter_key}"] = stderr(items) if (stderr and len(items) > 1) else "N/A"
    return out


@contextlib.contextmanager
def _single_process() -> Iterator[None]:
    """lm-eval's bootstrap without its multiprocessing pool, while the block runs."""
    previous = os.environ.get("DISABLE_MULTIPROC")
    os.environ["DISABLE_MULTIPROC"] = "1"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["DISABLE_MULTIPROC"]
        else:
            os.environ["DISABLE_MULTIPROC"] = previous


def per_doc_values(task: Any, lines: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """label → doc values over `lines` for the mean-aggregated metrics every line has (run.json's ci95)."""
    lines = list(lines)
    if not lines:
        return {}
    labels = [k for k in lines[0]["doc_metrics"] if is_mean(task, k)]
    return {k: [ln[k] for ln in lines] for k in labels if all(ln.get(k) is not None for ln in lines)}


def _as_item(value: Any) -> Any:
    """A stored raw value as lm-eval's aggregations take it (pairs as tuples)."""
    return tuple(value) if isinstance(value, list) else value
