"""The sweep's numbers: each step's value and 95% CI per (key, metric), and the paired difference of each step
against the previous one and against the reference step, tested as `compare` tests them (`report.compare`: exact
McNemar for 0/1 metrics, the seeded paired bootstrap otherwise), Holm-adjusted across the whole sweep.

Values and CIs are each run's own (`run.json` results and `titan_eval.tasks[key].ci95`). bpb has no per-document
value in a run: its documents are the text's windows, window j's share x_j = NLL_j · J / (B · ln 2) (J windows,
B the text's measured bytes), so mean(x) = bpb; its CI (normal over windows) and its paired tests use x, given
at least MIN_WINDOWS windows (else bpb is shown without either). A per-language `bpb_ℓ` (a `.jsonl` text with
`lang` fields) does the same over ℓ's windows and bytes.

Glossary:
    pair     (from step, to step): each step with its predecessor (`kind` previous) and with the reference
             (`kind` reference; the first step unless `--reference STEP`), each pair once
    family   every (pair, key, metric) test of the sweep: Holm's adjustment runs over all of them
    real     p_holm < alpha; otherwise the change is within sampling noise
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from titan_eval.errors import IncomparableRunsError, UsageError
from titan_eval.records import RunRecord
from titan_eval.report.compare import CompareConfig, compare_runs
from titan_eval.report.runs import StoredRun, incomparable_reasons, load_run
from titan_eval.report.stats import estimate, holm, paired_test

BPB = "bpb"
MIN_WINDOWS = 20
"""Fewer bpb windows than this: no CI and no paired test (a bootstrap over a handful of windows is no test)."""


@dataclass(frozen=True)
class StepRun:
    """One complete step: its number, run folder and the run as `compare` reads it, plus its record."""

    step: int
    path: Path
    run: StoredRun
    record: RunRecord


@dataclass(frozen=True)
class Value:
    """A step's value of (key, metric) with its 95% CI and n (ci None when the run gives none)."""

    step: int
    key: str
    metric: str
    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class Change:
    """The paired difference Δ = to − from on one (key, metric); `higher_is_better` says which sign is a gain."""

    from_step: int
    to_step: int
    kind: str
    key: str
    metric: str
    delta: float
    ci_low: float
    ci_high: float
    n: int
    test: str
    p: float
    p_holm: float
    real: bool
    higher_is_better: bool


@dataclass(frozen=True)
class Trend:
    """The whole sweep table: `steps` in step order, `values` and `changes` in (step, key, metric) order."""

    steps: tuple[int, ...]
    runs: tuple[str, ...]
    values: tuple[Value, ...]
    changes: tuple[Change, ...]
    reference: int | None
    alpha: float

    def metrics(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys((v.key, v.metric) for v in self.values))


def read_steps(folder: Path, entries: Sequence[Any]) -> list[StepRun]:
    """The complete steps' runs, checked comparable with the first on every key (fingerprints and doc ids, as the
    gate requires); `IncomparableRunsError` naming both steps and the fingerprints otherwise."""
    steps = []
    for e in entries:
        path = folder / e.run
        run = dataclasses.replace(load_run(path), label=f"step {e.step}")
        steps.append(StepRun(e.step, path, run, RunRecord.from_json(_json(path / "run.json"))))
    for other in steps[1:]:
        first = steps[0]
        for key in first.run.keys():
            reasons = incomparable_reasons(first.run, other.run, key, same_docs=True)
            if reasons:
                raise IncomparableRunsError(f"step {other.step} vs step {first.step} on {key}: {'; '.join(reasons)}")
    return steps


def _json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def is_bpb_metric(key: str, metric: str) -> bool:
    """bpb's overall metric or one of its per-language ones (`bpb_<lang>`)."""
    return key == BPB and (metric == BPB or metric.startswith(BPB + "_"))


def bpb_shares(step: StepRun, metric: str = BPB) -> np.ndarray | None:
    """x [J]: each window's share of the step's bpb (module docstring), over all windows for `bpb` and over the
    windows of language ℓ's texts for `bpb_ℓ` (B then ℓ's bytes); None when the run has no such metric."""
    result = step.record.result(BPB)
    docs = step.run.samples.get(BPB)
    if result is None or not docs:
        return None
    if metric == BPB:
        lines, n_bytes = [docs[j] for j in sorted(docs)], int(result.meta["bytes"])
    else:
        lang = metric[len(BPB) + 1:]
        entry = (result.meta.get("languages") or {}).get(lang)
        if entry is None:
            return None
        lines, n_bytes = [docs[j] for j in sorted(docs) if docs[j].get("lang") == lang], int(entry["bytes"])
    from titan_eval.suites.bpb import window_shares

    return np.array(window_shares([float(line["nll"]) for line in lines], n_bytes))


def step_values(step: StepRun, metrics: Sequence[str] | None = None) -> list[Value]:
    """Every (key, metric) value of one step from its run.json (value, ci95, n); bpb's CI from its windows."""
    out = []
    for result in step.record.results:
        cis = result.task_entry().get("ci95", {})
        for name, value in result.metrics.items():
            if "," not in name or "_stderr" in name or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            metric = name[: -len(",none")] if name.endswith(",none") else name
            if metrics is not None and metric not in metrics and metric.split(",")[0] not in metrics:
                continue
            ci = cis.get(metric)
            low, high = (ci["low"], ci["high"]) if ci else (None, None)
            if is_bpb_metric(result.key, metric):
                x = bpb_shares(step, metric)
                low = high = None
                if x is not None and x.size >= MIN_WINDOWS:
                    e = estimate(x)
                    low, high = e.ci_low, e.ci_high
            out.append(Value(step.step, result.key, metric, float(value), low, high, result.n))
    return out


def _pairs(steps: Sequence[int], reference: int) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for a, b in zip(steps, steps[1:]):
        out.append((a, b, "previous"))
    for s in steps:
        if s != reference and not any((x, y) == (reference, s) for x, y, _ in out):
            out.append((reference, s, "reference"))
    return out


def _without_bpb(run: StoredRun) -> StoredRun:
    return dataclasses.replace(run, results={k: v for k, v in run.results.items() if k != BPB},
                               samples={k: v for k, v in run.samples.items() if k != BPB},
                               tasks={k: v for k, v in run.tasks.items() if k != BPB})


def _pair_tests(a: StepRun, b: StepRun, wanted: set[tuple[str, str]], config: CompareConfig) -> list[dict[str, Any]]:
    """compare's paired tests of b against a on the wanted (key, metric)s; bpb through its window shares."""
    out = []
    table = compare_runs([_without_bpb(a.run), _without_bpb(b.run)], config=config)
    for row in table.rows:
        cell = row.cells[1]
        if (row.key, row.metric) in wanted and cell.paired is not None:
            t = cell.paired
            out.append({"key": row.key, "metric": row.metric, "delta": t.delta, "ci_low": t.ci_low,
                        "ci_high": t.ci_high, "n": t.n, "test": t.test, "p": t.p_value,
                        "higher": a.run.higher_better(row.key, row.metric)})
    for key, metric in sorted(w for w in wanted if is_bpb_metric(*w)):
        xa, xb = bpb_shares(a, metric), bpb_shares(b, metric)
        if xa is not None and xb is not None and xa.size >= MIN_WINDOWS and xa.size == xb.size:
            t = paired_test(xa, xb, alpha=config.alpha, n_resamples=config.n_resamples, seed=config.seed)
            out.append({"key": key, "metric": metric, "delta": t.delta, "ci_low": t.ci_low, "ci_high": t.ci_high,
                        "n": t.n, "test": t.test, "p": t.p_value, "higher": False})
    return out


def build_trend(steps: Sequence[StepRun], reference: int | None = None, alpha: float = 0.05,
                metrics: Sequence[str] | None = None) -> Trend:
    """The table's numbers (module docstring). `metrics`: the metric names kept (None: all)."""
    if not steps:
        raise UsageError("the sweep has no complete step yet")
    numbers = [s.step for s in steps]
    ref = numbers[0] if reference is None else reference
    if ref not in numbers:
        raise UsageError(f"--reference {ref}: no complete step {ref} in the sweep (steps: "
                         f"{', '.join(map(str, numbers))})")
    values = [v for s in steps for v in step_values(s, metrics)]
    wanted = {(v.key, v.metric) for v in values}
    by_step = {s.step: s for s in steps}
    config = CompareConfig(alpha=alpha)
    raw = [(a, b, kind, t) for a, b, kind in _pairs(numbers, ref)
           for t in _pair_tests(by_step[a], by_step[b], wanted, config)]
    adjusted = holm([t["p"] for *_, t in raw])
    changes = [Change(a, b, kind, t["key"], t["metric"], t["delta"], t["ci_low"], t["ci_high"], t["n"], t["test"],
                      t["p"], p, p < alpha, t["higher"]) for (a, b, kind, t), p in zip(raw, adjusted)]
    return Trend(tuple(numbers), tuple(str(s.path) for s in steps), tuple(values), tuple(changes), ref, alpha)
