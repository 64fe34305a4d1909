"""lm-eval `loglikelihood_rolling` tasks (wikitext: one document per page) → sample lines
(docs/results-format.md).

A line holds the text scored (lm-eval's `doc_to_target`), its rolling log-likelihood (disjoint max_length windows,
each conditioned on the prefix token), its token count, and the word and byte counts lm-eval's `process_results`
weighs it by (wikitext counts them on the page before detokenisation); `doc_metrics` holds lm-eval's per-document
pairs `[loglikelihood, words|bytes]`, and each metric on the page alone sits under its name. A non-finite
log-likelihood makes the document `invalid`."""

from __future__ import annotations

import math
from typing import Any

from titan_eval.tasks.doc_metrics import doc_values, raw_values
from titan_eval.tasks.line_fields import first_line_fields, request_args

WEIGHTS = {"words": ("word_perplexity",), "bytes": ("byte_perplexity", "bits_per_byte")}
"""Line field → the lm-eval metrics whose per-document pair carries that count."""


def rolling_sample_lines(task: Any, samples: list[dict[str, Any]], key: str, mode: str, log: Any
                         ) -> list[dict[str, Any]]:
    """One line per document, in doc_id order."""
    lines = []
    for s in sorted(samples, key=lambda x: x["doc_id"]):
        doc_id = s["doc_id"]
        (text,) = request_args(s)[0]
        loglikelihood = float(s["resps"][0][0])
        raw = raw_values(s)
        line = {**first_line_fields(task, s, key, mode, task.doc_to_text(s["doc"])), "target": text,
                "loglikelihood": loglikelihood, "n_tokens": log.n_tokens.get((task.config.task, doc_id, 0))}
        for field, metrics in WEIGHTS.items():
            pair = next((raw[m] for m in metrics if isinstance(raw.get(m), list)), None)
            if pair is not None:
                line[field] = pair[1]
        line.update(doc_values(task, raw), doc_metrics=raw)
        if not math.isfinite(loglikelihood):
            line.update({k: None for k in raw}, invalid="non-finite log-likelihood")
        lines.append(line)
    return lines
