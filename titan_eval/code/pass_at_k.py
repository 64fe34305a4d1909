"""The unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code", eq. 1).

Glossary:
    n   samples drawn for one problem (n >= 1)
    c   how many of them are correct (0 <= c <= n)
    k   the budget the metric is reported at (1 <= k <= n)

pass@k of one problem is the probability that a k-subset drawn without replacement from the n samples holds at least
one correct sample: 1 - C(n-c, k) / C(n, k). Written as a product, 1 - prod_{i=n-c+1}^{n} (1 - k/i), it needs no big
binomials and stays exact in floating point for any n. The task's figure is the mean over problems.
"""

from __future__ import annotations

from typing import Sequence

from titan_eval.errors import UsageError


def pass_at_k(n: int, c: int, k: int) -> float:
    """pass@k of one problem with `c` correct among `n` samples (a float in [0, 1]). UsageError for k > n, k < 1,
    n < 1 or c outside [0, n]."""
    if n < 1 or not 0 <= c <= n:
        raise UsageError(f"pass@k needs n >= 1 samples and 0 <= c <= n correct (got n={n}, c={c})")
    if not 1 <= k <= n:
        raise UsageError(f"pass@{k} needs 1 <= k <= n (n={n} samples per problem)")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k) / C(n, k) = prod over the c largest i of (1 - k/i)
        product *= 1.0 - k / i
    return 1.0 - product


def pass_at_k_per_problem(correct: Sequence[Sequence[bool]], k: int) -> list[float]:
    """pass@k of each problem from its samples' verdicts (`correct[p]`: one bool per sample of problem p)."""
    return [pass_at_k(len(v), sum(bool(x) for x in v), k) for v in correct]


def mean_pass_at_k(correct: Sequence[Sequence[bool]], k: int) -> float:
    """The task's pass@k: the mean over problems of `pass_at_k_per_problem` (problems may have different n)."""
    values = pass_at_k_per_problem(correct, k)
    if not values:
        raise UsageError("pass@k over no problems")
    return sum(values) / len(values)
