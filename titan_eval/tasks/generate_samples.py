"""lm-eval `generate_until` tasks (gsm8k) → sample lines (docs/results-format.md).

lm-eval logs one record per document and filter (gsm8k: strict-match, flexible-extract); they become one line per
document: the prompt (few-shot examples included), the target, the generated text, its token count and why it
stopped, the answer each filter extracted (`filtered[filter]`), and each metric per filter under lm-eval's result
name (`exact_match,strict-match`; a metric under the `none` filter keeps its bare name), with lm-eval's raw
per-document values in `doc_metrics`; a code task's line adds `code`, each program's outcome (`code.session.code_outcomes`);
a minerva_math / aime line adds `answer`, the final answer its checker read (`math_answers`)."""

from __future__ import annotations

from typing import Any

from titan_eval.code.session import code_outcomes
from titan_eval.tasks.doc_metrics import doc_values, raw_values
from titan_eval.tasks.line_fields import first_line_fields, request_args
from titan_eval.tasks.math_answers import Extractor, extractor


def generate_sample_lines(task: Any, samples: list[dict[str, Any]], key: str, mode: str, log: Any,
                          pass_ks: tuple[int, ...] = (1,)) -> list[dict[str, Any]]:
    """One line per document, in doc_id order (with K samples per document, `sampled`: see `sampled_line`)."""
    by_doc: dict[Any, list[dict[str, Any]]] = {}
    for s in samples:
        by_doc.setdefault(s["doc_id"], []).append(s)
    lines = []
    extract = extractor(task)  # math tasks: the final answer their checker reads (None for the others)
    for doc_id in sorted(by_doc):
        records = by_doc[doc_id]
        first = records[0]
        generations = list(first["resps"][0])
        raw: dict[str, Any] = {}
        for s in records:
            raw.update(raw_values(s))
        line = {**first_line_fields(task, first, key, mode, request_args(first)[0][0]),
                "generation": generations[0] if len(generations) == 1 else generations,
                **log.generated.get((task.config.task, doc_id, 0), {}),
                "filtered": {s["filter"]: s["filtered_resps"][0] for s in records},
                **doc_values(task, raw), "doc_metrics": raw}
        if extract is not None:  # math: the final answer the task's checker reads (its verdict is in the metrics)
            line["answer"] = extract(generations[0])
        code = code_outcomes(line)
        if code is not None:
            line["code"] = code
        think = log.think.get((task.config.task, doc_id))
        if think is not None:  # cot: the trace before `generation` (which alone reached the filters)
            line["think"] = think
        if len(generations) > 1:  # --samples K: every sample scored, and the document's avg@K / maj@K / pass@k
            line["sampled"] = sampled_line(task, first["doc"], generations,
                                           log.samples.get((task.config.task, doc_id, 0), {}), pass_ks, extract)
            line.update(line["sampled"]["values"])
        lines.append(line)
    return lines


def sampled_line(task: Any, doc: dict[str, Any], generations: list[str], logged: dict[int, dict[str, Any]],
                 pass_ks: tuple[int, ...], extract: Extractor | None = None) -> dict[str, Any]:
    """`{"k": K, "samples": [per sample: generation, n_tokens, stop_reason, seed, (think), filtered, metrics],
    "values": {label: the document's avg@K / maj@K / pass@k}}` (`sampled_metrics`)."""
    from titan_eval.tasks.sampled_metrics import summarise

    records, values = summarise(task, doc, generations, pass_ks, extract)
    samples = [{**logged.get(k, {"generation": text}), **record} for k, (text, record) in
               enumerate(zip(generations, records))]
    return {"k": len(generations), "samples": samples, "values": values}
