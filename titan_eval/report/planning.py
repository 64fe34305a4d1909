"""Sample sizes and power for the gate's two rules (docs/gates.md, "Planning").

0/1 metrics (paired proportions). With discordance rate ψ = p_b + p_c (documents whose correctness changes), true
drop δ = p_b − p_c, margin m, one-sided level α (per check: the gate's α divided by its m checks) and power 1 − β,
the score test behind Tango's bound needs (Nam 1997, "Establishing equivalence of two treatments and sample size
requirements in matched-pairs design", Biometrics 53:1422–1430; Liu, Hsueh, Hsieh & Chen 2002, Stat Med
21:231–245):

    n = ⌈ (z₁₋α·σ₀ + z₁₋β·σ₁)² / (m − δ)² ⌉
    σ₁² = ψ − δ²                       (variance of one document's paired difference under the truth)
    σ₀² = 2p̃_c + m(1 − m)              (under the margin; p̃_c the restricted rate at θ = m from p_b = (ψ + δ)/2,
                                        p_c = (ψ − δ)/2, `paired_bounds.restricted_gain_rate` with n = 1)

for `non-inferiority` (pass when U < m, power at δ < m) and with (δ − m)² for `regression` (fail when L > m, power at
δ > m). With ψ = 0 (identical outputs) n = z²(1 − m)/m, the n below which a non-inferiority gate cannot pass at all.
Without a paired run to measure ψ, `assumed_discordance` takes the baseline's rate p for both and independent errors,
ψ = 2p(1 − p): the most a candidate of the same accuracy can change when its errors are unrelated to the
baseline's; two checkpoints of one model agree more than that, so the n is on the safe side.

Other metrics: n = ⌈ ((z₁₋α + z₁₋β)·s_d / |m − δ|)² ⌉ with s_d the SD of the per-document differences, from a
paired run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from titan_eval.errors import UsageError
from titan_eval.report.paired_bounds import restricted_gain_rate, z_one_sided

RULES = ("non-inferiority", "regression")


@dataclass(frozen=True)
class PlanSetting:
    """What a planned gate check assumes: margin m, true drop δ, per-check one-sided α, target power, rule."""

    margin: float
    true_drop: float = 0.0
    alpha: float = 0.05
    power: float = 0.8
    rule: str = "non-inferiority"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise UsageError(f"unknown rule {self.rule!r}; known: {', '.join(RULES)}")
        if not 0.0 < self.power < 1.0:
            raise UsageError(f"power must lie in (0, 1), got {self.power}")
        z_one_sided(self.alpha)
        if self.margin < 0:
            raise UsageError(f"the margin (--max-drop) must be non-negative, got {self.margin}")
        if self.rule == "non-inferiority" and self.true_drop >= self.margin:
            raise UsageError(f"a non-inferiority gate can only be planned for a true drop below the margin "
                             f"({self.true_drop} >= {self.margin})")
        if self.rule == "regression" and self.true_drop <= self.margin:
            raise UsageError(f"a regression gate is planned to catch a true drop above the margin: give "
                             f"--true-drop > {self.margin}")

    @property
    def distance(self) -> float:
        """|m − δ|: how far the truth lies from the margin."""
        return abs(self.margin - self.true_drop)


def assumed_discordance(rate: float) -> float:
    """ψ = 2p(1 − p): baseline and candidate both right with probability p, errors independent."""
    if not 0.0 <= rate <= 1.0:
        raise UsageError(f"a 0/1 metric's rate must lie in [0, 1], got {rate}")
    return 2.0 * rate * (1.0 - rate)


def _sigmas(discordance: float, setting: PlanSetting) -> tuple[float, float]:
    """(σ₀, σ₁) of the module docstring."""
    d, m = setting.true_drop, setting.margin
    if not 0.0 <= discordance <= 1.0 or abs(d) > discordance + 1e-15:
        raise UsageError(f"discordance {discordance} cannot carry a true drop of {d} (needs |drop| <= discordance <= 1)")
    p_b, p_c = (discordance + d) / 2.0, (discordance - d) / 2.0
    restricted = restricted_gain_rate(p_b, p_c, 1.0, m)
    return math.sqrt(max(0.0, 2.0 * restricted + m * (1.0 - m))), math.sqrt(max(0.0, discordance - d * d))


def binary_n(discordance: float, setting: PlanSetting) -> int:
    """Documents a gate check on a 0/1 metric needs (module docstring); ψ = `discordance`."""
    if setting.distance == 0.0:
        raise UsageError("the true drop equals the margin: no n gives power there")
    s0, s1 = _sigmas(discordance, setting)
    z_a, z_b = z_one_sided(setting.alpha), NormalDist().inv_cdf(setting.power)
    return max(1, math.ceil((z_a * s0 + z_b * s1) ** 2 / setting.distance ** 2 - 1e-9))


def binary_power(n: int, discordance: float, setting: PlanSetting) -> float:
    """Normal-approximation power of the check at n documents: Φ((√n·|m − δ| − z₁₋α·σ₀)/σ₁)."""
    s0, s1 = _sigmas(discordance, setting)
    z_a = z_one_sided(setting.alpha)
    gap = math.sqrt(n) * setting.distance - z_a * s0
    if s1 == 0.0:
        return 1.0 if gap > 0 else 0.0
    return NormalDist().cdf(gap / s1)


def continuous_n(sd: float, setting: PlanSetting) -> int:
    """Documents a gate check on a continuous metric needs, from the SD of paired differences `sd`."""
    if sd < 0 or not math.isfinite(sd):
        raise UsageError(f"the SD of paired differences must be a finite non-negative number, got {sd}")
    if setting.distance == 0.0:
        raise UsageError("the true drop equals the margin: no n gives power there")
    z_a, z_b = z_one_sided(setting.alpha), NormalDist().inv_cdf(setting.power)
    return max(2, math.ceil(((z_a + z_b) * sd / setting.distance) ** 2 - 1e-9))
