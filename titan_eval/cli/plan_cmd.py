"""`titan-eval plan`: how many documents a gate check needs (formulas: `titan_eval.report.planning`, docs/gates.md).

The baseline is a stored run (its accuracy per result key) or a rate; the discordance ψ (how many documents change
between baseline and candidate) is given, measured from a paired run, or assumed from the rate (independent errors).
A sampled metric (avg@K, pass@k: a rate per document over K samples) plans with the SD of the paired differences,
measured from a paired run or, without one, assumed as √2 × the baseline's SD over documents (unrelated rates).
The α per check is --alpha split over the planned checks, as the gate splits it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from titan_eval.errors import UsageError


def _rate(text: str) -> float | None:
    """A float in [0, 1], or None when `text` is not a number (then it names a run)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise UsageError(f"a baseline rate must lie in [0, 1], got {text}")
    return value


def _is_sampled(metric: str) -> bool:
    """A per-document rate over K sampled answers: `<m>_avg@K` or `<m>_pass@k` (tasks.sampled_metrics)."""
    name = metric.split(",")[0]
    return any(tag in name for tag in ("_avg@", "_pass@"))


def _rows(baseline: str, metrics: tuple[str, ...], tasks: tuple[str, ...] | None, paired: Path | None,
          discordance: float | None) -> list[dict[str, object]]:
    """One planning row per (key, metric): rate or SD source, ψ and where it came from, the run's n."""
    import numpy as np

    from titan_eval.report import load_run
    from titan_eval.report.stats import is_binary

    rate = _rate(baseline)
    if rate is not None:
        if paired is not None:
            raise UsageError("--paired needs --baseline to be a run (the documents are paired on their ids)")
        psi, source = (discordance, "given") if discordance is not None else (None, "assumed 2p(1-p)")
        return [{"key": "—", "metric": m, "rate": rate, "psi": psi, "source": source, "sd": None, "n_run": None}
                for m in metrics]
    base = load_run(baseline)
    other = load_run(paired) if paired is not None else None
    keys = list(tasks) if tasks else base.keys()
    rows: list[dict[str, object]] = []
    for key in keys:
        for metric in metrics:
            if metric not in base.metrics(key):
                raise UsageError(f"{base.label} has no {metric!r} for {key}")
            values = base.values(key, metric)
            row: dict[str, object] = {"key": key, "metric": metric, "n_run": len(values), "sd": None}
            base_arr = np.fromiter(values.values(), float)
            binary = is_binary(base_arr)
            row["rate"] = float(base_arr.mean()) if binary else None
            if other is not None:
                cand = other.values(key, metric)
                shared = [d for d in values if d in cand]
                if not shared:
                    raise UsageError(f"{base.label} and {other.label} share no {key} documents")
                d = np.array([cand[i] - values[i] for i in shared])
                row.update(psi=float(np.mean(d != 0)), source=f"paired run ({len(shared)} docs)",
                           sd=float(d.std(ddof=1)) if d.size > 1 else None)
            elif binary:
                row.update(psi=discordance, source="given" if discordance is not None else "assumed 2p(1-p)")
            elif _is_sampled(metric) and base_arr.size > 1:
                # a per-document rate over K samples (avg@K, pass@k): without a paired run, take the candidate's
                # rates unrelated to the baseline's, as 2p(1-p) does for 0/1 metrics: Var(d) = 2·Var(rate)
                row.update(psi=None, sd=math.sqrt(2.0) * float(base_arr.std(ddof=1)),
                           source="assumed unrelated: √2 × the run's SD over documents")
            else:
                raise UsageError(f"{key}/{metric} is not a 0/1 metric: give --paired RUN to measure the SD of the "
                                 f"per-document differences")
            rows.append(row)
    return rows


def plan(
    baseline: Annotated[str, typer.Option(help="A stored run, or the baseline's rate (e.g. 0.62).",
                                          show_default=False)],
    max_drop: Annotated[float, typer.Option(help="The gate's margin (absolute; 0.01 = one point).")] = 0.01,
    metric: Annotated[str, typer.Option(help="Comma-separated metrics.")] = "acc",
    power: Annotated[float, typer.Option(help="Wanted probability of the right decision.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="The gate's error rate, split over the checks.")] = 0.05,
    rule: Annotated[str, typer.Option(help="non-inferiority or regression.")] = "non-inferiority",
    true_drop: Annotated[float, typer.Option(help="Drop the candidate truly has (regression: > max-drop).")] = 0.0,
    discordance: Annotated[Optional[float], typer.Option(
        help="Share of documents whose 0/1 score changes (default: from --paired, else 2p(1-p)).")] = None,
    paired: Annotated[Optional[Path], typer.Option(help="A candidate run paired with --baseline: measures ψ / SD.")]
    = None,
    tasks: Annotated[Optional[str], typer.Option(help="Comma-separated result keys (default: all of the run's).")]
    = None,
    checks: Annotated[Optional[int], typer.Option(help="Checks the gate splits alpha over (default: rows here).")]
    = None,
) -> None:
    """Documents a gate needs: per key and metric, the n for --power at --true-drop under --rule."""
    from titan_eval.report.plan_table import plan_markdown

    metrics = tuple(s.strip() for s in metric.split(",") if s.strip())
    if not metrics:
        raise UsageError(f"expected a comma-separated list of metrics, got {metric!r}")
    if discordance is not None and not 0.0 <= discordance <= 1.0:
        raise UsageError(f"--discordance must lie in [0, 1], got {discordance}")
    task_list = tuple(s.strip() for s in tasks.split(",") if s.strip()) if tasks else None
    rows = _rows(baseline, metrics, task_list, paired, discordance)
    if checks is not None and checks < 1:
        raise UsageError(f"--checks must be at least 1, got {checks}")
    typer.echo(plan_markdown(rows, max_drop=max_drop, alpha=alpha, power=power, rule=rule, true_drop=true_drop,
                             checks=checks or len(rows)), nl=False)
