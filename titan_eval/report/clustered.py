"""Cluster-robust standard errors for evaluations whose documents are not independent.

Several HellaSwag contexts come from one ActivityNet video or WikiHow article; a paraphrase and its original in
reasoning85 are one question asked twice. Such documents succeed or fail together, so the naive standard error
s/√n, which counts every document as independent evidence, is too small. Miller (2024), "Adding Error Bars to
Evals: A Statistical Approach to Language Model Evaluations" (arXiv:2411.00640), §"Clustered standard errors",
recommends the cluster-robust (Liang–Zeger) standard error; a task declares the per-document field its clusters
come from (its *cluster key*, docs/gates.md "Clustered standard errors").

Formula (CR1, the small-sample correction statsmodels applies by default): for values x [N] in G clusters, with
residuals e_i = x_i − x̄ and cluster sums S_g = Σ_{i∈g} e_i,

    SE²(x̄) = G/(G−1) · (N−1)/(N−K) · Σ_g S_g² / N²        (K = 1 parameter, the mean, so (N−1)/(N−K) = 1)

which is exactly `statsmodels.api.OLS(x, ones).fit(cov_type="cluster", cov_kwds={"groups": g}).bse[0]`. With every
document its own cluster (G = N) it reduces to the naive s/√n (ddof 1). With K traces per document and the document
as cluster it equals the naive SE of the per-document means (what `acc_trace_mean` reports).

Paired deltas on a clustered key: the same SE over the per-document differences d = cand − base, with a normal
(Wald) interval d̄ ± z·SE and test z = d̄/SE. For 0/1 metrics this is the cluster-adjusted McNemar test in effect:
Obuchowski (1998, "On the comparison of correlated proportions for clustered data", Statistics in Medicine
17:1495–1507) divides the difference of the two proportions by a between-cluster variance of this form; Durkalski
et al. (2003, "Analysis of clustered matched-pair data", Statistics in Medicine 22:2417–2428) use the variance under
H0, Σ_g (b_g − c_g)² uncentred, which differs from ours only by the centring and G/(G−1).

Policy (`robust_estimate`, `robust_paired_test`, used by compare and the run table): a key with clusters uses the
functions here; where every document is its own cluster (G = N) nothing is clustered and `titan_eval.report.stats`'
methods apply (Wilson, exact McNemar, paired bootstrap). The z interval leans on G being large; with few clusters
(say G < 30) it is too narrow (Cameron & Miller 2015, "A practitioner's guide to cluster-robust inference").

Glossary:
    x, d       per-document values / paired differences, shape [N]
    clusters   per-document cluster labels, shape [N] (any hashable; equal labels = one cluster)
    G          number of distinct clusters
Which clusters a stored run's documents are in: `titan_eval.report.run_clusters`.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Hashable, Sequence

import numpy as np

from titan_eval.errors import UsageError
from titan_eval.report.stats import (DEFAULT_RESAMPLES, DEFAULT_SEED, Estimate, PairedTest, estimate, is_binary,
                                     mcnemar_losses_gains, paired_test, wilson_interval)

CLUSTER_METHOD = "cluster-normal"
"""`Estimate.method` of a mean whose interval uses the cluster-robust SE."""
CLUSTER_WILSON = "cluster-wilson"
"""`Estimate.method` of a 0/1 mean whose documents all agree: Wilson's interval over the G clusters."""
CLUSTER_TEST = "cluster-wald"
"""`PairedTest.test` of a delta tested with the cluster-robust SE."""


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie in (0, 1), got {alpha}")
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def _cluster_index(clusters: Sequence[Hashable], n: int) -> tuple[np.ndarray, int]:
    """Integer cluster ids [n] (0..G−1, in order of first appearance) and G."""
    if len(clusters) != n:
        raise UsageError(f"got {len(clusters)} cluster labels for {n} values")
    ids: dict[Hashable, int] = {}
    index = np.fromiter((ids.setdefault(c, len(ids)) for c in clusters), dtype=np.int64, count=n)
    return index, len(ids)


def clustered_mean_se(values: np.ndarray | Sequence[float], clusters: Sequence[Hashable]) -> tuple[float, float, int]:
    """(mean, CR1 cluster-robust SE of the mean, G) of `values` [N] in the clusters `clusters` [N] (module
    docstring). The SE is nan when G < 2 (no between-cluster variation can be seen). UsageError on empty input or
    mismatched lengths."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise UsageError(f"clustered_mean_se needs a non-empty vector of values, got shape {x.shape}")
    index, g = _cluster_index(clusters, x.size)
    mean = float(x.mean())
    if g < 2:
        return mean, math.nan, g
    sums = np.bincount(index, weights=x - mean, minlength=g)  # S_g, [G]
    n = x.size
    variance = g / (g - 1) * float(np.dot(sums, sums)) / (n * n)
    return mean, math.sqrt(variance), g


def clustered_estimate(values: np.ndarray | Sequence[float], clusters: Sequence[Hashable],
                       alpha: float = 0.05) -> Estimate:
    """One run's mean with the Wald interval mean ± z·SE_CR1 (`method` "cluster-normal"; `se` and `clusters` = G
    set), clipped to [0, 1] for 0/1 values.

    0/1 values that all agree (mean 0 or 1) have SE 0, and a Wald interval of width 0 would claim certainty; their
    interval is then Wilson's with the G clusters as the sample size (`method` "cluster-wilson": each cluster
    counted once, the effective size of perfectly correlated clusters, since no design effect can be estimated
    from data without variation)."""
    x = np.asarray(values, dtype=np.float64)
    mean, se, g = clustered_mean_se(x, clusters)
    binary = is_binary(x)
    if binary and mean in (0.0, 1.0):
        low, high = wilson_interval(int(mean) * g, g, alpha)
        return Estimate(mean, low, high, x.size, CLUSTER_WILSON, se=se, clusters=g)
    half = _z(alpha) * se
    low, high = mean - half, mean + half
    if binary:
        low, high = max(0.0, low), min(1.0, high)
    return Estimate(mean, low, high, x.size, CLUSTER_METHOD, se=se, clusters=g)


def clustered_paired_test(base: np.ndarray | Sequence[float], cand: np.ndarray | Sequence[float],
                          clusters: Sequence[Hashable], alpha: float = 0.05) -> PairedTest:
    """Candidate − baseline on aligned documents base [N], cand [N] with cluster labels [N]: d̄ ± z·SE_CR1(d) and
    the two-sided Wald p = 2·(1 − Φ(|d̄|/SE)). `losses`/`gains` are counted for 0/1 metrics, as for McNemar.

    Degenerate cases: G < 2 → interval nan and p = 1 (nothing can be tested); SE = 0 with d̄ ≠ 0 (every cluster
    moved by the same amount) → p of the exact sign test over the G clusters, 2·½^G, since a Wald p of 0 would
    claim more than G clusters can show."""
    b = np.asarray(base, dtype=np.float64)
    c = np.asarray(cand, dtype=np.float64)
    if b.shape != c.shape or b.ndim != 1 or b.size == 0:
        raise UsageError(f"paired values must be two non-empty vectors of equal length, got {b.shape} and {c.shape}")
    d = c - b
    delta, se, g = clustered_mean_se(d, clusters)
    losses = gains = None
    if is_binary(b) and is_binary(c):
        losses, gains = mcnemar_losses_gains(d)
    if math.isnan(se):
        return PairedTest(b.size, delta, math.nan, math.nan, 1.0, CLUSTER_TEST, losses, gains, se=se, clusters=g)
    half = _z(alpha) * se
    if se == 0.0:
        p = 1.0 if delta == 0.0 else min(1.0, 2.0 * 0.5 ** g)
    else:
        p = 2.0 * (1.0 - NormalDist().cdf(abs(delta) / se))
    return PairedTest(b.size, delta, delta - half, delta + half, p, CLUSTER_TEST, losses, gains, se=se, clusters=g)


def all_singletons(clusters: Sequence[Hashable]) -> bool:
    """True when every document is its own cluster (G = N): the documents are independent as far as the cluster key
    says, and the independent-document methods apply (CR1 then equals s/√n anyway)."""
    return len(set(clusters)) == len(clusters)


def robust_estimate(values: np.ndarray | Sequence[float], clusters: Sequence[Hashable] | None,
                    alpha: float = 0.05) -> Estimate:
    """The interval `compare` and the run table give one run's values [N]: `clustered_estimate` when `clusters` [N]
    group some documents together, else `stats.estimate` (Wilson for 0/1 values, normal otherwise)."""
    if clusters is None or all_singletons(clusters):
        return estimate(np.asarray(values, dtype=np.float64), alpha)
    return clustered_estimate(values, clusters, alpha)


def robust_paired_test(base: np.ndarray | Sequence[float], cand: np.ndarray | Sequence[float],
                       clusters: Sequence[Hashable] | None, *, alpha: float = 0.05,
                       n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> PairedTest:
    """The paired test `compare` uses (and the gate should): `clustered_paired_test` when `clusters` [N] group some
    documents together, else `stats.paired_test` (exact McNemar for 0/1 values, seeded paired bootstrap
    otherwise)."""
    if clusters is None or all_singletons(clusters):
        return paired_test(np.asarray(base, dtype=np.float64), np.asarray(cand, dtype=np.float64), alpha=alpha,
                           n_resamples=n_resamples, seed=seed)
    return clustered_paired_test(base, cand, clusters, alpha)
