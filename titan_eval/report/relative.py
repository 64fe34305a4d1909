"""Relative change of a metric between two runs on the same documents: candidate mean / baseline mean − 1 (a 5% → 10%
accuracy is +100%), with a seeded paired-bootstrap percentile interval: documents are resampled with replacement,
the same draw for both runs, and the ratio of the two resampled means taken each time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from titan_eval.errors import UsageError

_CELLS = 2_000_000  # resample-matrix entries drawn per chunk (bounds memory for large n)


@dataclass(frozen=True)
class RelativeChange:
    """cand/base − 1 over n paired documents and its [low, high] interval (nan where the baseline mean is 0)."""

    value: float
    ci_low: float
    ci_high: float


def relative_change(base: np.ndarray, cand: np.ndarray, *, n_resamples: int = 10_000, seed: int = 0,
                    alpha: float = 0.05) -> RelativeChange:
    """Aligned per-document values base [n], cand [n] → `RelativeChange`; resamples whose baseline mean is 0 are
    left out of the interval (all of them: nan)."""
    if base.shape != cand.shape or base.ndim != 1:
        raise UsageError("relative change needs two aligned 1-D arrays of per-document values")
    if n_resamples < 1:
        raise UsageError(f"n_resamples must be at least 1, got {n_resamples}")
    n = base.size
    base_mean = float(base.mean()) if n else math.nan
    if n == 0 or base_mean == 0.0:
        return RelativeChange(math.nan, math.nan, math.nan)
    value = float(cand.mean()) / base_mean - 1.0
    if n < 2:
        return RelativeChange(value, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    ratios = []
    chunk = max(1, _CELLS // n)
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))  # [rows, n] document indices
        b, c = base[idx].mean(axis=1), cand[idx].mean(axis=1)
        keep = b != 0.0
        ratios.append(c[keep] / b[keep] - 1.0)
    draws = np.concatenate(ratios)
    if draws.size == 0:
        return RelativeChange(value, math.nan, math.nan)
    low, high = np.quantile(draws, [alpha / 2.0, 1.0 - alpha / 2.0])
    return RelativeChange(value, float(low), float(high))
