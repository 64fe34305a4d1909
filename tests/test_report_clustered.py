"""Cluster-robust standard errors (`titan_eval.report.clustered`) against statsmodels' cluster-robust OLS, their use
in `compare` and the run table for keys that declare a cluster key, and the minimum detectable effect by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import statsmodels.api as sm
from report_helpers import paired_acc, write_run
from scipy import stats as sps

from titan_eval.errors import DataError, UsageError
from titan_eval.records import RunRecord, TaskFingerprint, TaskResult
from titan_eval.report import CompareConfig, compare_runs, load_run
from titan_eval.report.clustered import (clustered_estimate, clustered_mean_se, clustered_paired_test,
                                         robust_estimate, robust_paired_test)
from titan_eval.report.run_clusters import cluster_key_of, shared_clusters
from titan_eval.report.stats import minimum_detectable_effect, paired_test
from titan_eval.summary import markdown_summary, summary_rows


def _statsmodels_fit(x: np.ndarray, groups: np.ndarray):  # noqa: ANN202 (statsmodels result)
    """statsmodels' cluster-robust fit of the mean (CR1 by default: use_correction=True, normal inference)."""
    return sm.OLS(x, np.ones_like(x)).fit(cov_type="cluster", cov_kwds={"groups": groups})


def _fixture(seed: int, n: int, g: int, binary: bool) -> tuple[np.ndarray, np.ndarray]:
    """Values with a shared per-cluster effect and clusters of unequal size."""
    rng = np.random.default_rng(seed)
    groups = np.sort(rng.integers(0, g, size=n))
    effect = rng.normal(0, 1, size=g)[groups]
    x = (effect + rng.normal(0, 1, size=n) > 0).astype(float) if binary else effect + rng.normal(0, 0.5, size=n)
    return x, groups


@pytest.mark.parametrize(("seed", "n", "g", "binary"), [(0, 200, 37, True), (1, 57, 9, False), (2, 500, 120, True)])
def test_clustered_se_equals_statsmodels_cluster_robust_se(seed: int, n: int, g: int, binary: bool) -> None:
    x, groups = _fixture(seed, n, g, binary)
    mean, se, clusters = clustered_mean_se(x, [f"c{k}" for k in groups])
    fit = _statsmodels_fit(x, groups)
    assert clusters == len(np.unique(groups))
    assert mean == pytest.approx(fit.params[0], abs=1e-12)
    assert se == pytest.approx(fit.bse[0], abs=1e-12)


def test_every_document_its_own_cluster_gives_the_naive_standard_error() -> None:
    x, _ = _fixture(3, 80, 10, False)
    _, se, g = clustered_mean_se(x, list(range(80)))
    assert g == 80 and se == pytest.approx(sps.sem(x, ddof=1), rel=1e-12)


def test_k_identical_traces_per_document_widen_the_se_by_about_sqrt_k() -> None:
    """K traces of one document that agree carry one document's evidence: treating the 4·50 trace values as
    independent understates the SE; clustering on the document gives the SE of the 50 per-document means."""
    rng = np.random.default_rng(4)
    per_doc = (rng.random(50) < 0.4).astype(float)
    k = 4
    traces = np.repeat(per_doc, k)  # [50·K], each document's K traces identical
    docs = np.repeat(np.arange(50), k)
    naive = sps.sem(traces, ddof=1)
    _, clustered, g = clustered_mean_se(traces, docs)
    assert g == 50 and clustered > 1.9 * naive
    assert clustered == pytest.approx(sps.sem(per_doc, ddof=1), rel=1e-12)
    assert clustered == pytest.approx(_statsmodels_fit(traces, docs).bse[0], abs=1e-12)


def test_trace_accuracy_stderr_is_the_trace_level_clustered_se() -> None:
    """`--samples K`: acc_trace_mean's stderr (SE of per-document means) equals the cluster-robust SE of the
    per-trace accuracies clustered on the document, also when traces of a document disagree."""
    from titan_eval.tasks.lm_eval_run import trace_accuracy

    rng = np.random.default_rng(5)
    lines, traces, docs = [], [], []
    for doc in range(30):
        table = {i: list(rng.normal(size=3)) for i in range(4)}  # choice → log-prob after each of 3 traces
        gold = int(rng.integers(0, 4))
        lines.append({"doc_id": doc, "gold": gold, "think": {"choice_logprobs": table}})
        for j in range(3):
            traces.append(float(int(np.argmax([table[i][j] for i in range(4)])) == gold))
            docs.append(doc)
    metrics, _ = trace_accuracy(lines)
    mean, se, _ = clustered_mean_se(np.array(traces), docs)
    assert metrics["acc_trace_mean,none"] == pytest.approx(mean, abs=1e-12)
    assert metrics["acc_trace_mean_stderr,none"] == pytest.approx(se, rel=1e-12)


def test_clustered_paired_test_is_statsmodels_wald_on_the_differences() -> None:
    base, groups = _fixture(6, 300, 60, True)
    rng = np.random.default_rng(7)
    cand = np.where(rng.random(300) < 0.15, 1.0 - base, base)
    test = clustered_paired_test(base, cand, list(groups))
    fit = _statsmodels_fit(cand - base, groups)
    low, high = fit.conf_int(alpha=0.05)[0]
    assert test.test == "cluster-wald" and test.n == 300 and test.clusters == len(np.unique(groups))
    assert test.delta == pytest.approx(fit.params[0], abs=1e-12) and test.se == pytest.approx(fit.bse[0], abs=1e-12)
    assert test.p_value == pytest.approx(fit.pvalues[0], rel=1e-9)
    assert (test.ci_low, test.ci_high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    assert test.losses == int(np.sum(cand < base)) and test.gains == int(np.sum(cand > base))


def test_clustered_degenerate_cases() -> None:
    one = clustered_paired_test([1.0, 0.0, 1.0], [0.0, 0.0, 1.0], ["a", "a", "a"])
    assert one.clusters == 1 and math.isnan(one.ci_low) and one.p_value == 1.0
    # every one of 5 clusters gains exactly one of its two documents: SE 0, so the sign test over clusters decides
    same = clustered_paired_test([0.0] * 10, [1.0, 0.0] * 5, [c for c in "abcde" for _ in range(2)])
    assert same.se == 0.0 and same.delta == 0.5 and same.p_value == pytest.approx(2 * 0.5 ** 5)
    none = clustered_paired_test([1.0, 0.0] * 3, [1.0, 0.0] * 3, list("aabbcc"))
    assert none.delta == 0.0 and none.p_value == 1.0
    with pytest.raises(UsageError):
        clustered_mean_se([1.0, 2.0], ["a"])
    with pytest.raises(UsageError):
        clustered_mean_se([], [])


def test_a_0_1_metric_whose_documents_all_agree_gets_wilson_over_the_clusters() -> None:
    est = clustered_estimate(np.zeros(65), [f"c{i // 3}" for i in range(65)])
    g = 22
    z = sps.norm.ppf(0.975)
    assert est.method == "cluster-wilson" and est.clusters == g and est.se == 0.0
    assert est.ci_low == 0.0 and est.ci_high == pytest.approx(z * z / (g + z * z), rel=1e-12)


def test_singleton_clusters_keep_the_independent_methods() -> None:
    base, cand = paired_acc(40, 20, losses=6, gains=1)
    labels = [str(i) for i in range(40)]
    assert robust_estimate(cand, labels).method == "wilson"
    assert robust_paired_test(base, cand, labels).test == "mcnemar-exact"
    assert robust_paired_test(base, cand, ["x", "y"] * 20).test == "cluster-wald"


def test_minimum_detectable_effect_by_hand() -> None:
    """n = 100, b = 10 losses, c = 4 gains: ψ = 0.14, Δ = −0.06, s_d² = 100/99 · (ψ − Δ²) = 0.137778,
    SE = √(s_d²/100) = 0.0371184, MDE = (1.959964 + 0.841621) · SE = 0.10399 (α = 0.05, power 0.8)."""
    base, cand = paired_acc(100, 50, losses=10, gains=4)
    test = paired_test(np.array(base), np.array(cand))
    assert test.se == pytest.approx(0.0371184, abs=1e-7)
    assert minimum_detectable_effect(test.se) == pytest.approx(0.10399, abs=1e-5)
    assert minimum_detectable_effect(test.se, alpha=0.05, power=0.9) == pytest.approx(
        (1.959964 + 1.281552) * 0.0371184, abs=1e-5)
    with pytest.raises(UsageError):
        minimum_detectable_effect(0.01, power=1.0)
    assert math.isnan(minimum_detectable_effect(None)) and math.isnan(minimum_detectable_effect(0.0))
    same = paired_test(np.array(base), np.array(base))  # no discordant documents: no SD to plan with
    assert same.se == 0.0 and math.isnan(minimum_detectable_effect(same.se))


def test_compare_prints_the_mde_of_each_delta(tmp_path: Path) -> None:
    base, cand = paired_acc(100, 50, losses=10, gains=4)
    a = load_run(write_run(tmp_path / "a", {"arc_easy": {"acc": base}}))
    b = load_run(write_run(tmp_path / "b", {"arc_easy": {"acc": cand}}))
    table = compare_runs([a, b])
    cell = table.rows[0].cells[1]
    assert cell.mde == pytest.approx(0.10399, abs=1e-5)
    record = [r for r in table.records() if r["column"] == "b"][0]
    assert record["mde"] == pytest.approx(0.10399, abs=1e-5) and record["delta_se"] == pytest.approx(0.0371184,
                                                                                                         abs=1e-7)
    text = table.to_markdown()
    assert "mde=0.1040" in text and "minimum detectable effect" in text and "Connor 1987" in text
    assert "Clusters" not in text and "G=" not in text


def _with_clusters(directory: Path, key: str, cluster_key: str, labels: list[str]) -> Path:
    """Turn a written run into one whose `key` declares `cluster_key`, with the labels on its samples lines (left
    out where a label equals str(doc_id), as the writer does)."""
    run_json = directory / "run.json"
    raw = json.loads(run_json.read_text())
    raw["titan_eval"]["tasks"][key]["cluster_key"] = cluster_key
    run_json.write_text(json.dumps(raw))
    lines = [json.loads(x) for x in (directory / "samples.jsonl").read_text().splitlines()]
    mine = iter(labels)
    for line in lines:
        if line["task"] == key:
            label = next(mine)
            if label != str(line["doc_id"]):
                line["cluster"] = label
    (directory / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    return directory


@pytest.fixture()
def clustered_pair(tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray, list[str]]:
    """hellaswag-like runs: 120 documents in 40 clusters of 3 whose documents tend to agree, plus an unclustered
    arc_easy key."""
    rng = np.random.default_rng(11)
    labels = [f"activitynet~v_{i // 3}" for i in range(120)]
    skill = np.repeat(rng.random(40) < 0.5, 3)
    base = np.where(rng.random(120) < 0.9, skill, ~skill).astype(float)
    cand = np.where(rng.random(120) < 0.2, np.repeat(rng.random(40) < 0.7, 3), base.astype(bool)).astype(float)
    arc_base, arc_cand = paired_acc(60, 30, losses=5, gains=2)
    a = write_run(tmp_path / "a", {"hellaswag": {"acc": list(base)}, "arc_easy": {"acc": arc_base}})
    b = write_run(tmp_path / "b", {"hellaswag": {"acc": list(cand)}, "arc_easy": {"acc": arc_cand}})
    return (_with_clusters(a, "hellaswag", "source_id", labels), _with_clusters(b, "hellaswag", "source_id", labels),
            base, cand, labels)


def test_a_stored_run_whose_key_declares_a_cluster_key_gets_clustered_intervals_in_compare(clustered_pair) -> None:
    a_dir, b_dir, base, cand, labels = clustered_pair
    a, b = load_run(a_dir), load_run(b_dir)
    assert cluster_key_of(a, "hellaswag") == "source_id" and cluster_key_of(a, "arc_easy") is None
    assert a.clusters("hellaswag") == dict(enumerate(labels)) and a.clusters("arc_easy") is None
    groups = np.repeat(np.arange(40), 3)
    table = compare_runs([a, b])
    rows = {r.key: r for r in table.rows}
    hs, arc = rows["hellaswag"], rows["arc_easy"]
    assert hs.cluster_key == "source_id" and arc.cluster_key is None
    est = hs.cells[0].estimate
    fit = _statsmodels_fit(base, groups)
    assert est.method == "cluster-normal" and est.clusters == 40
    assert est.se == pytest.approx(fit.bse[0], abs=1e-12)
    assert est.ci_low == pytest.approx(max(0.0, fit.conf_int()[0][0]), abs=1e-12)
    assert est.se > sps.sem(base, ddof=1)  # documents of one video agree: wider than the naive SE
    paired = hs.cells[1].paired
    d_fit = _statsmodels_fit(cand - base, groups)
    assert paired.test == "cluster-wald" and paired.p_value == pytest.approx(d_fit.pvalues[0], rel=1e-9)
    assert hs.cells[1].mde == pytest.approx((sps.norm.ppf(0.975) + sps.norm.ppf(0.8)) * d_fit.bse[0], rel=1e-9)
    assert arc.cells[0].estimate.method == "wilson" and arc.cells[1].paired.test == "mcnemar-exact"
    text = table.to_markdown()
    hs_line = next(x for x in text.splitlines() if x.startswith("| hellaswag"))
    arc_line = next(x for x in text.splitlines() if x.startswith("| arc_easy"))
    assert "source_id" in hs_line and "G=40" in hs_line and "G=" not in arc_line
    assert "Clusters" in text and "cluster-robust (CR1" in text and "Obuchowski 1998" in text
    rec = [r for r in json.loads(table.to_json())["rows"] if r["key"] == "hellaswag" and r["column"] == "b"][0]
    assert rec["ci_method"] == "cluster-normal" and rec["clusters"] == 40 and rec["cluster_key"] == "source_id"
    assert rec["test"] == "cluster-wald" and rec["delta_clusters"] == 40 and rec["mde"] > 0


def test_an_older_run_without_the_field_loads_and_borrows_the_clusters(clustered_pair, tmp_path: Path) -> None:
    a_dir, _, base, cand, _ = clustered_pair
    old = load_run(write_run(tmp_path / "old", {"hellaswag": {"acc": list(cand)}}))
    assert old.cluster_keys == {} and old.clusters("hellaswag") is None
    assert shared_clusters([old], "hellaswag") is None
    table = compare_runs([old, load_run(a_dir)])  # the old run is the baseline; the newer one supplies the clusters
    row = next(r for r in table.rows if r.key == "hellaswag")
    assert row.cluster_key == "source_id" and row.cells[0].estimate.clusters == 40
    assert row.cells[1].paired.test == "cluster-wald"


def test_cluster_by_clusters_any_key_on_a_per_sample_field(tmp_path: Path) -> None:
    base, cand = paired_acc(60, 30, losses=8, gains=2)
    cats = [f"cat{i % 6}" for i in range(60)]
    a = load_run(write_run(tmp_path / "a", {"reasoning85": {"strict": base}}, categories={"reasoning85": cats}))
    b = load_run(write_run(tmp_path / "b", {"reasoning85": {"strict": cand}}, categories={"reasoning85": cats}))
    row = compare_runs([a, b], config=CompareConfig(cluster_by="category")).rows[0]
    assert row.cluster_key == "category" and row.cells[1].paired.clusters == 6
    fit = _statsmodels_fit(np.array(cand) - np.array(base), np.array([i % 6 for i in range(60)]))
    assert row.cells[1].paired.se == pytest.approx(fit.bse[0], abs=1e-12)


def test_malformed_cluster_fields_are_data_errors(clustered_pair) -> None:
    a_dir = clustered_pair[0]
    raw = json.loads((a_dir / "run.json").read_text())
    raw["titan_eval"]["tasks"]["hellaswag"]["cluster_key"] = 7
    with pytest.raises(DataError, match="cluster_key must be a string"):
        RunRecord.from_json(raw)
    lines = (a_dir / "samples.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["cluster"] = 3
    (a_dir / "samples.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="samples.jsonl:1: .*'cluster' must be a string"):
        load_run(a_dir).clusters("hellaswag")


def _clustered_result(values: list[float], labels: list[str] | None) -> TaskResult:
    n = len(values)
    mean = sum(values) / n
    naive = float(sps.sem(values, ddof=1))
    return TaskResult(key="hellaswag", metrics={"alias": "hellaswag", "acc,none": mean, "acc_stderr,none": naive},
                      n=n, fingerprint=TaskFingerprint(task="hellaswag", mode="ll"), per_doc={"acc": values},
                      cluster_key="source_id" if labels is not None else None, clusters=labels)


def test_the_run_table_and_run_json_carry_the_clustered_se() -> None:
    values = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0] * 3
    labels = [f"v{i // 3}" for i in range(30)]
    record = RunRecord(run_id="r", status="complete", results=(_clustered_result(values, labels),))
    raw = record.to_json()
    entry = raw["titan_eval"]["tasks"]["hellaswag"]
    se = _statsmodels_fit(np.array(values), np.array([i // 3 for i in range(30)])).bse[0]
    assert entry["cluster_key"] == "source_id" and entry["ci95"]["acc"]["method"] == "cluster-normal"
    assert entry["ci95"]["acc"]["se"] == pytest.approx(se, abs=1e-12) and entry["ci95"]["acc"]["clusters"] == 10
    assert raw["results"]["hellaswag"]["acc_stderr,none"] == pytest.approx(sps.sem(values, ddof=1))  # lm-eval's
    row = summary_rows(record)[0]
    assert row["stderr"] == pytest.approx(se, abs=1e-12) and row["clusters"] == 10
    text = markdown_summary(record)
    assert "clusters |" in text.splitlines()[0] and f"{se:.4f}" in text and "cluster-robust (CR1)" in text
    again = RunRecord.from_json(raw)
    assert again.result("hellaswag").cluster_key == "source_id"
    assert markdown_summary(again) == text
    plain = markdown_summary(RunRecord(run_id="r", status="complete", results=(_clustered_result(values, None),)))
    assert "clusters" not in plain and "cluster-robust" not in plain


def test_compare_command_takes_power_and_cluster_by(tmp_path: Path) -> None:
    """`titan-eval compare --cluster-by category --power 0.9 --format json`: the CLI reaches the same table."""
    from cli_helpers import invoke

    base, cand = paired_acc(60, 30, losses=8, gains=2)
    cats = [f"cat{i % 6}" for i in range(60)]
    a = write_run(tmp_path / "a", {"reasoning85": {"strict": base}}, categories={"reasoning85": cats})
    b = write_run(tmp_path / "b", {"reasoning85": {"strict": cand}}, categories={"reasoning85": cats})
    done = invoke("compare", str(a), str(b), "--cluster-by", "category", "--power", "0.9", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    delta = next(r for r in doc["rows"] if r["kind"] == "run" and not r["baseline"])
    expected = compare_runs([load_run(a), load_run(b)], config=CompareConfig(cluster_by="category", power=0.9))
    assert doc["power"] == 0.9 and delta["delta_clusters"] == 6
    in_process = [r for r in json.loads(expected.to_json())["rows"] if r["kind"] == "run" and not r["baseline"]]
    assert delta["mde"] == pytest.approx(in_process[0]["mde"], rel=1e-12) and delta["mde"] > 0
    assert invoke("compare", str(a), str(b), "--power", "1.5").returncode == 2
