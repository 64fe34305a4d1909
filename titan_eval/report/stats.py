"""Statistics for comparing runs on the same documents.

Intervals (all 95% by default, `alpha=0.05`):
    one run, 0/1 metric       Wilson score interval for the proportion (statsmodels `proportion_confint`)
    one run, other metric     normal interval  mean ± z·s/√n  (s with ddof=1; z = Φ⁻¹(1 − α/2))
    paired delta, 0/1 metric  normal interval for the mean paired difference  d̄ ± z·s_d/√n
    paired delta, other       percentile interval of the seeded paired bootstrap of d̄
    clustered keys            cluster-robust (CR1) Wald intervals and tests: `titan_eval.report.clustered`
Tests (two-sided):
    0/1 metric                exact McNemar: the discordant pairs are Binomial(b + c, ½) under H0; p from
                              `scipy.stats.binomtest`
    other metric              seeded paired bootstrap: p = 2·min(P*(d̄* ≤ 0), P*(d̄* ≥ 0)) with the +1 correction,
                              so p < α exactly when the percentile interval excludes 0
Multiplicity: Holm step-down adjustment (statsmodels `multipletests(method="holm")`).
Minimum detectable effect of a paired delta (two-sided test at α, power 1 − β, normal approximation; Miller 2024,
arXiv:2411.00640, §"Power analysis"; Connor 1987, Biometrics 43:207–211, for paired proportions):
    MDE = (z_{1−α/2} + z_{1−β}) · s_d/√n = (z_{1−α/2} + z_{1−β}) · SE(d̄)
    with s_d the SD of the paired differences, ddof 1 (the SE the delta's normal interval uses); for 0/1 metrics
    s_d² = n/(n−1) · (ψ − Δ²), ψ the discordance rate (b + c)/n and Δ = (c − b)/n (Connor's ψ − Δ² with the
    ddof-1 factor); on a clustered key SE(d̄) is the cluster-robust SE, i.e. s_d = SE_CR1·√n.

Glossary:
    base, cand   per-document values of the baseline and the candidate, aligned on shared doc_ids, shape [n]
    d            cand − base per document, shape [n];  d̄ = Δ, the candidate's change
    b ("losses") documents right in the baseline and wrong in the candidate (0/1 metrics)
    c ("gains")  documents wrong in the baseline and right in the candidate
    B            bootstrap resamples (`n_resamples`)
"""

from __future__ import annotations

import math
from statistics import NormalDist
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from titan_eval.errors import UsageError

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
DEFAULT_POWER = 0.8
_BOOTSTRAP_CELLS = 2_000_000  # resample-matrix entries drawn per chunk (bounds memory for large n)


@dataclass(frozen=True)
class Estimate:
    """A metric's mean over n documents with its confidence interval (`method`: "wilson" or "normal")."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    se: float | None = None
    """Standard error of the mean when the interval rests on one (set for "cluster-normal")."""
    clusters: int | None = None
    """G, the number of clusters, for a cluster-robust interval (None: documents independent)."""


@dataclass(frozen=True)
class PairedTest:
    """Candidate − baseline over n paired documents.

    `test` is "mcnemar-exact", "paired-bootstrap" or "cluster-wald"; `losses`/`gains` are b/c for 0/1 metrics
    (None otherwise); `se` is SE(d̄) (s_d/√n with ddof 1, or the cluster-robust SE), the basis of the MDE;
    `clusters` is G for a cluster-robust test.
    """

    n: int
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    test: str
    losses: int | None = None
    gains: int | None = None
    se: float | None = None
    clusters: int | None = None


def is_binary(values: np.ndarray) -> bool:
    """True when every value is 0 or 1 (an accuracy-type metric). values: [n]."""
    return bool(np.all((values == 0.0) | (values == 1.0)))


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie in (0, 1), got {alpha}")


def _z(alpha: float) -> float:
    """z = Φ⁻¹(1 − α/2), the two-sided normal critical value."""
    _check_alpha(alpha)
    return NormalDist().inv_cdf(1.0 - alpha / 2.0)


def wilson_interval(successes: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for `successes` of `n` (n ≥ 1), closed form (Wilson 1927; the interval
    statsmodels' `proportion_confint(method="wilson")` gives): with p̂ = k/n and z = Φ⁻¹(1 − α/2),
    (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n), clipped to [0, 1]."""
    z = _z(alpha)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(values: np.ndarray, alpha: float = 0.05) -> Estimate:
    """Mean and CI of one run's per-document values [n]: Wilson for 0/1 values, normal otherwise (n ≥ 1)."""
    values = np.asarray(values, dtype=np.float64)
    n = int(values.size)
    if n == 0:
        raise UsageError("an estimate needs at least one document")
    mean = float(values.mean())
    if is_binary(values):
        low, high = wilson_interval(int(values.sum()), n, alpha)
        return Estimate(mean, low, high, n, "wilson")
    if n < 2:
        return Estimate(mean, math.nan, math.nan, n, "normal")
    half = _z(alpha) * float(values.std(ddof=1)) / math.sqrt(n)
    return Estimate(mean, mean - half, mean + half, n, "normal")


def mcnemar_exact(losses: int, gains: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts b (losses) and c (gains); 1.0 when b + c = 0."""
    if losses < 0 or gains < 0:
        raise UsageError("discordant counts must be non-negative")
    if losses + gains == 0:
        return 1.0
    from scipy.special import bdtr  # scipy.special: a tenth of scipy.stats' import time

    # Binomial(b + c, ½) is symmetric: the two-sided exact p is twice the lower tail at min(b, c), at most 1
    # (equal to scipy.stats.binomtest's two-sided p and statsmodels' exact McNemar: test_report_stats).
    return float(min(1.0, 2.0 * bdtr(min(losses, gains), losses + gains, 0.5)))


def mcnemar_losses_gains(d: np.ndarray) -> tuple[int, int]:
    """(b, c): the documents a 0/1 candidate lost (d = −1) and gained (d = +1); d [n] = cand − base."""
    return int(np.count_nonzero(d < 0)), int(np.count_nonzero(d > 0))


def paired_se(d: np.ndarray) -> float:
    """SE(d̄) = s_d/√n with s_d the SD of the paired differences d [n] (ddof 1); nan when n < 2."""
    d = np.asarray(d, dtype=np.float64)
    if d.size < 2:
        return math.nan
    return float(d.std(ddof=1)) / math.sqrt(d.size)


def minimum_detectable_effect(se: float | None, alpha: float = 0.05, power: float = DEFAULT_POWER) -> float:
    """MDE = (z_{1−α/2} + z_{power}) · SE: the smallest true |Δ| a two-sided level-α test with this standard error
    detects with probability `power` (normal approximation). nan when the SE is unknown (None or nan) or 0: paired
    differences that never vary (no discordant documents) give a plug-in SE of 0, which says nothing about the
    effects the documents could detect."""
    if not 0.0 < power < 1.0:
        raise UsageError(f"power must lie in (0, 1), got {power}")
    z_alpha = _z(alpha)
    if se is None or math.isnan(se) or se == 0.0:
        return math.nan
    return (z_alpha + NormalDist().inv_cdf(power)) * se


def _normal_delta_ci(d: np.ndarray, alpha: float) -> tuple[float, float]:
    """d̄ ± z·s_d/√n for paired differences d [n] (nan when n < 2)."""
    if d.size < 2:
        return math.nan, math.nan
    mean, half = float(d.mean()), _z(alpha) * float(d.std(ddof=1)) / math.sqrt(d.size)
    return mean - half, mean + half


def bootstrap_means(d: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of B resamples (with replacement) of the paired differences d [n] → [B], from `default_rng(seed)`."""
    if n_resamples < 1:
        raise UsageError(f"n_resamples must be at least 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    n = d.size
    out = np.empty(n_resamples, dtype=np.float64)
    chunk = max(1, _BOOTSTRAP_CELLS // n)
    for start in range(0, n_resamples, chunk):
        rows = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(rows, n))  # [rows, n] document indices
        out[start : start + rows] = d[idx].mean(axis=1)
    return out


def paired_bootstrap(
    d: np.ndarray, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Percentile CI and two-sided p for the mean of paired differences d [n]: (ci_low, ci_high, p).

    With fewer than 2 documents nothing can be tested: (nan, nan, 1.0).
    """
    if d.size < 2:
        return math.nan, math.nan, 1.0
    _check_alpha(alpha)
    means = bootstrap_means(d, n_resamples, seed)
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    below = (np.count_nonzero(means <= 0.0) + 1) / (n_resamples + 1)
    above = (np.count_nonzero(means >= 0.0) + 1) / (n_resamples + 1)
    return float(low), float(high), float(min(1.0, 2.0 * min(below, above)))


def paired_test(
    base: np.ndarray,
    cand: np.ndarray,
    *,
    alpha: float = 0.05,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> PairedTest:
    """Compare aligned per-document values base [n] and cand [n]: exact McNemar when both are 0/1, else the seeded
    paired bootstrap."""
    base = np.asarray(base, dtype=np.float64)
    cand = np.asarray(cand, dtype=np.float64)
    if base.shape != cand.shape or base.ndim != 1 or base.size == 0:
        raise UsageError(f"paired values must be two non-empty vectors of equal length, got {base.shape} and "
                         f"{cand.shape}")
    d = cand - base
    delta = float(d.mean())
    se = paired_se(d)
    if is_binary(base) and is_binary(cand):
        losses, gains = mcnemar_losses_gains(d)
        low, high = _normal_delta_ci(d, alpha)
        return PairedTest(base.size, delta, low, high, mcnemar_exact(losses, gains), "mcnemar-exact", losses, gains,
                          se=se)
    low, high, p = paired_bootstrap(d, n_resamples=n_resamples, seed=seed, alpha=alpha)
    return PairedTest(base.size, delta, low, high, p, "paired-bootstrap", se=se)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order (empty in, empty out)."""
    if len(p_values) == 0:
        return []
    from statsmodels.stats.multitest import multipletests

    _, adjusted, _, _ = multipletests(np.asarray(p_values, dtype=np.float64), method="holm")
    return [float(p) for p in adjusted]
