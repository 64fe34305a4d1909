"""The sweep's trend as text: a markdown table with one row per step (each metric's value and 95% CI, a mark
where the change from the previous step is real), the table of paired changes, and the same numbers as JSON or
CSV (semantics: `sweep.trend`)."""

from __future__ import annotations

import io
import json
import math
from typing import Any

from titan_eval.sweep.trend import Change, Trend, Value


def _ci(v: Value) -> str:
    if v.ci_low is None or v.ci_high is None or math.isnan(v.ci_low):
        return f"{v.value:.4f} [n/a]"
    return f"{v.value:.4f} [{v.ci_low:.4f}, {v.ci_high:.4f}]"


def _mark(c: Change | None) -> str:
    """▲ / ▼: a real gain / loss (in the metric's better direction) against the previous step; blank: noise."""
    if c is None or not c.real:
        return ""
    gain = (c.delta > 0) == c.higher_is_better
    return " ▲" if gain else " ▼"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(trend: Trend) -> str:
    """The step table, the changes table and a legend."""
    cols = trend.metrics()
    value = {(v.step, v.key, v.metric): v for v in trend.values}
    prev = {(c.to_step, c.key, c.metric): c for c in trend.changes if c.kind == "previous"}
    head = ["step"] + [f"{k} {m}" for k, m in cols]
    lines = ["| " + " | ".join(_md_cell(h) for h in head) + " |", "|" + "---:|" * len(head)]
    for step in trend.steps:
        cells = [str(step)]
        for key, metric in cols:
            v = value.get((step, key, metric))
            cells.append("—" if v is None else _ci(v) + _mark(prev.get((step, key, metric))))
        lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    lines += ["", "| from | to | against | task | metric | Δ | 95% CI | n | test | p | p_holm | change |",
              "|---:|---:|---|---|---|---:|---|---:|---|---:|---:|---|"]
    for c in trend.changes:
        lines.append(f"| {c.from_step} | {c.to_step} | {c.kind} | {_md_cell(c.key)} | {_md_cell(c.metric)} | "
                     f"{c.delta:+.4f} | [{c.ci_low:+.4f}, {c.ci_high:+.4f}] | {c.n} | {c.test} | {c.p:.3g} | "
                     f"{c.p_holm:.3g} | {'**real**' if c.real else 'noise'} |")
    level = round(100 * (1 - trend.alpha))
    lines += ["", f"Values: mean [{level}% CI] from each step's run.json (bpb: normal over its windows, when it has at least 20). Δ = to − from "
              f"on the same documents, tested as `titan-eval compare` does (exact McNemar for 0/1 metrics, paired "
              f"bootstrap otherwise); p_holm: Holm across all {len(trend.changes)} tests of the sweep; **real** when "
              f"p_holm < {trend.alpha:g}, else noise. ▲/▼: a real gain/loss against the previous step. Reference "
              f"step: {trend.reference}."]
    return "\n".join(lines) + "\n"


def _records(trend: Trend) -> dict[str, Any]:
    return {"steps": list(trend.steps), "runs": list(trend.runs), "reference": trend.reference,
            "alpha": trend.alpha,
            "values": [v.__dict__ for v in trend.values], "changes": [c.__dict__ for c in trend.changes]}


def to_json(trend: Trend) -> str:
    from titan_eval.store import clean_json

    return json.dumps(clean_json(_records(trend)), indent=2) + "\n"


def to_csv(trend: Trend) -> str:
    """One tidy table: `kind` value rows (step, key, metric, value, ci) then `kind` change rows."""
    import csv

    buf = io.StringIO()
    fields = ["kind", "step", "from_step", "to_step", "against", "key", "metric", "value", "ci_low", "ci_high", "n",
              "delta", "test", "p", "p_holm", "real"]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for v in trend.values:
        writer.writerow({"kind": "value", "step": v.step, "key": v.key, "metric": v.metric, "value": v.value,
                         "ci_low": v.ci_low, "ci_high": v.ci_high, "n": v.n})
    for c in trend.changes:
        writer.writerow({"kind": "change", "from_step": c.from_step, "to_step": c.to_step, "against": c.kind,
                         "key": c.key, "metric": c.metric, "delta": c.delta, "ci_low": c.ci_low,
                         "ci_high": c.ci_high, "n": c.n, "test": c.test, "p": c.p, "p_holm": c.p_holm,
                         "real": c.real})
    return buf.getvalue()
