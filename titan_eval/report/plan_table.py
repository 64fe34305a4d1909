"""`titan-eval plan`'s table: per (key, metric) the assumptions and the documents a gate check needs
(`report.planning`)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from titan_eval.errors import UsageError
from titan_eval.report.planning import PlanSetting, assumed_discordance, binary_n, binary_power, continuous_n


def plan_row(row: Mapping[str, Any], setting: PlanSetting) -> dict[str, str]:
    """One table line. row: key, metric, rate (0/1 metrics) or sd (others), psi (None: assumed from rate), source,
    n_run (the run's documents, or None)."""
    n_run = row.get("n_run")
    if row.get("rate") is not None:
        psi = row["psi"] if row.get("psi") is not None else assumed_discordance(float(row["rate"]))
        n = binary_n(psi, setting)
        power_now = f"{binary_power(int(n_run), psi, setting):.3f}" if n_run else "—"
        spread = f"ψ = {psi:.4f} ({row['source']})"
        base = f"{float(row['rate']):.4f}"
    else:
        if row.get("sd") is None:
            raise UsageError(f"{row['key']}/{row['metric']}: no SD of paired differences to plan with")
        n = continuous_n(float(row["sd"]), setting)
        power_now, spread, base = "—", f"s_d = {float(row['sd']):.4g} ({row['source']})", "—"
    return {"task": str(row["key"]), "metric": str(row["metric"]), "baseline": base, "spread": spread,
            "n needed": f"{n:,}", "n in run": "—" if not n_run else f"{int(n_run):,}", "power at run's n": power_now}


def plan_markdown(rows: Sequence[Mapping[str, Any]], *, max_drop: float, alpha: float, power: float, rule: str,
                  true_drop: float, checks: int) -> str:
    """The rule and assumptions in one sentence, then one markdown line per row."""
    setting = PlanSetting(max_drop, true_drop, alpha / checks, power, rule)
    lines = [plan_row(r, setting) for r in rows]
    goal = ("pass (upper bound < margin)" if rule == "non-inferiority" else "fail (lower bound > margin)")
    head = (f"Plan for a **{rule}** gate: margin {max_drop:g}, true drop {true_drop:g}, α = {alpha:g} split over "
            f"{checks} check(s) (α/check = {alpha / checks:.4g}); n for a {power:.0%} chance to {goal}. "
            f"Formulas: docs/gates.md#planning (Nam 1997 score test for 0/1 metrics).")
    cols = list(lines[0]) if lines else []
    table = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    table += ["| " + " | ".join(line[c] for c in cols) + " |" for line in lines]
    return "\n".join([head, "", *table]) + "\n"
