"""One-sided confidence bounds for the paired drop of a metric, the quantity the gate decides on.

Orientation: drop θ = baseline − candidate (so a regression is θ > 0). For a 0/1 metric over n paired documents,
b ("losses") documents are right in the baseline and wrong in the candidate, c ("gains") the reverse, and
θ = p_b − p_c with point estimate θ̂ = (b − c)/n.

0/1 metrics: Tango's score bound (Tango 1998, "Equivalence test and confidence interval for the difference in
proportions for the paired-sample design", Stat Med 17:891–908; recommended by Newcombe 1998 and Fagerland,
Lydersen & Laake 2013/2014 for its calibration at small n). For a hypothesised θ₀ the score statistic is

    Z(θ₀) = (b − c − nθ₀) / √(n · (2p̃_c + θ₀(1 − θ₀)))

with p̃_c the maximum-likelihood p_c under the constraint p_b − p_c = θ₀, the root in [max(0, −θ₀), (1 − θ₀)/2] of
2n·p² − W·p − c·θ₀(1 − θ₀) = 0, W = (b + c) − θ₀(2n − b + c), i.e.

    p̃_c = (W + √(W² + 8n·c·θ₀(1 − θ₀))) / 4n.

The one-sided (1 − α) upper bound U is the θ₀ > θ̂ where Z(θ₀) = −z₁₋α (the largest drop not rejected); the lower
bound L the θ₀ < θ̂ where Z(θ₀) = z₁₋α. With no discordant documents (b = c = 0) U = z²/(n + z²), the smallest upper
bound n documents can give, which is what decides whether a gate can pass at all (`best_case_upper`).

Other metrics: the seeded paired bootstrap of the mean difference (`stats.bootstrap_means`), one-sided percentile
bounds; clustered keys (several items per cluster) use a Wald bound θ̂ ± z·SE with the cluster-robust SE.

Glossary:
    n      paired documents;  b, c  losses and gains;  θ  drop = baseline − candidate
    α      one-sided level of a bound (the gate passes α/m per check with m checks: Bonferroni)
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np

from titan_eval.errors import UsageError
from titan_eval.report.stats import bootstrap_means

_TOP = 1.0 - 1e-12  # θ₀ = ±1 makes the score variance 0; search just inside


def z_one_sided(alpha: float) -> float:
    """z₁₋α, the one-sided normal critical value."""
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"alpha must lie in (0, 1), got {alpha}")
    return NormalDist().inv_cdf(1.0 - alpha)


def restricted_gain_rate(losses: float, gains: float, n: float, theta: float) -> float:
    """p̃_c: the maximum-likelihood gain rate under p_b − p_c = θ (module docstring). Counts may be expected
    counts (floats), as the sample-size formula uses them."""
    w = (losses + gains) - theta * (2.0 * n - losses + gains)
    return (w + math.sqrt(w * w + 8.0 * n * gains * theta * (1.0 - theta))) / (4.0 * n)


def tango_score(losses: int, gains: int, n: int, theta: float) -> float:
    """Z(θ₀) of the module docstring; ±inf when its variance vanishes."""
    p_c = restricted_gain_rate(losses, gains, n, theta)
    variance = n * max(0.0, 2.0 * p_c + theta * (1.0 - theta))
    numerator = losses - gains - n * theta
    if variance <= 0.0:
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def _check_counts(losses: int, gains: int, n: int) -> None:
    if n < 1 or losses < 0 or gains < 0 or losses + gains > n:
        raise UsageError(f"paired counts need n >= 1 and 0 <= losses + gains <= n, got b={losses}, c={gains}, n={n}")


def _solve(losses: int, gains: int, n: int, target: float, low: float, high: float) -> float:
    """The θ₀ in [low, high] where Z(θ₀) = target (Z falls with θ₀); an end when Z does not cross there."""
    from scipy.optimize import brentq

    f_low = tango_score(losses, gains, n, low) - target
    f_high = tango_score(losses, gains, n, high) - target
    if f_low <= 0.0:
        return low
    if f_high >= 0.0:
        return high
    return float(brentq(lambda t: tango_score(losses, gains, n, t) - target, low, high, xtol=1e-14, rtol=1e-14))


@lru_cache(maxsize=65536)
def tango_upper(losses: int, gains: int, n: int, alpha: float) -> float:
    """One-sided (1 − α) upper confidence bound U of the drop θ = p_b − p_c (module docstring)."""
    _check_counts(losses, gains, n)
    estimate = (losses - gains) / n
    return _solve(losses, gains, n, -z_one_sided(alpha), estimate, _TOP)


@lru_cache(maxsize=65536)
def tango_lower(losses: int, gains: int, n: int, alpha: float) -> float:
    """One-sided (1 − α) lower confidence bound L of the drop θ = p_b − p_c."""
    _check_counts(losses, gains, n)
    estimate = (losses - gains) / n
    return _solve(losses, gains, n, z_one_sided(alpha), -_TOP, estimate)


def best_case_upper(n: int, alpha: float) -> float:
    """The smallest upper bound n paired documents can give: b = c = 0, U = z²/(n + z²)."""
    z = z_one_sided(alpha)
    return z * z / (n + z * z)


def n_to_pass_at_all(margin: float, alpha: float) -> int:
    """The smallest n whose best-case upper bound is below `margin` (z²(1 − m)/m < n); margin in (0, 1)."""
    if not 0.0 < margin < 1.0:
        raise UsageError(f"a margin for a 0/1 metric must lie in (0, 1), got {margin}")
    z = z_one_sided(alpha)
    return math.floor(z * z * (1.0 - margin) / margin) + 1


def bootstrap_drop_bounds(drops: np.ndarray, alpha: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """One-sided (1 − α) percentile bounds (L, U) of the mean of per-document drops [n] (baseline − candidate, in the
    metric's better direction), from a seeded paired bootstrap. n < 2: (−inf, inf), nothing can be bounded."""
    if drops.size < 2:
        return -math.inf, math.inf
    means = bootstrap_means(np.asarray(drops, dtype=np.float64), n_resamples, seed)
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def wald_drop_bounds(drop: float, se: float, alpha: float) -> tuple[float, float]:
    """One-sided (1 − α) Wald bounds (L, U) = drop ∓ z₁₋α·se (clustered keys: se is the cluster-robust SE)."""
    if not math.isfinite(se):
        return -math.inf, math.inf
    z = z_one_sided(alpha)
    return drop - z * se, drop + z * se
