"""lm-eval `loglikelihood` tasks (lambada_openai: the last word after the passage) → sample lines
(docs/results-format.md).

A line holds, per request, the continuation scored, its summed log-likelihood, whether it is the greedy
continuation and its token count; lm-eval's per-document metric values (`doc_metrics`: lambada's `perplexity` is the
log-likelihood, `acc` is-greedy) and each metric on the document alone (`tasks.doc_metrics`). A non-finite
log-likelihood makes the document `invalid` (metrics None): never scored, the run fails unless `--allow-invalid`."""

from __future__ import annotations

import math
from typing import Any

from titan_eval.tasks.doc_metrics import doc_values, raw_values
from titan_eval.tasks.line_fields import first_line_fields, request_args


def loglikelihood_sample_lines(task: Any, samples: list[dict[str, Any]], key: str, mode: str, log: Any
                               ) -> list[dict[str, Any]]:
    """One line per document, in doc_id order."""
    lines = []
    for s in sorted(samples, key=lambda x: x["doc_id"]):
        doc_id = s["doc_id"]
        args = request_args(s)
        requests = [{"continuation": a[1], "loglikelihood": float(r[0][0]), "is_greedy": bool(r[0][1]),
                     "n_tokens": log.n_tokens.get((task.config.task, doc_id, i))}
                    for i, (a, r) in enumerate(zip(args, s["resps"]))]
        raw = raw_values(s)
        line = {**first_line_fields(task, s, key, mode, args[0][0]), "requests": requests, **doc_values(task, raw),
                "doc_metrics": raw}
        if not all(math.isfinite(r["loglikelihood"]) for r in requests):
            line.update({k: None for k in raw}, invalid="non-finite log-likelihood")
        think = log.think.get((task.config.task, doc_id))
        if think is not None:
            line["think"] = think
        lines.append(line)
    return lines
