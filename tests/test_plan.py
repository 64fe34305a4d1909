"""`titan-eval plan` and `report.planning`: the sample-size formula against its closed form where there is one
(no discordance) and against simulation of the gate's own bounds in three settings; the command's rows and errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import main_exit_code as _main
from report_helpers import paired_acc, write_run
from scipy import stats as sps

from titan_eval.errors import UsageError
from titan_eval.report.paired_bounds import tango_lower, tango_upper
from titan_eval.report.planning import PlanSetting, binary_n, binary_power, continuous_n




@pytest.mark.parametrize("margin", [0.005, 0.01, 0.05])
def test_no_discordance_needs_the_n_where_the_best_bound_meets_the_margin(margin: float) -> None:
    z = float(sps.norm.ppf(0.95))
    assert binary_n(0.0, PlanSetting(margin)) == math.ceil(z * z * (1 - margin) / margin - 1e-9)


@pytest.mark.parametrize(("psi", "setting"), [
    (0.10, PlanSetting(0.03)),                                   # non-inferiority, true drop 0
    (0.30, PlanSetting(0.05, true_drop=0.01, alpha=0.025)),      # non-inferiority, a small true drop, α/2
    (0.20, PlanSetting(0.02, true_drop=0.08, rule="regression")),  # regression, catch a drop of 8 points
])
def test_planned_n_reaches_the_planned_power_in_simulation(psi: float, setting: PlanSetting) -> None:
    """3,000 seeded outcome sets at the planned n, decided with the gate's bounds: the achieved power is the
    planned 0.8 within 3 Monte-Carlo errors (±0.022) plus 0.02 for the normal approximation; at 70% of the planned
    n it is clearly lower."""
    n = binary_n(psi, setting)
    assert binary_power(n, psi, setting) == pytest.approx(0.8, abs=0.01)
    rng = np.random.default_rng(7)

    def achieved(size: int) -> float:
        d = setting.true_drop
        counts = rng.multinomial(size, [(psi + d) / 2, (psi - d) / 2, 1 - psi], size=3000)[:, :2]
        pairs, freq = np.unique(counts, axis=0, return_counts=True)
        if setting.rule == "non-inferiority":
            hits = [tango_upper(int(b), int(c), size, setting.alpha) < setting.margin for b, c in pairs]
        else:
            hits = [tango_lower(int(b), int(c), size, setting.alpha) > setting.margin for b, c in pairs]
        return float(np.dot(hits, freq) / freq.sum())

    assert achieved(n) == pytest.approx(0.8, abs=0.022 + 0.02)
    assert achieved(int(0.7 * n)) < 0.72


def test_continuous_n_is_the_normal_formula() -> None:
    z_a, z_b = float(sps.norm.ppf(0.95)), float(sps.norm.ppf(0.8))
    assert continuous_n(0.4, PlanSetting(0.05)) == math.ceil(((z_a + z_b) * 0.4 / 0.05) ** 2)


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(UsageError, match="true drop above the margin"):
        PlanSetting(0.02, true_drop=0.01, rule="regression")
    with pytest.raises(UsageError, match="below the margin"):
        PlanSetting(0.02, true_drop=0.03)
    with pytest.raises(UsageError, match="cannot carry"):
        binary_n(0.01, PlanSetting(0.05, true_drop=0.02))


def test_plan_command_from_a_rate_a_run_and_a_paired_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert _main(monkeypatch, "plan", "--baseline", "0.6", "--max-drop", "0.02") == 0
    out = capsys.readouterr().out
    expected = binary_n(2 * 0.6 * 0.4, PlanSetting(0.02))
    assert f"| — | acc | 0.6000 | ψ = 0.4800 (assumed 2p(1-p)) | {expected:,} |" in out
    base, cand = paired_acc(400, 240, 10, 6)
    base_dir = write_run(tmp_path / "b", {"arc_easy": {"acc": base, "acc_norm": base}})
    cand_dir = write_run(tmp_path / "c", {"arc_easy": {"acc": cand, "acc_norm": cand}})
    args = ["plan", "--baseline", str(base_dir), "--metric", "acc,acc_norm", "--max-drop", "0.03"]
    assert _main(monkeypatch, *args, "--paired", str(cand_dir)) == 0
    out = capsys.readouterr().out
    planned = binary_n(16 / 400, PlanSetting(0.03, alpha=0.025))
    assert "split over 2 check(s)" in out and out.count(f"| {planned:,} | 400 |") == 2
    assert "ψ = 0.0400 (paired run (400 docs))" in out
    assert _main(monkeypatch, "plan", "--baseline", "1.5") == 2
    assert _main(monkeypatch, "plan", "--baseline", "0.6", "--rule", "regression") == 2
    assert "true drop above the margin" in capsys.readouterr().err


def test_plan_for_avg_at_k_takes_the_rates_sd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """avg@K is a rate per document over K samples: without a paired run the plan assumes unrelated rates
    (s_d = √2 × the baseline's SD over documents); with one it measures s_d from the paired differences."""
    rng = np.random.default_rng(5)
    rates = rng.integers(0, 5, size=120) / 4  # K = 4 samples per document
    moved = np.clip(rates + rng.choice([-0.25, 0.0, 0.25], size=120, p=[0.1, 0.8, 0.1]), 0, 1)
    base = write_run(tmp_path / "b", {"gsm8k": {"exact_match_avg@4": list(rates)}})
    cand = write_run(tmp_path / "c", {"gsm8k": {"exact_match_avg@4": list(moved)}})
    args = ["plan", "--baseline", str(base), "--metric", "exact_match_avg@4", "--max-drop", "0.05"]
    assert _main(monkeypatch, *args) == 0
    out = capsys.readouterr().out
    sd = math.sqrt(2.0) * float(np.std(rates, ddof=1))
    assert f"s_d = {sd:.4g} (assumed unrelated" in out
    assert f"| {continuous_n(sd, PlanSetting(0.05)):,} | 120 |" in out
    assert _main(monkeypatch, *args, "--paired", str(cand)) == 0
    out = capsys.readouterr().out
    measured = float(np.std(moved - rates, ddof=1))
    assert f"s_d = {measured:.4g} (paired run (120 docs))" in out
    assert f"| {continuous_n(measured, PlanSetting(0.05)):,} | 120 |" in out
    assert measured < sd  # a checkpoint's rates move less than unrelated ones: the assumption is on the safe side
