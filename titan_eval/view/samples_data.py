"""Samples documents: reading a run's samples.jsonl tolerantly (a running run's torn last line is skipped), one
compact row per line for the samples table, and the full view of one line for the sample page.

Line kinds (docs/results-format.md): `mc` (multiple choice: `choices`, `logprobs`), `loglikelihood` (`requests`),
`rolling` (`loglikelihood`, `words`, `bytes`), `generate` (`generation`, `filtered`); cot lines add `think` (one
trace, or `think.samples`: K traces).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping

from titan_eval.think_stats import LockRule, attractor_period

EXCERPT_CHARS = 160
JS_SAFE_INT = 2**53


def read_lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(parsed lines with a `task` and `doc_id`, number of lines skipped: unparsable or torn)."""
    if not path.is_file():
        return [], 0
    out, skipped = [], 0
    with path.open("rb") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                skipped += 1
                continue
            if isinstance(line, dict) and isinstance(line.get("task"), str) and "doc_id" in line:
                out.append(line)
            else:
                skipped += 1
    return out, skipped


def jsonable(value: Any) -> Any:
    """`value` made safe for the browser's JSON.parse: non-finite floats → "nan"/"inf"/"-inf", integers beyond
    2^53 → strings (JavaScript numbers would round them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > JS_SAFE_INT:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def line_kind(line: Mapping[str, Any]) -> str:
    """mc | loglikelihood | rolling | generate | other."""
    if isinstance(line.get("choices"), list):
        return "mc"
    if isinstance(line.get("requests"), list):
        return "loglikelihood"
    if "generation" in line:
        return "generate"
    if "loglikelihood" in line:
        return "rolling"
    return "other"


def traces(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The line's think traces: [] without `think`, K with `think.samples`, else the one."""
    think = line.get("think")
    if not isinstance(think, Mapping):
        return []
    samples = think.get("samples")
    if isinstance(samples, list) and samples:
        return [{**{k: v for k, v in think.items() if k not in ("samples", "choice_logprobs")}, **s} for s in samples]
    return [dict(think)]


def lock_rule(meta: Mapping[str, Any] | None) -> LockRule:
    """The attractor-lock rule a key's think statistics were computed with (run.json `think_stats.attractor_rule`),
    else the default."""
    stats = (meta or {}).get("think_stats")
    rule = stats.get("attractor_rule") if isinstance(stats, Mapping) else None
    if isinstance(rule, Mapping) and all(isinstance(rule.get(k), int) for k in ("max_period", "min_repeats")):
        return LockRule(rule["max_period"], rule["min_repeats"])
    return LockRule()


def _locked(trace: Mapping[str, Any], rule: LockRule) -> int | None:
    ids = trace.get("ids")
    return attractor_period(ids, rule) if isinstance(ids, list) and ids else None


def _excerpt(text: Any, limit: int = EXCERPT_CHARS) -> str:
    """The last paragraph of a prompt (the question, after any few-shot examples), cut to `limit` characters."""
    if not isinstance(text, str):
        return ""
    parts = [p for p in text.split("\n\n") if p.strip()]
    last = " ".join((parts[-1] if parts else text).split())
    return last if len(last) <= limit else last[: limit - 1] + "…"


def _first_metric(line: Mapping[str, Any]) -> tuple[str | None, float | None]:
    """(name, value) of the line's correctness: acc, else the first exact_match-type field, else None."""
    if _number(line.get("acc")):
        return "acc", float(line["acc"])
    for name in sorted(line):
        if name.split(",")[0] in ("exact_match", "acc") and _number(line[name]):
            return name, float(line[name])
    return None, None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _choice(line: Mapping[str, Any], index: Any) -> str:
    choices = line.get("choices") or []
    if isinstance(index, int) and 0 <= index < len(choices):
        return f"{chr(65 + index) if index < 26 else index}: {choices[index]}"
    return "" if index is None else str(index)


def _gold_pred(line: Mapping[str, Any], kind: str) -> tuple[str, str]:
    if kind == "mc":
        return _choice(line, line.get("gold")), _choice(line, line.get("pred"))
    if kind == "loglikelihood":
        reqs = line.get("requests") or []
        greedy = all(bool(r.get("is_greedy")) for r in reqs if isinstance(r, Mapping)) if reqs else None
        return str(line.get("target", "")), "" if greedy is None else ("greedy" if greedy else "not greedy")
    if kind == "generate":
        filtered = line.get("filtered")
        answer = next(iter(filtered.values()), "") if isinstance(filtered, Mapping) and filtered else \
            line.get("generation", "")
        return str(line.get("target", "")), _excerpt(json.dumps(answer) if not isinstance(answer, str) else answer, 80)
    return _excerpt(line.get("target"), 80), ""


def sample_row(line: Mapping[str, Any], rule: LockRule = LockRule()) -> dict[str, Any]:
    """One samples-table row: {key, doc, kind, mode, prompt (excerpt), gold, pred, correct (1/0/None), metric (its
    name), lls ([per-choice summed log-prob] or [] / [ll]), think (total trace length or None), stop (stop reason),
    forced, locked (under `rule`), invalid, text (what full-text search looks in)}."""
    kind = line_kind(line)
    ts = traces(line)
    gold, pred = _gold_pred(line, kind)
    metric, correct = _first_metric(line)
    if kind == "mc":
        lls = [jsonable(v) for v in line.get("logprobs") or []]
    elif kind == "rolling" or kind == "loglikelihood":
        lls = [jsonable(line.get("loglikelihood"))] if "loglikelihood" in line else \
            [jsonable(r.get("loglikelihood")) for r in line.get("requests") or [] if isinstance(r, Mapping)]
    else:
        lls = []
    stop = ts[0].get("stop_reason") if ts else line.get("stop_reason")
    if kind == "generate" and ts:
        stop = line.get("stop_reason") if line.get("stop_reason") == "eos_in_think" else ts[0].get("stop_reason")
    text_parts = [line.get("prompt"), line.get("target"), *(line.get("choices") or []),
                  *(t.get("text") for t in ts), line.get("generation")]
    return {
        "key": line["task"], "doc": jsonable(line["doc_id"]), "kind": kind, "mode": line.get("mode", ""),
        "prompt": _excerpt(line.get("prompt")), "gold": gold, "pred": pred, "correct": correct, "metric": metric,
        "lls": lls, "think": sum(int(t.get("length") or 0) for t in ts) if ts else None,
        "stop": stop if isinstance(stop, str) else None,
        "forced": any(t.get("stop_reason") == "forced" for t in ts),
        "locked": any(_locked(t, rule) is not None for t in ts),
        "invalid": bool(line.get("invalid")),
        "text": "\n".join(p if isinstance(p, str) else json.dumps(p) for p in text_parts if p is not None),
    }


def trace_segments(trace: Mapping[str, Any], fmt: Mapping[str, Any]) -> list[dict[str, str]]:
    """A trace as labelled pieces, in order: prompt (the text before the opener), opener, trace, then closer (or
    `forced-closer`: the budget ran out and the harness closed the block, or `eos`: the model ended instead),
    then the answer cue. `fmt` is the key's think format (`titan_eval.tasks[key].think`: think_open,
    think_close, answer_cue)."""
    prompt, opener = str(trace.get("prompt", "")), str(fmt.get("think_open") or "")
    pieces = []
    if opener and prompt.endswith(opener):
        pieces += [{"kind": "prompt", "text": prompt[: -len(opener)]}, {"kind": "opener", "text": opener}]
    elif opener and opener.strip() and prompt.rstrip().endswith(opener.strip()):
        cut = prompt.rstrip().rfind(opener.strip())
        pieces += [{"kind": "prompt", "text": prompt[:cut]}, {"kind": "opener", "text": prompt[cut:]}]
    else:
        pieces.append({"kind": "prompt", "text": prompt})
    pieces.append({"kind": "trace", "text": str(trace.get("text", ""))})
    reason = trace.get("stop_reason")
    closer = str(fmt.get("think_close") or "")
    if reason == "eos":
        pieces.append({"kind": "eos", "text": "<EOS>"})
    else:
        pieces.append({"kind": "forced-closer" if reason == "forced" else "closer", "text": closer})
    if fmt.get("answer_cue") is not None and reason != "eos":
        pieces.append({"kind": "cue", "text": str(fmt["answer_cue"])})
    return pieces


def _choices(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per choice: text, ll (summed log-prob), n_tokens, norm (ll / characters: lm-eval's acc_norm), gold, pred,
    pred_norm."""
    choices, lls = line.get("choices") or [], line.get("logprobs") or []
    tokens = line.get("n_tokens") or []
    out = []
    for i, text in enumerate(choices):
        ll = lls[i] if i < len(lls) and _number(lls[i]) else None
        out.append({"index": i, "label": chr(65 + i) if i < 26 else str(i), "text": str(text),
                    "ll": ll, "n_tokens": tokens[i] if i < len(tokens) else None,
                    "norm": None if ll is None or not len(str(text)) else ll / len(str(text)),
                    "gold": line.get("gold") == i, "pred": line.get("pred") == i,
                    "pred_norm": line.get("pred_norm") == i})
    return out


def sample_detail(line: Mapping[str, Any], fmt: Mapping[str, Any] | None,
                  rule: LockRule = LockRule()) -> dict[str, Any]:
    """The sample page: {row (as in the table), prompt, target, choices, traces: [{segments, stop_reason, length,
    locked (attractor period or None), p_close, seed}], requests, generation, filtered, doc_metrics, metrics
    ({field: value} of the line's numbers), line (every field, JSON-safe)}."""
    fmt = fmt or {}
    kind = line_kind(line)
    metrics = {k: v for k, v in line.items()
               if k not in ("doc_id", "pred", "pred_norm", "gold", "n_tokens", "loglikelihood", "words", "bytes", "seed")
               and isinstance(v, (int, float)) and not isinstance(v, bool)}
    return jsonable({
        "row": sample_row(line, rule), "kind": kind, "prompt": line.get("prompt"), "target": line.get("target"),
        "choices": _choices(line) if kind == "mc" else [],
        "traces": [{"segments": trace_segments(t, fmt), "stop_reason": t.get("stop_reason"),
                    "length": t.get("length"), "locked": _locked(t, rule), "p_close": t.get("p_close"),
                    "seed": t.get("seed")} for t in traces(line)],
        "format": {k: fmt.get(k) for k in ("think_open", "think_close", "answer_cue") if k in fmt},
        "requests": line.get("requests") if kind == "loglikelihood" else None,
        "rolling": {k: line.get(k) for k in ("loglikelihood", "n_tokens", "words", "bytes")} if kind == "rolling"
        else None,
        "generation": line.get("generation"), "filtered": line.get("filtered"),
        "doc_metrics": line.get("doc_metrics"), "metrics": metrics, "line": dict(line),
    })
