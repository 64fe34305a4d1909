"""The markdown table a run prints: task, mode, metric, value, stderr, 95% CI, n.

The CI is the one `titan-eval compare` reports for the same run: computed from the per-document values by
`titan_eval.report.stats.estimate` (Wilson for 0/1 values, normal mean ± z·s/√n otherwise) and stored in
run.json (`titan_eval.tasks[key].ci95`). Paired comparisons between runs live in `titan_eval.report`."""

from __future__ import annotations

from typing import Any

from titan_eval.records import RunRecord


def summary_rows(record: RunRecord) -> list[dict[str, Any]]:
    """One row per (result key, metric) of a run record."""
    rows = []
    for result in record.results:
        cis = result.task_entry().get("ci95", {})
        for name, value in result.metrics.items():
            if "," not in name or "_stderr" in name or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            metric = name.split(",")[0]
            stderr = result.metrics.get(name.replace(metric, f"{metric}_stderr", 1))
            ci = cis.get(metric)
            rows.append({"task": result.key, "mode": result.fingerprint.mode or "", "metric": metric, "value": value,
                         "stderr": stderr if isinstance(stderr, (int, float)) else None,
                         "ci95": None if ci is None else f"[{ci['low']:.4f}, {ci['high']:.4f}]", "n": result.n})
    return rows


def markdown_summary(record: RunRecord) -> str:
    """The run's results as a GitHub-flavoured markdown table."""
    import pandas as pd

    rows = summary_rows(record)
    if not rows:
        return "(no results)"
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].map(lambda v: f"{v:.4f}")
    frame["stderr"] = frame["stderr"].map(lambda v: "N/A" if v is None or pd.isna(v) else f"{v:.4f}")
    frame["ci95"] = frame["ci95"].fillna("N/A")
    return frame.to_markdown(index=False, tablefmt="github")
