"""Paired statistics checked against scipy/statsmodels computed independently (and a hand-written Holm)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from titan_eval.errors import UsageError
from titan_eval.report import stats


@pytest.mark.parametrize(("k", "n"), [(0, 10), (7, 10), (60, 100), (100, 100), (1234, 2376)])
def test_binary_estimate_is_wilson(k: int, n: int) -> None:
    values = np.array([1.0] * k + [0.0] * (n - k))
    est = stats.estimate(values)
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert est.method == "wilson" and est.n == n
    assert est.value == pytest.approx(k / n)
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize("alpha", [0.01, 0.1, 0.32])
def test_closed_form_wilson_matches_statsmodels_at_other_levels(alpha: float) -> None:
    for k, n in [(0, 1), (1, 1), (3, 17), (199, 200)]:
        expected = proportion_confint(k, n, alpha=alpha, method="wilson")
        assert stats.wilson_interval(k, n, alpha) == pytest.approx(expected, abs=1e-12)


def test_continuous_estimate_is_normal_interval() -> None:
    values = np.random.default_rng(3).normal(-2.0, 1.5, size=250)
    est = stats.estimate(values, alpha=0.1)
    low, high = DescrStatsW(values).zconfint_mean(alpha=0.1)
    assert est.method == "normal"
    assert (est.ci_low, est.ci_high) == pytest.approx((low, high), abs=1e-12)


@pytest.mark.parametrize(("b", "c"), [(0, 0), (15, 0), (8, 7), (3, 0), (0, 9), (40, 22), (6, 6)])
def test_mcnemar_matches_statsmodels_and_binomtest(b: int, c: int) -> None:
    p = stats.mcnemar_exact(b, c)
    table = [[30, b], [c, 25]]  # rows: baseline right/wrong; cols: candidate right/wrong
    assert p == pytest.approx(mcnemar(table, exact=True).pvalue, abs=1e-12)
    if b + c:
        assert p == pytest.approx(sps.binomtest(b, b + c, 0.5).pvalue, abs=1e-12)


def test_paired_binary_uses_mcnemar_and_normal_delta_interval() -> None:
    rng = np.random.default_rng(0)
    base = (rng.random(300) < 0.6).astype(float)
    cand = np.where(rng.random(300) < 0.15, 1.0 - base, base)
    t = stats.paired_test(base, cand)
    b = int(np.sum((base == 1) & (cand == 0)))
    c = int(np.sum((base == 0) & (cand == 1)))
    assert t.test == "mcnemar-exact" and (t.losses, t.gains) == (b, c) and t.n == 300
    assert t.delta == pytest.approx((c - b) / 300)
    assert t.p_value == pytest.approx(mcnemar([[0, b], [c, 0]], exact=True).pvalue, abs=1e-12)
    low, high = DescrStatsW(cand - base).zconfint_mean(alpha=0.05)
    assert (t.ci_low, t.ci_high) == pytest.approx((low, high), abs=1e-12)


def test_bootstrap_agrees_with_scipy_bootstrap_and_paired_t() -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(0.0, 1.0, size=400)
    cand = base + rng.normal(0.12, 0.8, size=400)
    t = stats.paired_test(base, cand, n_resamples=20_000, seed=5)
    d = cand - base
    ref = sps.bootstrap((d,), np.mean, method="percentile", n_resamples=20_000, rng=np.random.default_rng(99))
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert t.test == "paired-bootstrap" and t.losses is None
    assert t.delta == pytest.approx(d.mean())
    assert t.ci_low == pytest.approx(ref.confidence_interval.low, abs=0.03 * width)
    assert t.ci_high == pytest.approx(ref.confidence_interval.high, abs=0.03 * width)
    p_t = sps.ttest_rel(cand, base).pvalue
    assert t.p_value == pytest.approx(p_t, rel=0.2)


def test_bootstrap_is_seeded_and_consistent_with_its_interval() -> None:
    rng = np.random.default_rng(2)
    for shift in (0.0, 0.05, 0.1, 0.2):
        base = rng.normal(size=150)
        cand = base + rng.normal(shift, 0.6, size=150)
        a = stats.paired_test(base, cand, seed=11)
        assert a == stats.paired_test(base, cand, seed=11)
        assert a != stats.paired_test(base, cand, seed=12)
        excludes_zero = a.ci_low > 0 or a.ci_high < 0
        assert (a.p_value < 0.05) == excludes_zero


def _holm_by_hand(p: list[float]) -> list[float]:
    order = sorted(range(len(p)), key=lambda i: p[i])
    out, running = [0.0] * len(p), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out


def test_holm_step_down() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    assert stats.holm(p) == pytest.approx(_holm_by_hand(p))
    assert stats.holm([]) == []


def test_tiny_and_invalid_inputs() -> None:
    assert stats.paired_test(np.array([0.3]), np.array([0.5])).p_value == 1.0
    assert np.isnan(stats.estimate(np.array([0.3])).ci_low)
    assert stats.is_binary(np.array([0.0, 1.0, 1.0])) and not stats.is_binary(np.array([0.0, 0.5]))
    with pytest.raises(UsageError):
        stats.paired_test(np.zeros(3), np.zeros(4))
    with pytest.raises(UsageError):
        stats.estimate(np.ones(5) * 0.3, alpha=1.5)
    with pytest.raises(UsageError):
        stats.estimate(np.array([]))


def test_relative_change_is_the_ratio_of_means_with_a_seeded_paired_interval() -> None:
    from titan_eval.report.relative import relative_change

    rng = np.random.default_rng(3)
    base = (rng.random(400) < 0.05).astype(float)
    cand = np.maximum(base, (rng.random(400) < 0.06).astype(float))  # roughly 5% -> 10%: about +100%
    rel = relative_change(base, cand, n_resamples=2000, seed=1)
    assert rel.value == pytest.approx(cand.mean() / base.mean() - 1)
    assert rel.ci_low < rel.value < rel.ci_high
    assert relative_change(base, cand, n_resamples=2000, seed=1) == rel  # seeded
    same = relative_change(base, base, n_resamples=500, seed=0)
    assert same.value == 0.0 and same.ci_low == same.ci_high == 0.0  # identical runs: every resample gives 0
    zero = relative_change(np.zeros(10), np.ones(10))
    assert np.isnan(zero.value)
