"""`titan-eval gate` on constructed runs: exit 1 on a significant drop, 0 otherwise, 2 for runs that cannot be
compared; Holm across the gated metrics; a deliberate score change in a copied run makes the gate fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from report_helpers import paired_acc, write_run
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from titan_eval.cli import app as cli_app
from titan_eval.errors import IncomparableRunsError, UsageError
from titan_eval.report import GateConfig, evaluate_gate, load_run


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """Run the real console entry point in-process and return its exit code."""
    monkeypatch.setattr(sys, "argv", ["titan-eval", *args])
    with pytest.raises(SystemExit) as done:
        cli_app.main()
        raise SystemExit(0)
    return int(done.value.code or 0)


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
    assert not verdict.passed and all(c.regressed for c in verdict.checks)
    p_ref = mcnemar([[45, 15], [0, 40]], exact=True).pvalue
    assert p_ref < 0.05
    for check in verdict.checks:
        assert check.test == "mcnemar-exact" and check.p_value == pytest.approx(p_ref, abs=1e-15)
        assert check.drop == pytest.approx(0.15)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "titan_eval", "gate", str(base), str(cand)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Gate failed" in done.stdout and "arc_easy/acc" in done.stderr


def test_same_drop_spread_both_ways_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, cand = _pair(tmp_path, losses=8, gains=7)
    verdict = evaluate_gate(load_run(base), load_run(cand))
    assert verdict.passed
    assert verdict.checks[0].p_value == pytest.approx(sps.binomtest(7, 15, 0.5).pvalue)
    assert _main(monkeypatch, "gate", str(base), str(cand)) == 0


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


def test_both_conditions_are_needed(tmp_path: Path) -> None:
    # a large drop on few documents is not significant: 3 of 20 lost, p = 0.25
    base, cand = _pair(tmp_path / "small", losses=3, gains=0, n=20)
    verdict = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))
    assert verdict.passed and verdict.checks[0].drop == pytest.approx(0.15) and verdict.checks[0].p_value > 0.05
    # a significant drop within max_drop is tolerated: 80 lost / 20 gained of 10,000
    base, cand = _pair(tmp_path / "big", losses=80, gains=20, n=10_000)
    verdict = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))
    check = verdict.checks[0]
    assert verdict.passed and check.p_holm < 1e-6 and check.drop == pytest.approx(0.006)
    tight = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",), max_drop=0.005))
    assert not tight.passed


def test_holm_applies_across_gated_metrics(tmp_path: Path) -> None:
    base, cand = _pair(tmp_path, losses=6, gains=0)  # raw p = 2 / 2**6 = 0.03125 for each metric
    one = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc",)))
    two = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("acc", "acc_norm")))
    assert one.checks[0].p_value == pytest.approx(0.03125)
    assert not one.passed
    assert [c.p_holm for c in two.checks] == pytest.approx([0.0625, 0.0625]) and two.passed


def test_lower_is_better_and_continuous_metrics(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    loss = rng.normal(2.0, 0.3, size=200)
    worse = loss + rng.normal(0.1, 0.05, size=200)
    hib = {"t": {"loss": False}}
    base = write_run(tmp_path / "a", {"t": {"loss": list(loss)}}, higher_is_better=hib)
    cand = write_run(tmp_path / "b", {"t": {"loss": list(worse)}}, higher_is_better=hib)
    verdict = evaluate_gate(load_run(base), load_run(cand), GateConfig(metrics=("loss",)))
    check = verdict.checks[0]
    assert check.test == "paired-bootstrap" and check.drop == pytest.approx(float(np.mean(worse - loss)))
    assert not verdict.passed
    assert evaluate_gate(load_run(cand), load_run(base), GateConfig(metrics=("loss",))).passed


def test_deliberate_score_change_fails_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What CI does: a committed baseline, a candidate run of the same subset; unchanged passes, changed fails."""
    rng = np.random.default_rng(0)
    acc = list((rng.random(200) < 0.55).astype(float))
    baseline = write_run(tmp_path / "results" / "baselines" / "mamba-tiny", {"arc_easy": {"acc": acc, "acc_norm": acc}})
    candidate = tmp_path / "candidate"
    shutil.copytree(baseline, candidate)
    verdict_file = tmp_path / "gate-verdict.md"
    assert _main(monkeypatch, "gate", str(baseline), str(candidate), "--verdict-file", str(verdict_file)) == 0
    assert "Gate passed" in verdict_file.read_text()
    lines = [json.loads(x) for x in (candidate / "samples.jsonl").read_text().splitlines()]
    flipped = 0
    for line in lines:
        if line["acc"] == 1.0 and flipped < 12:
            line["acc"] = 0.0
            flipped += 1
    (candidate / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert _main(monkeypatch, "gate", str(baseline), str(candidate), "--verdict-file", str(verdict_file)) == 1
    text = verdict_file.read_text()
    assert "Gate failed" in text and "| arc_easy | acc | 200 |" in text and "**regressed**" in text
    assert _main(monkeypatch, "gate", str(baseline), str(candidate), "--metric", "acc_norm") == 0


def test_bad_gate_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, cand = _pair(tmp_path, losses=0, gains=0)
    with pytest.raises(UsageError):
        GateConfig(max_drop=-0.1)
    assert _main(monkeypatch, "gate", str(base), str(cand), "--alpha", "2") == 2
    assert _main(monkeypatch, "gate", str(base), str(cand), "--metric", " , ") == 2
    assert _main(monkeypatch, "gate", str(base), str(tmp_path / "missing")) == 2
