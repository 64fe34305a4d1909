"""The gate on a key whose task declares a cluster key: bounds from design-effect-deflated counts (0/1 metrics) or
the cluster-robust Wald bound (other metrics), checked against statsmodels' cluster-robust SE; wider than the
unclustered bound when documents of a cluster agree; unchanged when every document is its own cluster."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from report_helpers import write_run
from scipy import stats as sps

from titan_eval.report import GateConfig, evaluate_gate, load_run
from titan_eval.report.paired_bounds import tango_upper


def _declare_clusters(directory: Path, key: str, labels: list[str]) -> Path:
    """Make `key` of a written run declare the cluster key `source_id`, each samples line carrying its label."""
    raw = json.loads((directory / "run.json").read_text())
    raw["titan_eval"]["tasks"][key]["cluster_key"] = "source_id"
    (directory / "run.json").write_text(json.dumps(raw))
    lines = [json.loads(x) for x in (directory / "samples.jsonl").read_text().splitlines()]
    for line in lines:
        line["cluster"] = labels[line["doc_id"]]
    (directory / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return directory


def _cluster_se(x: np.ndarray, labels: list[str]) -> float:
    groups = np.unique(labels, return_inverse=True)[1]
    return float(sm.OLS(x, np.ones_like(x)).fit(cov_type="cluster", cov_kwds={"groups": groups}).bse[0])


def _runs(tmp_path: Path, base: list[float], cand: list[float], labels: list[str] | None,
          metric: str = "acc") -> tuple:
    a = write_run(tmp_path / "a", {"hellaswag": {metric: base}})
    b = write_run(tmp_path / "b", {"hellaswag": {metric: cand}})
    if labels is not None:
        _declare_clusters(a, "hellaswag", labels)
        _declare_clusters(b, "hellaswag", labels)
    return load_run(a), load_run(b)


def test_agreeing_clusters_widen_the_bound_by_the_design_effect(tmp_path: Path) -> None:
    """400 documents in 100 clusters of 4 that succeed or fail together; the candidate loses 3 whole clusters and
    gains 1: b = 12, c = 4 of 400. Clustered, the evidence is that of ≈ 100 documents."""
    labels = [f"s{i // 4}" for i in range(400)]
    base = [1.0 if (i // 4) % 2 == 0 else 0.0 for i in range(400)]
    cand = list(base)
    for i in range(12):  # clusters 0, 2, 4 lost
        cand[(i // 4) * 8 + i % 4] = 0.0
    for i in range(4):  # cluster 1 gained
        cand[4 + i] = 1.0
    config = GateConfig(metrics=("acc",), max_drop=0.05)
    clustered = evaluate_gate(*_runs(tmp_path / "c", base, cand, labels), config).checks[0]
    plain = evaluate_gate(*_runs(tmp_path / "p", base, cand, None), config).checks[0]
    drops = np.array(base) - np.array(cand)
    deff = (_cluster_se(drops, labels) / sps.sem(drops, ddof=1)) ** 2
    assert (clustered.losses, clustered.gains) == (12, 4) and deff > 3
    assert clustered.n_effective == pytest.approx(400 / deff, rel=1e-10)
    assert clustered.upper == pytest.approx(tango_upper(12 / deff, 4 / deff, 400 / deff, 0.05), rel=1e-10)
    assert plain.upper == tango_upper(12, 4, 400, 0.05) < clustered.upper
    assert not plain.failed and clustered.failed  # U 0.039 vs 0.064 (deff 4.03) against a 0.05 margin
    assert "Rao-Scott (G=100" in clustered.method


def test_identical_clustered_runs_count_each_cluster_once(tmp_path: Path) -> None:
    """No changed document: the design effect cannot be estimated, so n_effective = G = 100, whose best bound
    z²/(G + z²) = 0.026 passes a 0.03 margin and cannot pass 0.02 (the note names the effective n)."""
    labels = [f"s{i // 4}" for i in range(400)]
    acc = [float(i % 3 == 0) for i in range(400)]
    runs = _runs(tmp_path, acc, acc, labels)
    z = float(sps.norm.ppf(0.95))
    loose = evaluate_gate(*runs, GateConfig(metrics=("acc",), max_drop=0.03))
    assert loose.passed and loose.checks[0].upper == pytest.approx(z * z / (100 + z * z), rel=1e-9)
    tight = evaluate_gate(*runs, GateConfig(metrics=("acc",), max_drop=0.02))
    assert not tight.passed and "(effective n 100.0: clustered documents)" in tight.to_markdown()


def test_singleton_clusters_give_the_unclustered_check(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    base = list((rng.random(300) < 0.6).astype(float))
    cand = list(base)
    for i in range(0, 30, 3):
        cand[i] = 1.0 - cand[i]
    labels = [f"d{i}" for i in range(300)]
    clustered = evaluate_gate(*_runs(tmp_path / "c", base, cand, labels), GateConfig(metrics=("acc",))).checks[0]
    plain = evaluate_gate(*_runs(tmp_path / "p", base, cand, None), GateConfig(metrics=("acc",))).checks[0]
    assert clustered == plain and clustered.method == "tango-score"


def test_continuous_metric_uses_the_cluster_robust_wald_bound(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    labels = [f"s{i // 5}" for i in range(200)]
    shared = np.repeat(rng.normal(0, 0.3, 40), 5)
    base = rng.normal(1.0, 0.2, 200)
    cand = base - 0.02 + shared
    check = evaluate_gate(*_runs(tmp_path, list(base), list(cand), labels, metric="score"),
                          GateConfig(metrics=("score",), max_drop=0.1)).checks[0]
    drops = base - cand
    se = _cluster_se(drops, labels)
    z = float(sps.norm.ppf(0.95))
    assert check.method == "cluster-wald (G=40)"
    assert check.upper == pytest.approx(drops.mean() + z * se, rel=1e-10)
    assert check.lower == pytest.approx(drops.mean() - z * se, rel=1e-10)
