"""The fields every non-multiple-choice sample line starts with, and the request arguments of an lm-eval sample
record (shared by `loglikelihood_samples`, `rolling_samples` and `generate_samples`)."""

from __future__ import annotations

from typing import Any

from titan_eval.tasks.clusters import cluster_label, declared_cluster_key

SCORERS = {"multiple_choice": "lm-eval-mc-v1", "loglikelihood": "lm-eval-loglikelihood-v1",
           "loglikelihood_rolling": "lm-eval-rolling-v1", "generate_until": "lm-eval-generate-v1"}
"""Fingerprint `scorer` per output type (two runs compare on a key only when these agree)."""


def request_args(sample: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each request's arguments of an lm-eval sample record (a list of tuples, or lm-eval's logged
    `{"gen_args_i": {"arg_j": ...}}` form)."""
    args = sample["arguments"]
    if isinstance(args, dict):
        return [tuple(a[f"arg_{j}"] for j in range(len(a))) for _, a in sorted(args.items(),
                key=lambda kv: int(kv[0].rsplit("_", 1)[1]))]
    return [tuple(a) for a in args]


def first_line_fields(task: Any, sample: dict[str, Any], key: str, mode: str, prompt: Any) -> dict[str, Any]:
    """The fields every non-multiple-choice line starts with: task key, mode, doc_id, prompt, target (lm-eval's
    `doc_to_target`), doc_hash, and the document's cluster when the task declares a cluster key."""
    line: dict[str, Any] = {"task": key, "mode": mode, "doc_id": sample["doc_id"], "prompt": prompt,
                            "target": sample["target"], "doc_hash": sample.get("doc_hash")}
    cluster_key = declared_cluster_key(task)
    if cluster_key is not None and (label := cluster_label(sample["doc"], sample["doc_id"], cluster_key, key)) \
            is not None:
        line["cluster"] = label
    return line
