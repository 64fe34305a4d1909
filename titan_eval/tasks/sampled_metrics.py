"""K sampled generations per document of a generate_until task (`--samples K`): each sample through the task's own
filters and `process_results`, then the document's avg@K, maj@K and pass@k for every metric under every filter.

Glossary (per document, per metric m under filter f; labels as `doc_metrics.metric_label`):
    avg@K     the mean of m over the K samples (`<m>_avg@K`)
    maj@K     m of the majority answer: the filtered answer most samples gave, ties going to the answer of the lowest
              sample index (`<m>_maj@K`); for math tasks whose checker extracts the answer itself (minerva_math,
              aime: `math_answers`), the vote is over those extracted answers and the winning answer's first sample
              gives the verdict
    pass@k    for 0/1 metrics, the unbiased estimate (Chen et al. 2021) that at least one of k samples drawn from the K
              is right (`<m>_pass@k`, k ≤ K)
Run results are the means over documents, with the standard error over documents (the K samples of a document
form one cluster, so this is the cluster-robust error of the per-sample mean).

lm-eval itself scores the first sample only (its filters end in `take_first`); sample 0 here is exactly that one,
so the task's own metric keys stay lm-eval's numbers.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Mapping, Sequence

from titan_eval.tasks.doc_metrics import metric_label


def filtered(task: Any, doc: Mapping[str, Any], response: str) -> dict[str, Any]:
    """{filter name: what the task's filter pipeline makes of this one response} (as lm-eval applies it to a
    request with one response)."""
    out: dict[str, Any] = {}
    for ensemble in task._filters:  # lm-eval 0.4.13: one FilterEnsemble per filter_list entry ("none" by default)
        value: Any = [[response]]
        for make in ensemble.filters:
            value = list(make().apply(value, [doc]))
        out[ensemble.name] = value[0]
    return out


def sample_metrics(task: Any, doc: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """{label: value} of `task.process_results` on each filter's answer."""
    out: dict[str, Any] = {}
    for filter_key, answer in answers.items():
        for metric, value in task.process_results(doc, [answer]).items():
            out[metric_label(metric, filter_key)] = value
    return out


def majority(answers: Sequence[Any]) -> Any:
    """The most frequent answer; a tie goes to the one whose first occurrence has the lowest index."""
    counts = Counter(repr(a) for a in answers)
    best = max(counts.values())
    return next(a for a in answers if counts[repr(a)] == best)


def summarise(task: Any, doc: Mapping[str, Any], responses: Sequence[str], pass_ks: Sequence[int],
              extract: Callable[[str], str] | None = None) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """(one record per sample: its filtered answers and metrics, and with `extract` — the task's
    `math_answers.extractor` — its final answer; the document's avg@K / maj@K / pass@k values)."""
    from titan_eval.code.pass_at_k import pass_at_k

    k_total = len(responses)
    records = []
    for response in responses:
        answers = filtered(task, doc, response)
        record = {"filtered": answers, "metrics": sample_metrics(task, doc, answers)}
        if extract is not None:  # math: the checker's own final answer; the vote is over it
            record["answer"] = extract(response)
        records.append(record)
    values: dict[str, float] = {}
    for label in records[0]["metrics"]:
        metric, _, filter_key = label.partition(",")
        suffix = f",{filter_key}" if filter_key else ""
        per_sample = [float(r["metrics"][label]) for r in records]
        values[f"{metric}_avg@{k_total}{suffix}"] = sum(per_sample) / k_total
        if extract is not None:  # the sample whose answer won (ties: lowest index) carries the verdict
            won = majority([r["answer"] for r in records])
            maj = next(r for r in records if r["answer"] == won)["metrics"][label]
        else:
            chosen = majority([r["filtered"][filter_key or "none"] for r in records])
            maj = sample_metrics(task, doc, {filter_key or "none": chosen})[label]
        values[f"{metric}_maj@{k_total}{suffix}"] = float(maj)
        if all(v in (0.0, 1.0) for v in per_sample):
            correct = sum(v == 1.0 for v in per_sample)
            for k in sorted({k for k in pass_ks if k <= k_total}):
                values[f"{metric}_pass@{k}{suffix}"] = pass_at_k(k_total, correct, k)
    return records, values


def aggregate(lines: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """(results entries `<label>` / `<metric>_stderr,<filter>`: the mean over documents and its standard error;
    label → per-document values) over lines that carry `sampled`."""
    import math

    labels = list(lines[0]["sampled"]["values"]) if lines else []
    results: dict[str, Any] = {}
    per_doc: dict[str, list[float]] = {}
    for label in labels:
        values = [float(ln["sampled"]["values"][label]) for ln in lines]
        n = len(values)
        mean = sum(values) / n
        metric, _, filter_key = label.partition(",")
        results[label if filter_key else f"{label},none"] = mean
        stderr = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n) if n > 1 else "N/A"
        results[f"{metric}_stderr,{filter_key or 'none'}"] = stderr
        per_doc[label] = values
    return results, per_doc
