"""The gate's configuration, one check's outcome and the rule's decision on a check's bounds (semantics:
`report.gate`, docs/gates.md); shared by the gate, its clustered checks and its verdict text."""

from __future__ import annotations

from dataclasses import dataclass

from titan_eval.errors import UsageError
from titan_eval.report.planning import RULES
from titan_eval.report.stats import DEFAULT_RESAMPLES, DEFAULT_SEED

NON_INFERIORITY, REGRESSION = RULES
PLANNED_POWER = 0.8  # the power a "needs n" note plans for
ALL_METRICS = "all"  # as the one gated metric: every metric each gated key has


@dataclass(frozen=True)
class GateConfig:
    """metrics/tasks: what is gated (tasks None: every key of the baseline); rule: see `report.gate`."""

    metrics: tuple[str, ...] = ("acc", "acc_norm")
    max_drop: float = 0.01
    alpha: float = 0.05
    rule: str = NON_INFERIORITY
    tasks: tuple[str, ...] | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        if not self.metrics:
            raise UsageError("the gate needs at least one metric")
        if self.max_drop < 0:
            raise UsageError(f"max_drop must be non-negative, got {self.max_drop}")
        if not 0.0 < self.alpha < 1.0:
            raise UsageError(f"alpha must lie in (0, 1), got {self.alpha}")
        if self.rule not in RULES:
            raise UsageError(f"unknown gate rule {self.rule!r}; known: {', '.join(RULES)}")


@dataclass(frozen=True)
class GateCheck:
    """One gated (key, metric) over its n paired documents.

    drop: baseline − candidate in the metric's better direction; lower/upper: its one-sided bounds at `alpha_check`
    (only the rule's side decides); losses/gains: b/c for 0/1 metrics; needs_n: under non-inferiority, the n at
    which the check could pass at all when this n cannot; planned_n: the n for 80% power at the observed
    discordance and a true drop of 0 (0/1 metrics, non-inferiority); n_effective: n over the design effect on a
    clustered key (`gate_clustered`)."""

    key: str
    metric: str
    n: int
    baseline: float
    candidate: float
    drop: float
    lower: float
    upper: float
    alpha_check: float
    method: str
    failed: bool
    losses: int | None = None
    gains: int | None = None
    needs_n: int | None = None
    planned_n: int | None = None
    n_effective: float | None = None

    @property
    def discordance(self) -> float | None:
        return None if self.losses is None or self.gains is None else (self.losses + self.gains) / self.n


def fails(config: GateConfig, lower: float, upper: float) -> bool:
    """The rule's decision on one check's bounds: non-inferiority fails unless upper < max_drop; regression fails
    when lower > max_drop."""
    if config.rule == NON_INFERIORITY:
        return not upper < config.max_drop
    return lower > config.max_drop
