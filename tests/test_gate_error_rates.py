"""The gate's error rates, by simulation: thousands of seeded paired 0/1 outcome sets decided by `evaluate_gate`.

Settings (one gated metric, alpha 0.05, discordance ψ = 0.10, margin 0.03; n from `planning.binary_n`):
    non-inferiority, n = 717 planned for 80% power at a true drop of 0:
        true drop = margin  → the gate must pass ≤ alpha of the sets   (measured 0.049; the old rule passed 0.51)
        true drop = 0       → the gate must pass ≥ 80% of the sets     (measured 0.81; old rule 0.99)
    regression, n = 213 planned for 80% power at a true drop of 0.08:
        true drop = margin  → the gate must fail ≤ alpha of the sets   (measured 0.053; the old rule failed 0.21)
        true drop = 0.08    → the gate must fail ≥ 80% of the sets     (measured 0.82)
(4,000 sets each, seed 0; "old rule": fail when drop > margin and exact McNemar p < alpha, which controls neither
rate.) Tolerance: 3 Monte-Carlo standard errors. The decision depends on the sets only through the counts of
lost/gained documents (b, c), so each distinct (b, c) goes through the gate once and counts for every set that
drew it.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from report_helpers import paired_acc, write_run

from titan_eval.report import GateConfig, StoredRun, evaluate_gate, load_run
from titan_eval.report.planning import PlanSetting, binary_n

SETS = 4000
PSI, MARGIN, ALPHA, POWER = 0.10, 0.03, 0.05, 0.8


def _gate_fails(template: tuple[StoredRun, StoredRun], b: int, c: int, rule: str) -> bool:
    """The gate's decision for a candidate that loses b and gains c of the template's n documents."""
    base, cand = template
    n = len(base.samples["arc_easy"])
    acc = paired_acc(n, n // 2, b, c)[1]
    docs = {d: {**line, "acc": acc[d]} for d, line in cand.samples["arc_easy"].items()}
    candidate = dataclasses.replace(cand, samples={"arc_easy": docs})
    verdict = evaluate_gate(base, candidate, GateConfig(metrics=("acc",), max_drop=MARGIN, alpha=ALPHA, rule=rule))
    return not verdict.passed


def _fail_rate(tmp_path: Path, n: int, true_drop: float, rule: str, seed: int = 0) -> float:
    base_acc = paired_acc(n, n // 2, 0, 0)[0]
    runs = (load_run(write_run(tmp_path / "b", {"arc_easy": {"acc": base_acc}})),
            load_run(write_run(tmp_path / "c", {"arc_easy": {"acc": base_acc}})))
    probs = [(PSI + true_drop) / 2, (PSI - true_drop) / 2, 1 - PSI]
    counts = np.random.default_rng(seed).multinomial(n, probs, size=SETS)[:, :2]  # [SETS, (b, c)]
    pairs, freq = np.unique(counts, axis=0, return_counts=True)
    assert pairs[:, 0].max() <= n // 2 and pairs[:, 1].max() <= n - n // 2
    fails = sum(int(f) for (b, c), f in zip(pairs, freq) if _gate_fails(runs, int(b), int(c), rule))
    return fails / SETS


def _mc_error(p: float) -> float:
    return 3 * math.sqrt(p * (1 - p) / SETS)


def test_non_inferiority_controls_passing_an_inferior_candidate_and_has_its_planned_power(tmp_path: Path) -> None:
    n = binary_n(PSI, PlanSetting(MARGIN, 0.0, ALPHA, POWER))
    assert n == 717
    pass_at_margin = 1 - _fail_rate(tmp_path / "margin", n, MARGIN, "non-inferiority")
    assert pass_at_margin <= ALPHA + _mc_error(ALPHA)
    pass_at_zero = 1 - _fail_rate(tmp_path / "zero", n, 0.0, "non-inferiority")
    assert pass_at_zero >= POWER - _mc_error(POWER)


def test_regression_controls_failing_a_sound_candidate_and_has_its_planned_power(tmp_path: Path) -> None:
    n = binary_n(PSI, PlanSetting(MARGIN, 0.08, ALPHA, POWER, rule="regression"))
    assert n == 213
    assert _fail_rate(tmp_path / "margin", n, MARGIN, "regression") <= ALPHA + _mc_error(ALPHA)
    assert _fail_rate(tmp_path / "big", n, 0.08, "regression") >= POWER - _mc_error(POWER)


@pytest.mark.parametrize("rule", ["non-inferiority", "regression"])
def test_the_simulated_decisions_are_the_gates_own(tmp_path: Path, rule: str) -> None:
    """Guard for the memoised shortcut above: a candidate built by `_gate_fails` gives the same verdict as the same
    runs written to disk and gated from the files."""
    n, b, c = 300, 14, 4
    base_acc, cand_acc = paired_acc(n, n // 2, b, c)
    base = load_run(write_run(tmp_path / "b", {"arc_easy": {"acc": base_acc}}))
    cand = load_run(write_run(tmp_path / "c", {"arc_easy": {"acc": cand_acc}}))
    direct = not evaluate_gate(base, cand, GateConfig(metrics=("acc",), max_drop=MARGIN, rule=rule)).passed
    twin = load_run(write_run(tmp_path / "t", {"arc_easy": {"acc": base_acc}}))
    assert _gate_fails((base, twin), b, c, rule) == direct
