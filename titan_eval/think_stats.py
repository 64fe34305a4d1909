"""Statistics over think traces: termination, length, forced closes, attractor lock.

Attractor lock: a trace whose tail is one short token pattern (period 1..max_period) repeated at least
`min_repeats` times in a row, e.g. "56 56 56 56". The defaults (period ≤ 8, ≥ 4 repeats) are recorded with the
statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class LockRule:
    max_period: int = 8
    min_repeats: int = 4


def attractor_period(ids: Sequence[int], rule: LockRule = LockRule()) -> int | None:
    """The shortest period p ≤ max_period whose last p·min_repeats tokens are one p-gram repeated, else None."""
    for p in range(1, rule.max_period + 1):
        span = p * rule.min_repeats
        if len(ids) < span:
            break
        tail = list(ids[-span:])
        if all(tail[i] == tail[i % p] for i in range(span)):
            return p
    return None


def think_statistics(traces: Sequence[dict[str, Any]], budget: int, rule: LockRule = LockRule()) -> dict[str, Any]:
    """Per-task summary of think records (`stop_reason`, `length`, `ids`)."""
    n = len(traces)
    if n == 0:
        return {"n": 0}
    lengths = np.array([t["length"] for t in traces])
    reasons = [t["stop_reason"] for t in traces]
    locked = [attractor_period(t["ids"], rule) is not None for t in traces]
    edges = np.linspace(0, max(budget, 1), 9)
    hist, _ = np.histogram(lengths, bins=edges)
    p_close = [t["p_close"] for t in traces if t.get("p_close") is not None]
    return {
        "n": n,
        "termination_rate": reasons.count("closed") / n,
        "eos_rate": reasons.count("eos") / n,
        "forced_close_count": reasons.count("forced"),
        "median_think_length": float(np.median(lengths)),
        "mean_think_length": float(lengths.mean()),
        "think_length_histogram": {"edges": [float(e) for e in edges], "counts": [int(c) for c in hist]},
        "attractor_lock_rate": float(np.mean(locked)),
        "attractor_rule": {"max_period": rule.max_period, "min_repeats": rule.min_repeats},
        "mean_p_close": float(np.mean(p_close)) if p_close else None,
    }
