"""lm-eval's per-document multiple-choice records → titan-eval sample lines (docs/results-format.md).

A task that declares a cluster key (`tasks.clusters`) gets each document's `cluster` on its line.

A document whose log-likelihoods are not all finite (NaN/Inf logits) is marked `invalid` with acc/acc_norm None:
it is never scored; the runner counts it and fails the run unless `--allow-invalid`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from titan_eval.tasks.clusters import cluster_label, declared_cluster_key


def mc_sample_lines(task: Any, samples: list[dict[str, Any]], key: str, mode: str, log: Any) -> list[dict[str, Any]]:
    """One line per doc: prompt, choices, summed log-probs and token counts per choice, pred/pred_norm/gold,
    acc/acc_norm as lm-eval computed them (acc_norm divides by the choice's character count; absent when the task's
    metric_list has no acc_norm)."""
    lines = []
    cluster_key = declared_cluster_key(task)
    for s in sorted(samples, key=lambda x: x["doc_id"]):
        doc_id = s["doc_id"]
        choices = list(task.doc_to_choice(s["doc"]))
        logprobs = [float(r[0][0]) for r in s["resps"]]
        norm = np.array(logprobs) / np.array([max(1, len(c)) for c in choices])
        gold = s["target"]
        gold = int(gold) if not isinstance(gold, list) else gold
        line: dict[str, Any] = {
            "task": key, "mode": mode, "doc_id": doc_id,
            "prompt": s["arguments"]["gen_args_0"]["arg_0"] if isinstance(s["arguments"], dict) else s["arguments"][0][0],
            "choices": choices, "logprobs": logprobs,
            "n_tokens": [log.n_tokens.get((task.config.task, doc_id, i)) for i in range(len(choices))],
            "pred": int(np.argmax(logprobs)), "pred_norm": int(np.argmax(norm)), "gold": gold,
            "acc": float(s["acc"]), **({"acc_norm": float(s["acc_norm"])} if "acc_norm" in s else {}),
            "doc_hash": s.get("doc_hash"),
        }
        if cluster_key is not None and (label := cluster_label(s["doc"], doc_id, cluster_key, key)) is not None:
            line["cluster"] = label
        if not all(math.isfinite(x) for x in logprobs):
            line.update(invalid="non-finite log-likelihood", acc=None, pred=None, pred_norm=None,
                        **({"acc_norm": None} if "acc_norm" in line else {}))
        think = log.think.get((task.config.task, doc_id))
        if think is not None:
            line["think"] = think
        lines.append(line)
    return lines
