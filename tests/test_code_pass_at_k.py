"""pass@k (Chen et al. 2021) against brute-force enumeration of every k-subset of the n samples."""

from __future__ import annotations

import itertools
import math

import pytest

from titan_eval.code.pass_at_k import mean_pass_at_k, pass_at_k
from titan_eval.errors import UsageError


def brute_force(n: int, c: int, k: int) -> float:
    """The share of k-subsets of n samples (the first c correct) that hold a correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 10])
def test_pass_at_k_equals_enumeration(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_1_is_the_share_correct_and_large_n_stays_finite() -> None:
    assert pass_at_k(20, 7, 1) == pytest.approx(7 / 20)
    value = pass_at_k(2000, 3, 100)
    exact = 1 - math.comb(1997, 100) / math.comb(2000, 100)
    assert value == pytest.approx(exact, rel=1e-12)


def test_mean_over_problems_with_different_n() -> None:
    verdicts = [[True, False, False, True], [False], [True, True]]
    expected = (brute_force(4, 2, 1) + 0.0 + 1.0) / 3
    assert mean_pass_at_k(verdicts, 1) == pytest.approx(expected)


@pytest.mark.parametrize("n,c,k", [(3, 1, 4), (3, 1, 0), (0, 0, 1), (3, 4, 1), (3, -1, 1)])
def test_bad_arguments_are_refused(n: int, c: int, k: int) -> None:
    with pytest.raises(UsageError):
        pass_at_k(n, c, k)
