"""The markdown table a run prints: task, mode, metric, value, stderr, 95% CI, n (and clusters, when a key has them).

The CI is the one `titan-eval compare` reports for the same run: computed from the per-document values by
`titan_eval.report.stats.estimate` (Wilson for 0/1 values, normal mean ± z·s/√n otherwise) and stored in
run.json (`titan_eval.tasks[key].ci95`). On a key that declares a cluster key (docs/gates.md "Clustered standard
errors") the stderr and CI are cluster-robust (CR1 over G clusters; `ci95[metric].se` / `.clusters`), and the
table's `clusters` column gives G; run.json `results` keep lm-eval's i.i.d. stderr. Paired comparisons between
runs live in `titan_eval.report`."""

from __future__ import annotations

from typing import Any

from titan_eval.records import RunRecord
from titan_eval.report.runs import metric_name

CLUSTER_NOTE = ("Rows with clusters: stderr and ci95 are cluster-robust (CR1) over that many clusters of the task's "
                "cluster key (documents not independent; docs/gates.md); run.json results keep lm-eval's stderr.")


def summary_rows(record: RunRecord) -> list[dict[str, Any]]:
    """One row per (result key, metric) of a run record; `clusters` is G on a clustered key, else None."""
    rows = []
    for result in record.results:
        cis = result.task_entry().get("ci95", {})
        for name, value in result.metrics.items():
            if "," not in name or "_stderr" in name or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            metric = metric_name(name)  # `acc`, or `exact_match,strict-match` under a filter
            bare = name.split(",")[0]
            stderr = result.metrics.get(name.replace(bare, f"{bare}_stderr", 1))
            ci = cis.get(metric)
            clusters = None if ci is None else ci.get("clusters")
            if clusters is not None:
                stderr = ci.get("se")
            rows.append({"task": result.key, "mode": result.fingerprint.mode or "", "metric": metric, "value": value,
                         "stderr": stderr if isinstance(stderr, (int, float)) else None,
                         "ci95": None if ci is None else f"[{ci['low']:.4f}, {ci['high']:.4f}]", "n": result.n,
                         "clusters": clusters})
    return rows


def markdown_summary(record: RunRecord) -> str:
    """The run's results as a GitHub-flavoured markdown table (plus one line explaining the clustered rows, if any)."""
    import pandas as pd

    rows = summary_rows(record)
    if not rows:
        return "(no results)"
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].map(lambda v: f"{v:.4f}")
    frame["stderr"] = frame["stderr"].map(lambda v: "N/A" if v is None or pd.isna(v) else f"{v:.4f}")
    frame["ci95"] = frame["ci95"].fillna("N/A")
    clustered = frame["clusters"].notna().any()
    if not clustered:
        return frame.drop(columns="clusters").to_markdown(index=False, tablefmt="github")
    frame["clusters"] = frame["clusters"].map(lambda g: "" if g is None or pd.isna(g) else str(int(g)))
    return frame.to_markdown(index=False, tablefmt="github") + "\n\n" + CLUSTER_NOTE
