"""avg@K's standard error (`tasks.sampled_metrics.aggregate`) is the cluster-robust standard error of the mean of
all N·K per-sample values with each document as a cluster, as statsmodels computes it (OLS on a constant,
cov_type="cluster"), and wider than the naive error that treats the N·K samples as independent."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from titan_eval.tasks.sampled_metrics import aggregate


@pytest.mark.parametrize("seed, docs, k", [(0, 30, 4), (1, 12, 8), (2, 200, 2)])
def test_avg_at_k_stderr_is_statsmodels_cluster_robust_se(seed: int, docs: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    rates = rng.beta(0.7, 0.7, size=docs)  # documents differ a lot: samples of one document are correlated
    values = (rng.random((docs, k)) < rates[:, None]).astype(float)
    label = f"exact_match_avg@{k}"
    lines = [{"sampled": {"values": {label: float(row.mean())}}} for row in values]
    results, per_doc = aggregate(lines)
    flat, groups = values.ravel(), np.repeat(np.arange(docs), k)
    fit = sm.OLS(flat, np.ones_like(flat)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    assert results[f"{label},none"] == pytest.approx(float(fit.params[0]), abs=1e-12)
    assert results["exact_match_avg@" + str(k) + "_stderr,none"] == pytest.approx(float(fit.bse[0]), rel=1e-9)
    naive = flat.std(ddof=1) / np.sqrt(flat.size)
    assert results["exact_match_avg@" + str(k) + "_stderr,none"] > naive
    assert per_doc[label] == [float(row.mean()) for row in values]
