"""`titan-eval gate` on constructed runs: both rules' decisions and printed bounds, exit 1 on failure, 0 on a pass,
2 for runs that cannot be compared; alpha split over the gated checks; a gate that cannot pass at its n says so;
a deliberate score change in a copied run makes the gate fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import main_exit_code as _main
from report_helpers import paired_acc, write_run
from scipy import stats as sps

from titan_eval.errors import IncomparableRunsError, UsageError
from titan_eval.report import GateConfig, evaluate_gate, load_run
from titan_eval.report.paired_bounds import tango_upper




def _pair(tmp_path: Path, losses: int, gains: int, n: int = 100, **cand_kwargs: object) -> tuple[Path, Path]:
    """Baseline right on 60% of n docs (acc and acc_norm alike); the candidate loses/gains on both metrics."""
    base, cand = paired_acc(n, 6 * n // 10, losses, gains)
    base_dir = write_run(tmp_path / "base", {"arc_easy": {"acc": base, "acc_norm": base}})
    cand_metrics = {"arc_easy": {"acc": cand, "acc_norm": cand}}
    cand_dir = write_run(tmp_path / "cand", cand_metrics, **cand_kwargs)  # type: ignore[arg-type]
    return base_dir, cand_dir


def test_one_directional_drop_fails_with_exit_1(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, losses=15, gains=0)
    verdict = evaluate_gate(load_run(base), load_run(cand))
    assert not verdict.passed and all(c.failed for c in verdict.checks)
    for check in verdict.checks:  # two metrics: each bound at alpha / 2
        assert check.method == "tango-score" and check.alpha_check == pytest.approx(0.025)
        assert (check.losses, check.gains, check.n) == (15, 0, 100) and check.drop == pytest.approx(0.15)
        assert check.upper == pytest.approx(tango_upper(15, 0, 100, 0.025), abs=0)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "titan_eval", "gate", str(base), str(cand)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Gate failed" in done.stdout and "arc_easy/acc upper bound" in done.stderr
    assert "non-inferiority" in done.stderr and "alpha=0.05" in done.stderr


def test_issue_case_drop_above_margin_on_200_docs_fails_non_inferiority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The case the old rule passed: 200 ARC-Easy docs, acc drop 0.015 (6 lost, 3 gained) against a 0.01 margin;
    McNemar p = 0.51, so "drop > margin and significant" passed it. Non-inferiority fails it, bound printed."""
    base, cand = _pair(tmp_path, losses=6, gains=3, n=200)
    assert sps.binomtest(3, 9, 0.5).pvalue == pytest.approx(0.508, abs=1e-3)
    verdict = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))
    check = verdict.checks[0]
    assert not verdict.passed and check.drop == pytest.approx(0.015)
    assert check.upper == pytest.approx(tango_upper(6, 3, 200, 0.05), abs=0) and check.upper > 0.04
    text = verdict.to_markdown()
    assert f"| arc_easy | acc | 200 | 0.6000 | 0.5850 | +0.0150 | 6/3 | {check.upper:+.4f} | 0.01 |" in text
    assert "non-inferiority" in text and "**fail**" in text
    assert _main(monkeypatch, "gate", str(base), str(cand), "--metric", "acc") == 1
    assert f"arc_easy/acc upper bound {check.upper:+.4f} ≥ margin 0.01" in capsys.readouterr().err
    # the same data under `regression`: the drop is not shown to exceed the margin (lower bound below it)
    regression = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",), rule="regression"))
    assert regression.passed and regression.checks[0].lower < 0.01


def test_a_gate_that_cannot_pass_at_its_n_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Identical runs of 100 docs, two metrics: even with no changed document the upper bound is
    z²/(n + z²) = 1.96²/(100 + 1.96²) = 0.037 > 0.01, so the gate names the n that could pass: 381."""
    base, cand = _pair(tmp_path, losses=0, gains=0, n=100)
    verdict = evaluate_gate(load_run(base), load_run(cand))
    z = float(sps.norm.ppf(1 - 0.025))
    for check in verdict.checks:
        assert check.failed and check.upper == pytest.approx(z * z / (100 + z * z), rel=1e-9)
        assert check.needs_n == int(np.floor(z * z * 0.99 / 0.01)) + 1 == 381
    assert "cannot pass at n = 100 whatever the candidate does" in verdict.to_markdown()
    assert _main(monkeypatch, "gate", str(base), str(cand)) == 1
    assert "needs n >= 381" in capsys.readouterr().err
    big_base, big_cand = _pair(tmp_path / "big", losses=0, gains=0, n=381)
    assert evaluate_gate(load_run(big_base), load_run(big_cand)).passed


def test_same_drop_spread_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """8 lost / 7 gained of 2,000: no drop to speak of; non-inferiority at 0.01 passes (U ≈ 0.004)."""
    base, cand = _pair(tmp_path, losses=8, gains=7, n=2000)
    verdict = evaluate_gate(load_run(base), load_run(cand))
    assert verdict.passed and all(c.upper < 0.01 for c in verdict.checks)
    assert _main(monkeypatch, "gate", str(base), str(cand)) == 0
    assert _main(monkeypatch, "gate", str(base), str(cand), "--rule", "regression") == 0


def test_data_fingerprint_mismatch_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base, cand = _pair(tmp_path, losses=0, gains=0, fingerprints={"arc_easy": {"data_sha256": "0" * 64}})
    verdict_file = tmp_path / "verdict.md"
    assert _main(monkeypatch, "gate", str(base), str(cand), "--verdict-file", str(verdict_file)) == 2
    assert "data_sha256 differs" in capsys.readouterr().err
    assert "not comparable" in verdict_file.read_text()


@pytest.mark.parametrize(("cand_kwargs", "config", "message"), [
    ({"fingerprints": {"arc_easy": {"prompt_sha256": "p"}}}, GateConfig(), "prompt_sha256 differs"),
    ({"fingerprints": {"arc_easy": {"mode": "cot"}}}, GateConfig(), "mode differs"),
    ({"fingerprints": {"arc_easy": {"scorer": "lm-eval-mc-v2"}}}, GateConfig(), "scorer differs"),
    ({"fingerprints": {"arc_easy": {"doc_ids_sha256": "other"}}}, GateConfig(), "doc_ids_sha256 differs"),
    ({"fingerprints": {"arc_easy": {"data_sha256": None}}}, GateConfig(), "data_sha256 not recorded"),
    ({"status": "killed"}, GateConfig(), "not complete"),
    ({}, GateConfig(metrics=("acc", "brier")), "metric 'brier' missing"),
    ({}, GateConfig(tasks=("hellaswag",)), "no results for hellaswag"),
])
def test_incomparable_runs(tmp_path: Path, cand_kwargs: dict, config: GateConfig, message: str) -> None:
    base, cand = _pair(tmp_path, losses=1, gains=1, **cand_kwargs)
    with pytest.raises(IncomparableRunsError, match=message) as err:
        evaluate_gate(load_run(base), load_run(cand), config)
    assert err.value.exit_code == 2


def test_different_scored_documents_are_incomparable(tmp_path: Path) -> None:
    base = write_run(tmp_path / "a", {"t": {"acc": [1.0, 0.0, 1.0]}}, fingerprints={"t": {"doc_ids_sha256": "same"}})
    cand = write_run(tmp_path / "b", {"t": {"acc": [1.0, 0.0]}}, fingerprints={"t": {"doc_ids_sha256": "same"}})
    with pytest.raises(IncomparableRunsError, match="different documents"):
        evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))


def test_the_rules_put_the_burden_of_proof_on_opposite_sides(tmp_path: Path) -> None:
    acc = GateConfig(metrics=("acc",))
    # a large drop on few documents: not shown to exceed the margin (regression passes), not shown to stay
    # within it either (non-inferiority fails)
    base, cand = _pair(tmp_path / "small", losses=2, gains=0, n=20)
    assert evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",), rule="regression")).passed
    assert not evaluate_gate(load_run(base), load_run(cand), acc).passed
    # a clear drop within the margin on many documents: 80 lost / 20 gained of 10,000 (drop 0.006)
    base, cand = _pair(tmp_path / "big", losses=80, gains=20, n=10_000)
    check = evaluate_gate(load_run(base), load_run(cand), acc).checks[0]
    assert not check.failed and 0.006 < check.upper < 0.01 and check.drop == pytest.approx(0.006)
    assert evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",), max_drop=0.005)).checks[0].failed
    tight = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",), max_drop=0.003,
                                                                      rule="regression"))
    assert tight.checks[0].failed and tight.checks[0].lower > 0.003


def test_alpha_is_split_over_the_gated_checks(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, losses=6, gains=2, n=1000)
    one = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))
    two = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc", "acc_norm")))
    assert one.checks[0].alpha_check == 0.05 and [c.alpha_check for c in two.checks] == [0.025, 0.025]
    assert one.checks[0].upper == pytest.approx(tango_upper(6, 2, 1000, 0.05), abs=0)
    assert all(c.upper == pytest.approx(tango_upper(6, 2, 1000, 0.025), abs=0) for c in two.checks)
    assert two.checks[0].upper > one.checks[0].upper
    assert "split over 2 checks (Bonferroni" in two.to_markdown()


def test_lower_is_better_and_continuous_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    loss = rng.normal(2.0, 0.3, size=200)
    worse = loss + rng.normal(0.1, 0.05, size=200)
    hib = {"t": {"loss": False}}
    base = write_run(tmp_path / "a", {"t": {"loss": list(loss)}}, higher_is_better=hib)
    cand = write_run(tmp_path / "b", {"t": {"loss": list(worse)}}, higher_is_better=hib)
    verdict = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("loss",)))
    check = verdict.checks[0]
    assert check.method == "paired-bootstrap" and check.drop == pytest.approx(float(np.mean(worse - loss)))
    assert not verdict.passed and check.lower > 0.09  # the loss rose by ≈ 0.1 ± 0.05/√200
    better = evaluate_gate(load_run(cand), load_run(base), GateConfig(metrics=("loss",)))
    assert better.passed and better.checks[0].upper < -0.09
    assert not evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("loss",), rule="regression",
                                                                        max_drop=0.05)).passed


def test_deliberate_score_change_fails_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What CI does: a committed baseline, a candidate run of the same subset; unchanged passes, changed fails."""
    rng = np.random.default_rng(0)
    acc = list((rng.random(200) < 0.55).astype(float))
    baseline = write_run(tmp_path / "results" / "baselines" / "mamba-tiny", {"arc_easy": {"acc": acc, "acc_norm": acc}})
    candidate = tmp_path / "candidate"
    shutil.copytree(baseline, candidate)
    verdict_file = tmp_path / "gate-verdict.md"
    gate = ["gate", str(baseline), str(candidate), "--max-drop", "0.02", "--verdict-file", str(verdict_file)]
    assert _main(monkeypatch, *gate) == 0
    assert "Gate passed" in verdict_file.read_text()
    lines = [json.loads(x) for x in (candidate / "samples.jsonl").read_text().splitlines()]
    flipped = 0
    for line in lines:
        if line["acc"] == 1.0 and flipped < 12:
            line["acc"] = 0.0
            flipped += 1
    (candidate / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert _main(monkeypatch, *gate) == 1
    text = verdict_file.read_text()
    assert "Gate failed" in text and "| arc_easy | acc | 200 |" in text and "**fail**" in text
    assert _main(monkeypatch, *gate, "--metric", "acc_norm") == 0


def test_bad_gate_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, cand = _pair(tmp_path, losses=0, gains=0)
    with pytest.raises(UsageError):
        GateConfig(max_drop=-0.1)
    assert _main(monkeypatch, "gate", str(base), str(cand), "--alpha", "2") == 2
    assert _main(monkeypatch, "gate", str(base), str(cand), "--metric", " , ") == 2
    assert _main(monkeypatch, "gate", str(base), str(cand), "--rule", "lenient") == 2
    with pytest.raises(UsageError, match="unknown gate rule"):
        GateConfig(rule="lenient")
    assert _main(monkeypatch, "gate", str(base), str(tmp_path / "missing")) == 2
