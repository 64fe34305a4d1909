"""The CI gate: a test with a stated burden of proof on the paired drop of each gated metric (docs/gates.md).

For every gated (key, metric) the two runs' per-document values are paired and the drop θ = baseline − candidate is
bounded (candidate − baseline for a metric whose `higher_is_better` is false), one-sided, at α/m for m checks
(Bonferroni: all printed bounds hold together with probability ≥ 1 − α). Bounds (`paired_bounds`): Tango's score
bound for 0/1 metrics, the seeded paired bootstrap for other metrics; when the key declares a cluster key and
clusters hold several documents, Tango's bound on design-effect-deflated counts (0/1) or a Wald bound with the
cluster-robust SE (`gate_clustered`).

Rules (`GateConfig.rule`):
    non-inferiority  a check passes only when its upper bound U < max_drop: the candidate must show it lost less
                     than the margin. If its true drop is max_drop or more, a check passes with probability ≤ α/m,
                     so the gate passes such a candidate with probability ≤ α.
    regression       a check fails only when its lower bound L > max_drop: the candidate is shown to have lost more
                     than the margin. A candidate whose true drops are all ≤ max_drop fails with probability ≤ α.
The gate fails when any check fails. Under non-inferiority a 0/1 check whose best possible bound (no changed
document: z²/(n + z²)) is not below the margin cannot pass at this n whatever the candidate does; the verdict says so
and names the n that could.

Comparability (IncomparableRunsError, exit 2): both runs complete; for every gated key identical `data_sha256`,
`prompt_sha256`, `mode`, `scorer` and `doc_ids_sha256`, and the same scored doc_ids in samples.jsonl; every gated
key and metric present in both runs. A metric lm-eval reports per filter (`exact_match,strict-match`) is gated per
filter; its bare name gates every filter of it, and `all` every metric each key has (`gated_metrics`). An lm-eval
group key is gated over the union of its subtasks' documents (`runs.pooled_groups`); a group metric that is not the
mean of that union is refused.

Glossary:
    max_drop   the margin: largest tolerated fall of a metric (absolute, metric units: 0.01 = one accuracy point)
    alpha      the gate's error rate (passing an inferior candidate / failing a sound one), split over the checks
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from titan_eval.errors import IncomparableRunsError
from titan_eval.report.paired_bounds import (best_case_upper, bootstrap_drop_bounds, n_to_pass_at_all, tango_lower,
                                             tango_upper)
from titan_eval.report.planning import PlanSetting, binary_n
from titan_eval.report.gate_clustered import clustered_check
from titan_eval.report.gate_types import (ALL_METRICS, NON_INFERIORITY, PLANNED_POWER, REGRESSION,  # noqa: F401
                                         GateCheck, GateConfig, fails)  # GateConfig, GateCheck, GateVerdict, REGRESSION: re-exported
from titan_eval.report.gate_verdict import GateVerdict
from titan_eval.report.run_clusters import labels_for, shared_clusters
from titan_eval.report.runs import DocId, StoredRun, incomparable_reasons
from titan_eval.report.stats import is_binary

def _gated_keys(baseline: StoredRun, candidate: StoredRun, tasks: Sequence[str] | None) -> list[str]:
    keys = list(tasks) if tasks is not None else baseline.keys()
    if not keys:
        raise IncomparableRunsError(f"baseline {baseline.label} has no scored tasks to gate")
    for run in (baseline, candidate):
        missing = [k for k in keys if k not in run.keys()]
        if missing:
            raise IncomparableRunsError(f"{run.label} has no results for {', '.join(missing)}")
    return keys


def gated_metrics(baseline: StoredRun, key: str, requested: Sequence[str]) -> list[str]:
    """The metrics gated on `key` for the requested names: `ALL_METRICS` gives every metric the baseline has on the
    key; a name the key has is itself; a bare name of a metric the key has only under filters (`exact_match` on
    gsm8k) gives each filter's (`exact_match,strict-match`, `exact_match,flexible-extract`); any other name stays
    (and is reported missing)."""
    have = baseline.metrics(key)
    if tuple(requested) == (ALL_METRICS,):
        return list(have)
    out: list[str] = []
    for name in requested:
        filtered = [m for m in have if "," in m and m.split(",")[0] == name]
        out += [name] if name in have or not filtered else filtered
    return out


def check_comparable(baseline: StoredRun, candidate: StoredRun, keys: Sequence[str], metrics: Sequence[str]) -> None:
    """Raise IncomparableRunsError unless the runs may be gated on these keys and metrics (`gated_metrics` of each
    key; see module docstring)."""
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
        for metric in gated_metrics(baseline, key, metrics):
            missing = [r.label for r in (baseline, candidate) if metric not in r.metrics(key)]
            if missing:
                raise IncomparableRunsError(f"{key}: metric {metric!r} missing in {', '.join(missing)}")
            why = baseline.not_paired.get(key, {}).get(metric) or candidate.not_paired.get(key, {}).get(metric)
            if why:
                raise IncomparableRunsError(f"{key}: metric {metric!r} cannot be gated per document ({why}); gate "
                                            f"its subtasks instead")


def _binary_check(key: str, metric: str, base: np.ndarray, cand: np.ndarray, higher_better: bool,
                  config: GateConfig, alpha_check: float) -> GateCheck:
    """A 0/1 metric: Tango's score bounds from the losses b and gains c (in the better direction)."""
    worse = (base > cand) if higher_better else (cand > base)
    better = (cand > base) if higher_better else (base > cand)
    b, c, n = int(np.count_nonzero(worse)), int(np.count_nonzero(better)), int(base.size)
    lower, upper = tango_lower(b, c, n, alpha_check), tango_upper(b, c, n, alpha_check)
    needs_n = planned_n = None
    if config.rule == NON_INFERIORITY and 0.0 < config.max_drop < 1.0:
        if best_case_upper(n, alpha_check) >= config.max_drop:
            needs_n = n_to_pass_at_all(config.max_drop, alpha_check)
        planned_n = binary_n((b + c) / n, PlanSetting(config.max_drop, 0.0, alpha_check, PLANNED_POWER))
    failed = fails(config, lower, upper)
    return GateCheck(key, metric, n, float(base.mean()), float(cand.mean()), (b - c) / n, lower, upper, alpha_check,
                     "tango-score", failed, b, c, needs_n, planned_n)


def _continuous_check(key: str, metric: str, base: np.ndarray, cand: np.ndarray, higher_better: bool,
                      config: GateConfig, alpha_check: float) -> GateCheck:
    """Any other metric: one-sided percentile bounds of the seeded paired bootstrap of the mean drop."""
    drops = (base - cand) if higher_better else (cand - base)
    lower, upper = bootstrap_drop_bounds(drops, alpha_check, config.n_resamples, config.seed)
    return GateCheck(key, metric, int(base.size), float(base.mean()), float(cand.mean()), float(drops.mean()) + 0.0,
                     lower, upper, alpha_check, "paired-bootstrap", fails(config, lower, upper))


def _cluster_labels(baseline: StoredRun, candidate: StoredRun, key: str, docs: Sequence[DocId]) -> list[str] | None:
    """Cluster labels [len(docs)] when the key declares a cluster key and some cluster holds several documents;
    None when every document stands alone."""
    found = shared_clusters([baseline, candidate], key)
    if found is None:
        return None
    labels = labels_for(docs, found[1])
    return labels if len(set(labels)) < len(labels) else None


def evaluate_gate(baseline: StoredRun, candidate: StoredRun, config: GateConfig = GateConfig()) -> GateVerdict:
    """Gate `candidate` against `baseline`; IncomparableRunsError when they cannot be compared."""
    keys = _gated_keys(baseline, candidate, config.tasks)
    check_comparable(baseline, candidate, keys, config.metrics)
    per_key = {key: gated_metrics(baseline, key, config.metrics) for key in keys}
    alpha_check = config.alpha / sum(len(m) for m in per_key.values())
    checks: list[GateCheck] = []
    for key in keys:
        for metric in per_key[key]:
            base_vals, cand_vals = baseline.values(key, metric), candidate.values(key, metric)
            docs = sorted(base_vals, key=str)
            if not docs:
                raise IncomparableRunsError(f"{key}: no scored documents to gate")
            base = np.array([base_vals[d] for d in docs])
            cand = np.array([cand_vals[d] for d in docs])
            higher = baseline.higher_better(key, metric)
            binary = is_binary(base) and is_binary(cand)
            labels = _cluster_labels(baseline, candidate, key, docs)
            if labels is not None:
                checks.append(clustered_check(key, metric, base, cand, labels, higher, binary, config, alpha_check))
                continue
            build = _binary_check if binary else _continuous_check
            checks.append(build(key, metric, base, cand, higher, config, alpha_check))
    return GateVerdict(baseline.label, candidate.label, tuple(checks), config)

