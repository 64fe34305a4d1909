"""Sweep documents for the viewer: one row per found sweep folder, and a sweep's trend page — every metric's value
against the step with its 95% CI (the numbers `titan-eval sweep` prints, from `sweep.trend.build_trend`), each step
linked to its run, and the step-to-step changes with their Holm-adjusted paired tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from titan_eval.view.samples_data import jsonable


def sweep_row(sweep_id: str, folder: Path) -> dict[str, Any]:
    """{id, card, tasks, steps: [step], complete, failed}; `status: unreadable` with the error for a bad sweep.json."""
    from titan_eval.errors import TitanEvalError
    from titan_eval.sweep.sweep_record import read_record

    try:
        record = read_record(folder)
    except TitanEvalError as err:
        return {"id": sweep_id, "status": "unreadable", "error": str(err), "steps": [], "tasks": [], "card": ""}
    assert record is not None  # found because its sweep.json exists
    return jsonable({"id": sweep_id, "status": "ok", "card": record.card, "tasks": list(record.tasks),
                     "steps": [e.step for e in record.steps], "complete": len(record.complete()),
                     "failed": [{"step": e.step, "status": e.status, "error": e.error} for e in record.steps
                                if e.status not in ("complete", "running")]})


def sweep_page(sweep_id: str, folder: Path, run_ids: Mapping[Path, str]) -> dict[str, Any]:
    """The trend page of the sweep in `folder`; `run_ids`: resolved run folder → viewer run id.

    {id, card, tasks, alpha, reference, steps: [{step, run_id, checkpoint, status}], series: [{key, metric,
    higher_is_better, points: [{step, value, ci_low, ci_high, n, run_id}]}], changes: [{from_step, to_step, kind,
    key, metric, delta, ci_low, ci_high, test, p, p_holm, real, better}], table: the markdown the command prints}."""
    from titan_eval.sweep.sweep_record import read_record
    from titan_eval.sweep.table import to_markdown
    from titan_eval.sweep.trend import build_trend, read_steps

    record = read_record(folder)
    assert record is not None
    complete = record.complete()
    step_run = {e.step: run_ids.get((folder / e.run).resolve()) for e in record.steps}
    page: dict[str, Any] = {
        "id": sweep_id, "card": record.card, "tasks": list(record.tasks), "series": [], "changes": [], "table": "",
        "steps": [{"step": e.step, "run_id": step_run[e.step], "checkpoint": e.checkpoint, "status": e.status,
                   "error": e.error} for e in record.steps]}
    if not complete:
        return jsonable(page)
    steps = read_steps(folder, complete)
    trend = build_trend(steps)
    for key, metric in trend.metrics():
        points = [{"step": v.step, "value": v.value, "ci_low": v.ci_low, "ci_high": v.ci_high, "n": v.n,
                   "run_id": step_run.get(v.step)} for v in trend.values if (v.key, v.metric) == (key, metric)]
        page["series"].append({"key": key, "metric": metric, "higher_is_better": steps[0].run.higher_better(key, metric),
                               "points": points})
    page["changes"] = [{"from_step": c.from_step, "to_step": c.to_step, "kind": c.kind, "key": c.key,
                        "metric": c.metric, "delta": c.delta, "ci_low": c.ci_low, "ci_high": c.ci_high,
                        "test": c.test, "p": c.p, "p_holm": c.p_holm, "real": c.real,
                        "better": (c.delta > 0) == c.higher_is_better} for c in trend.changes]
    page.update({"alpha": trend.alpha, "reference": trend.reference, "table": to_markdown(trend)})
    return jsonable(page)
