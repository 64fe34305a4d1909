"""The CI regression gate: does a candidate run score significantly worse than a baseline run?

Rule. For every gated (key, metric) the gate pairs the two runs' per-document values (`stats.paired_test`: exact
McNemar for 0/1 metrics, seeded paired bootstrap otherwise) and computes drop = baseline − candidate (candidate −
baseline for a metric whose `higher_is_better` is false). Holm's adjustment runs across all gated (key, metric)
checks, since one verdict rests on all of them. A check regresses when

    drop > max_drop   and   p_holm < alpha

and the gate fails when any check regresses. Both conditions matter: a large drop on few documents is noise, a
significant drop smaller than `max_drop` is tolerated.

Comparability (IncomparableRunsError, exit 2): both runs complete; for every gated key identical `data_sha256`,
`prompt_sha256`, `mode`, `scorer` and `doc_ids_sha256`, and the same scored doc_ids in samples.jsonl; every gated
key and metric present in both runs.

Glossary:
    max_drop   largest tolerated fall of a metric (absolute, in the metric's units: 0.01 = one accuracy point)
    alpha      test level for the Holm-adjusted p-values
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from titan_eval.errors import IncomparableRunsError, UsageError
from titan_eval.report.runs import StoredRun, incomparable_reasons
from titan_eval.report.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, holm, paired_test

_EPS = 1e-12  # a drop equal to max_drop (up to float rounding of the means) is not "more than" max_drop


@dataclass(frozen=True)
class GateConfig:
    """metrics/tasks: what is gated (tasks None: every key of the baseline)."""

    metrics: tuple[str, ...] = ("acc", "acc_norm")
    max_drop: float = 0.01
    alpha: float = 0.05
    tasks: tuple[str, ...] | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not self.metrics:
            raise UsageError("the gate needs at least one metric")
        if self.max_drop < 0:
            raise UsageError(f"max_drop must be non-negative, got {self.max_drop}")
        if not 0.0 < self.alpha < 1.0:
            raise UsageError(f"alpha must lie in (0, 1), got {self.alpha}")


@dataclass(frozen=True)
class GateCheck:
    """One gated (key, metric): means over the n shared documents, the drop, raw and Holm p, and the decision."""

    key: str
    metric: str
    n: int
    baseline: float
    candidate: float
    drop: float
    p_value: float
    p_holm: float
    test: str
    regressed: bool


@dataclass(frozen=True)
class GateVerdict:
    baseline: str
    candidate: str
    checks: tuple[GateCheck, ...]
    config: GateConfig

    @property
    def passed(self) -> bool:
        return not any(c.regressed for c in self.checks)

    def summary(self) -> str:
        """One line for the error message / CI log."""
        bad = [f"{c.key}/{c.metric} −{c.drop:.4f} (p_holm={c.p_holm:.3g})" for c in self.checks if c.regressed]
        if not bad:
            return f"gate passed: {len(self.checks)} checks, no significant drop > {self.config.max_drop}"
        return f"gate failed: {self.candidate} regressed on {', '.join(bad)}"

    def to_markdown(self) -> str:
        c = self.config
        head = "✅ **Gate passed**" if self.passed else "❌ **Gate failed: significant regression**"
        lines = [
            f"### titan-eval gate: {head}", "",
            f"Candidate `{self.candidate}` vs baseline `{self.baseline}`. A check fails when the drop exceeds "
            f"{c.max_drop} and the Holm-adjusted p (across the {len(self.checks)} checks) is below {c.alpha}.", "",
            "| task | metric | n | baseline | candidate | drop | test | p | p_holm | result |",
            "|---|---|---:|---:|---:|---:|---|---:|---:|---|",
        ]
        for k in self.checks:
            lines.append(f"| {k.key} | {k.metric} | {k.n} | {k.baseline:.4f} | {k.candidate:.4f} | {k.drop:+.4f} | "
                         f"{k.test} | {k.p_value:.3g} | {k.p_holm:.3g} | {'**regressed**' if k.regressed else 'ok'} |")
        return "\n".join(lines) + "\n"


def incomparable_markdown(baseline: str, candidate: str, reason: str) -> str:
    """The verdict text when the gate cannot run (exit 2)."""
    return (f"### titan-eval gate: ⚠️ **Runs not comparable**\n\nCandidate `{candidate}` vs baseline `{baseline}`: "
            f"{reason}\n")


def _gated_keys(baseline: StoredRun, candidate: StoredRun, tasks: Sequence[str] | None) -> list[str]:
    keys = list(tasks) if tasks is not None else baseline.keys()
    if not keys:
        raise IncomparableRunsError(f"baseline {baseline.label} has no scored tasks to gate")
    for run in (baseline, candidate):
        missing = [k for k in keys if k not in run.keys()]
        if missing:
            raise IncomparableRunsError(f"{run.label} has no results for {', '.join(missing)}")
    return keys


def check_comparable(baseline: StoredRun, candidate: StoredRun, keys: Sequence[str], metrics: Sequence[str]) -> None:
    """Raise IncomparableRunsError unless the runs may be gated on these keys and metrics (see module docstring)."""
    for run in (baseline, candidate):
        if run.status != "complete":
            raise IncomparableRunsError(f"{run.label} is not complete (status {run.status!r})")
    for key in keys:
        reasons = incomparable_reasons(baseline, candidate, key, same_docs=True)
        if reasons:
            raise IncomparableRunsError(f"{key}: {'; '.join(reasons)}")
        unpaired = set(baseline.samples.get(key, {})) ^ set(candidate.samples.get(key, {}))
        if unpaired:
            raise IncomparableRunsError(f"{key}: the runs scored different documents ({len(unpaired)} not in both)")
        for metric in metrics:
            missing = [r.label for r in (baseline, candidate) if metric not in r.metrics(key)]
            if missing:
                raise IncomparableRunsError(f"{key}: metric {metric!r} missing in {', '.join(missing)}")


def evaluate_gate(baseline: StoredRun, candidate: StoredRun, config: GateConfig = GateConfig()) -> GateVerdict:
    """Gate `candidate` against `baseline`; IncomparableRunsError when they cannot be compared."""
    keys = _gated_keys(baseline, candidate, config.tasks)
    check_comparable(baseline, candidate, keys, config.metrics)
    checks: list[GateCheck] = []
    for key in keys:
        for metric in config.metrics:
            base_vals, cand_vals = baseline.values(key, metric), candidate.values(key, metric)
            docs = sorted(base_vals, key=str)
            if not docs:
                raise IncomparableRunsError(f"{key}: no scored documents to gate")
            base = np.array([base_vals[d] for d in docs])
            cand = np.array([cand_vals[d] for d in docs])
            t = paired_test(base, cand, alpha=config.alpha, n_resamples=config.n_resamples, seed=config.seed)
            drop = (-t.delta if baseline.higher_better(key, metric) else t.delta) + 0.0  # + 0.0: no -0.0
            checks.append(GateCheck(key, metric, t.n, float(base.mean()), float(cand.mean()), drop, t.p_value,
                                    t.p_value, t.test, False))
    adjusted = holm([c.p_value for c in checks])
    final = tuple(dataclasses.replace(c, p_holm=p, regressed=c.drop > config.max_drop + _EPS and p < config.alpha)
                  for c, p in zip(checks, adjusted))
    return GateVerdict(baseline.label, candidate.label, final, config)
