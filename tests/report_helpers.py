"""Constructed stored runs for the report tests, written in the documented format (docs/results-format.md)."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

DEFAULT_FINGERPRINTS = {
    "mode": "ll",
    "scorer": "lm-eval-mc-v1",
    "data_sha256": hashlib.sha256(b"data").hexdigest(),
    "prompt_sha256": hashlib.sha256(b"prompt").hexdigest(),
}


def write_run(
    directory: Path,
    metrics: Mapping[str, Mapping[str, Sequence[float]]],
    *,
    doc_ids: Mapping[str, Sequence[int | str]] | None = None,
    categories: Mapping[str, Sequence[str]] | None = None,
    fingerprints: Mapping[str, Mapping[str, Any]] | None = None,
    higher_is_better: Mapping[str, Mapping[str, bool]] | None = None,
    status: str = "complete",
    run_id: str | None = None,
) -> Path:
    """Write run.json + samples.jsonl for `metrics[key][metric] = per-document values` and return the directory.

    doc_ids default to 0..n-1; `fingerprints[key]` overrides DEFAULT_FINGERPRINTS fields for that key.
    """
    directory.mkdir(parents=True, exist_ok=True)
    results, tasks, n_samples, lines = {}, {}, {}, []
    for key, per_metric in metrics.items():
        n = len(next(iter(per_metric.values())))
        ids = list(doc_ids[key]) if doc_ids and key in doc_ids else list(range(n))
        entry: dict[str, Any] = {"alias": key}
        for name, values in per_metric.items():
            mean = sum(values) / n
            var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
            entry[f"{name},none"] = mean
            entry[f"{name}_stderr,none"] = math.sqrt(var / n)
        results[key] = entry
        n_samples[key] = {"original": n, "effective": n}
        info = {**DEFAULT_FINGERPRINTS, **((fingerprints or {}).get(key, {}))}
        info.setdefault("doc_ids_sha256", hashlib.sha256(json.dumps(ids).encode()).hexdigest())
        tasks[key] = {"task": key.removesuffix("_cot"), **info, "selection": {"limit": n, "doc_ids": ids}}
        for i, doc_id in enumerate(ids):
            line: dict[str, Any] = {"task": key, "mode": info["mode"], "doc_id": doc_id, "gold": 0}
            line.update({name: values[i] for name, values in per_metric.items()})
            if categories and key in categories:
                line["category"] = categories[key][i]
            lines.append(line)
    run = {
        "results": results,
        "n-samples": n_samples,
        "versions": {k: 1.0 for k in metrics},
        "higher_is_better": higher_is_better or {k: {m: True for m in v} for k, v in metrics.items()},
        "config": {"model": "titan-eval", "limit": None},
        "titan_eval": {"schema_version": 1, "run_id": run_id or directory.name, "status": status, "tasks": tasks},
    }
    (directory / "run.json").write_text(json.dumps(run, indent=1))
    (directory / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return directory


def paired_acc(n: int, base_correct: int, losses: int, gains: int) -> tuple[list[float], list[float]]:
    """0/1 vectors for a baseline right on its first `base_correct` documents and a candidate that loses `losses` of
    those and gains `gains` of the others."""
    if losses > base_correct or gains > n - base_correct:
        raise ValueError("more discordant documents than available")
    base = [1.0] * base_correct + [0.0] * (n - base_correct)
    cand = list(base)
    for i in range(losses):
        cand[i] = 0.0
    for i in range(gains):
        cand[base_correct + i] = 1.0
    return base, cand
