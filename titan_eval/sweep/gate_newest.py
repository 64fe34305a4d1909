"""`sweep --gate-against best|first|STEP --max-drop X`: the gate's non-inferiority rule (`report.gate`) applied to
the newest step against the chosen earlier one.

best: among the earlier steps, the one with the best value (in its better direction) of the first gated metric on
the first gated key. The gated keys are those of the newest run that carry a gated metric and per-document lines
(bpb and fact_margins' per-category keys have none of their own and are left out)."""

from __future__ import annotations

from typing import Sequence

from titan_eval.errors import UsageError
from titan_eval.report.gate import GateConfig, GateVerdict, evaluate_gate, gated_metrics
from titan_eval.sweep.trend import BPB, StepRun


def _baseline(steps: Sequence[StepRun], against: str, key: str, metric: str) -> StepRun:
    earlier = list(steps[:-1])
    if not earlier:
        raise UsageError("--gate-against needs at least two complete steps")
    if against == "first":
        return earlier[0]
    if against == "best":
        higher = earlier[0].run.higher_better(key, metric)
        value = {s.step: float(s.run.results[key].get(f"{metric},none", s.run.results[key].get(metric)))
                 for s in earlier}
        best = (max if higher else min)(value, key=lambda step: value[step])
        return next(s for s in earlier if s.step == best)
    try:
        wanted = int(against)
    except ValueError:
        raise UsageError(f"--gate-against takes best, first or a step number, not {against!r}") from None
    found = next((s for s in earlier if s.step == wanted), None)
    if found is None:
        raise UsageError(f"--gate-against {wanted}: no complete earlier step {wanted} (steps: "
                         f"{', '.join(str(s.step) for s in earlier)})")
    return found


def gate_newest(steps: Sequence[StepRun], against: str, metrics: Sequence[str], max_drop: float,
                alpha: float = 0.05) -> GateVerdict:
    """The gate's verdict on the newest step (module docstring); `IncomparableRunsError` as `gate`'s."""
    newest = steps[-1]
    keys = [k for k in newest.run.keys() if k != BPB and newest.run.samples.get(k) and gated_metrics(newest.run, k, metrics)
            and all(m in newest.run.metrics(k) for m in gated_metrics(newest.run, k, metrics))]
    if not keys:
        raise UsageError(f"--gate-metric {','.join(metrics)}: no task of the sweep has it")
    first_metric = gated_metrics(newest.run, keys[0], metrics)[0]
    base = _baseline(steps, against, keys[0], first_metric)
    config = GateConfig(metrics=tuple(metrics), max_drop=max_drop, alpha=alpha, rule="non-inferiority",
                        tasks=tuple(keys))
    return evaluate_gate(base.run, newest.run, config)
