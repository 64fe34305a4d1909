"""The markdown table a run prints: task, mode, metric, value, stderr, 95% CI, n.

The CI is the normal interval value ± 1.96·stderr (stderr as lm-eval computes it for means: sample std / √n),
clipped to [0, 1] for proportion metrics (`PROPORTION`). Paired comparisons between runs live in `titan_eval.report`."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

Z95 = 1.959963984540054
PROPORTION = re.compile(r"^(acc|strict|author|ok_|top\d|termination|promotable)|_rate$")
"""Metrics that are proportions (their CI is clipped to [0, 1])."""


def summary_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per (result key, metric) from a run record."""
    rows = []
    tasks_meta = record.get("titan_eval", {}).get("tasks", {})
    for key, metrics in record.get("results", {}).items():
        n = record.get("n-samples", {}).get(key, {}).get("effective")
        mode = tasks_meta.get(key, {}).get("mode", "")
        for name, value in metrics.items():
            if "," not in name or "_stderr" in name or not isinstance(value, (int, float)):
                continue
            metric = name.split(",")[0]
            stderr = metrics.get(name.replace(metric, f"{metric}_stderr", 1))
            stderr = stderr if isinstance(stderr, (int, float)) else None
            lo = hi = None
            if stderr is not None:
                lo, hi = value - Z95 * stderr, value + Z95 * stderr
                if PROPORTION.search(metric):
                    lo, hi = max(0.0, lo), min(1.0, hi)
            rows.append({"task": key, "mode": mode, "metric": metric, "value": value, "stderr": stderr,
                         "ci95": None if lo is None else f"[{lo:.4f}, {hi:.4f}]", "n": n})
    return rows


def markdown_summary(record: dict[str, Any]) -> str:
    """The run's results as a GitHub-flavoured markdown table."""
    rows = summary_rows(record)
    if not rows:
        return "(no results)"
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].map(lambda v: f"{v:.4f}")
    frame["stderr"] = frame["stderr"].map(lambda v: "N/A" if v is None or pd.isna(v) else f"{v:.4f}")
    frame["ci95"] = frame["ci95"].fillna("N/A")
    return frame.to_markdown(index=False, tablefmt="github")
