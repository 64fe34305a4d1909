"""Gate checks on a result key whose documents come in clusters (the task declares a cluster key; several
HellaSwag contexts from one source, K traces of one document): documents of a cluster succeed or fail together,
so n documents carry less evidence than n independent ones.

0/1 metrics: Tango's bound on counts deflated by the design effect (Rao & Scott 1992, "A simple method for the
analysis of clustered binary data", Biometrics 48:577–585): with D = SE²_cluster / SE²_naive of the per-document
drops (cluster-robust CR1 over naive s/√n, floored at 1), the check uses b/D lost, c/D gained of n/D documents.
When the drops do not vary (no changed document) D cannot be estimated and the effective n is G, each cluster
counted once — the value for perfectly correlated clusters, so a gate cannot pass on many copies of one question.
Other metrics: the Wald bound drop ∓ z₁₋α·SE_cluster.

Glossary:
    drops    per-document baseline − candidate in the metric's better direction, shape [n]
    labels   per-document cluster labels, shape [n];  G  distinct clusters;  D  design effect
"""

from __future__ import annotations

import math
from typing import Hashable, Sequence

import numpy as np

from titan_eval.report.clustered import clustered_mean_se
from titan_eval.report.gate_types import NON_INFERIORITY, PLANNED_POWER, GateCheck, GateConfig, fails
from titan_eval.report.paired_bounds import (best_case_upper, n_to_pass_at_all, tango_lower, tango_upper,
                                             wald_drop_bounds)
from titan_eval.report.planning import PlanSetting, binary_n


def design_effect(drops: np.ndarray, labels: Sequence[Hashable]) -> float:
    """D = SE²_CR1 / SE²_naive of the mean of `drops` [n] in clusters `labels` [n], floored at 1; n/G when the drops
    do not vary (module docstring)."""
    n = drops.size
    _, se_cluster, groups = clustered_mean_se(drops, labels)
    naive = float(drops.std(ddof=1)) / math.sqrt(n) if n > 1 else 0.0
    if naive == 0.0 or not math.isfinite(se_cluster):
        return n / max(1, groups)
    return max(1.0, (se_cluster / naive) ** 2)


def clustered_check(key: str, metric: str, base: np.ndarray, cand: np.ndarray, labels: Sequence[Hashable],
                    higher_better: bool, binary: bool, config: GateConfig, alpha_check: float) -> GateCheck:
    """One gated (key, metric) on clustered documents (module docstring); base, cand: [n] aligned with labels."""
    drops = (base - cand) if higher_better else (cand - base)
    n, groups = int(drops.size), len(set(labels))
    if not binary:
        mean, se, _ = clustered_mean_se(drops, labels)
        lower, upper = wald_drop_bounds(mean, se, alpha_check)
        return GateCheck(key, metric, n, float(base.mean()), float(cand.mean()), mean + 0.0, lower, upper,
                         alpha_check, f"cluster-wald (G={groups})", fails(config, lower, upper))
    b, c = int(np.count_nonzero(drops > 0)), int(np.count_nonzero(drops < 0))
    deff = design_effect(drops, labels)
    lower, upper = tango_lower(b / deff, c / deff, n / deff, alpha_check), tango_upper(b / deff, c / deff, n / deff,
                                                                                       alpha_check)
    needs_n = planned_n = None
    if config.rule == NON_INFERIORITY and 0.0 < config.max_drop < 1.0:
        if best_case_upper(n / deff, alpha_check) >= config.max_drop:
            needs_n = math.ceil(n_to_pass_at_all(config.max_drop, alpha_check) * deff)
        setting = PlanSetting(config.max_drop, 0.0, alpha_check, PLANNED_POWER)
        planned_n = math.ceil(binary_n((b + c) / n, setting) * deff)
    return GateCheck(key, metric, n, float(base.mean()), float(cand.mean()), (b - c) / n, lower, upper, alpha_check,
                     f"tango-score, Rao-Scott (G={groups}, deff={deff:.2f})", fails(config, lower, upper), b, c,
                     needs_n, planned_n, n / deff)
