"""Putting a native suite's aggregates into the run record in lm-eval's layout.

Each result key gets `"<metric>,none"` values and, for means over documents, `"<metric>_stderr,none"` = sample
standard deviation (ddof 1) / √n, as lm-eval computes it; the run table prints every `metric,none` row.
Per-group rows (categories, subsets) are separate result keys `<task>:<group>` so the table shows one block per
group (documented in tasks/reasoning85/README.md and tasks/fact_margins/README.md).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from titan_eval.records import TaskFingerprint, TaskResult


def mean_stderr(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, stderr of the mean) of `values`; (None, None) when empty, stderr None when n < 2."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    if n < 2:
        return mean, None
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def mean_result(key: str, columns: Mapping[str, Sequence[float]], n: int, fingerprint: TaskFingerprint,
                meta: Mapping[str, Any] | None = None, extra: Mapping[str, float | None] | None = None,
                higher_is_better: Mapping[str, bool] | None = None, cluster_key: str | None = None,
                clusters: Sequence[str] | None = None) -> TaskResult:
    """The result key `key` over `n` documents: the mean ± stderr of each per-document column (empty columns are
    skipped) and `extra` single values. With `cluster_key`, `clusters` [n] are the documents' cluster labels
    (aligned with every column); the key's CIs are then cluster-robust (`records.confidence_intervals`)."""
    metrics: dict[str, Any] = {"alias": key}
    per_doc: dict[str, list[float]] = {}
    for metric, values in columns.items():
        mean, stderr = mean_stderr(list(values))
        if mean is None:
            continue
        metrics[f"{metric},none"] = mean
        metrics[f"{metric}_stderr,none"] = "N/A" if stderr is None else stderr
        per_doc[metric] = list(values)
    for metric, value in (extra or {}).items():
        if value is not None:
            metrics[f"{metric},none"] = value
    return TaskResult(key=key, metrics=metrics, n=n, fingerprint=fingerprint, higher_is_better=dict(higher_is_better or {}),
                      meta=dict(meta or {}), per_doc=per_doc, cluster_key=cluster_key,
                      clusters=list(clusters) if clusters is not None else None)
