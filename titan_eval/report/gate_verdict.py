"""The gate's verdict as text: one summary line for the CI log and a markdown block for a CI comment, both stating
the rule, α, each bound against the margin, n and the decision (semantics: `report.gate`, docs/gates.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from titan_eval.report.gate_types import GateCheck, GateConfig


@dataclass(frozen=True)
class GateVerdict:
    baseline: str
    candidate: str
    checks: tuple[GateCheck, ...]
    config: GateConfig

    @property
    def passed(self) -> bool:
        return not any(c.failed for c in self.checks)

    def summary(self) -> str:
        """One line for the error message / CI log."""
        return summary_line(self)

    def to_markdown(self) -> str:
        """The markdown verdict (CI comment)."""
        return verdict_markdown(self)


def _bound(x: float) -> str:
    return f"{x:+.4f}" if math.isfinite(x) else ("+inf" if x > 0 else "-inf")


def _decisive(verdict: GateVerdict, check: GateCheck) -> tuple[str, float]:
    """("upper"/"lower", value): the bound the rule decides on."""
    if verdict.config.rule == "non-inferiority":
        return "upper", check.upper
    return "lower", check.lower


def _check_phrase(verdict: GateVerdict, check: GateCheck) -> str:
    side, value = _decisive(verdict, check)
    relation = "≥" if verdict.config.rule == "non-inferiority" else ">"
    return (f"{check.key}/{check.metric} {side} bound {_bound(value)} {relation} margin {verdict.config.max_drop:g} "
            f"(drop {check.drop:+.4f}, n={check.n})")


def summary_line(verdict: GateVerdict) -> str:
    """One line: the rule, α and the failing checks (or how many passed)."""
    c = verdict.config
    head = f"({c.rule}, alpha={c.alpha:g}, {len(verdict.checks)} checks)"
    bad = [check for check in verdict.checks if check.failed]
    if not bad:
        return f"gate passed {head}"
    parts = []
    for check in bad:
        text = _check_phrase(verdict, check)
        if check.needs_n is not None:
            text += f"; cannot pass at n={check.n} whatever the candidate does, needs n >= {check.needs_n}"
        parts.append(text)
    return f"gate failed {head}: {verdict.candidate}: " + "; ".join(parts)


def _rule_sentence(verdict: GateVerdict) -> str:
    c = verdict.config
    m = len(verdict.checks)
    level = 100 * (1 - c.alpha / m)
    split = f"α = {c.alpha:g} split over {m} checks (Bonferroni, α/{m} each), so all bounds hold together with " \
            f"probability ≥ {100 * (1 - c.alpha):g}%" if m > 1 else f"α = {c.alpha:g}"
    if c.rule == "non-inferiority":
        return (f"Rule **non-inferiority**: a check passes only when the one-sided {level:.4g}% upper confidence bound "
                f"of its drop (baseline − candidate) is below the margin {c.max_drop:g}; {split}. A candidate that "
                f"truly lost {c.max_drop:g} or more passes with probability ≤ {c.alpha:g}.")
    return (f"Rule **regression**: a check fails only when the one-sided {level:.4g}% lower confidence bound of its "
            f"drop (baseline − candidate) is above the margin {c.max_drop:g}; {split}. A candidate that truly lost "
            f"{c.max_drop:g} or less fails with probability ≤ {c.alpha:g}.")


def _notes(verdict: GateVerdict) -> list[str]:
    notes = []
    for k in verdict.checks:
        if k.needs_n is not None:
            power = "" if k.planned_n == k.needs_n else (f"; for 80% power at this run's discordance "
                                                         f"({k.discordance:.4f}) n ≥ {k.planned_n}")
            clustered = "" if k.n_effective is None else f" (effective n {k.n_effective:.1f}: clustered documents)"
            notes.append(f"- **{k.key}/{k.metric} cannot pass at n = {k.n}{clustered} whatever the candidate does**: "
                         f"even with no changed document the upper bound is {_best(k):.4f} ≥ "
                         f"{verdict.config.max_drop:g}. At this margin and α a non-inferiority check needs n ≥ "
                         f"{k.needs_n}{power} (`titan-eval plan`).")
        elif k.failed and k.planned_n is not None and k.planned_n > k.n:
            notes.append(f"- {k.key}/{k.metric}: for 80% power at this run's discordance ({k.discordance:.4f}) and no "
                         f"true drop, a non-inferiority check needs n ≥ {k.planned_n} (`titan-eval plan`).")
    return notes


def _best(check: GateCheck) -> float:
    from titan_eval.report.paired_bounds import best_case_upper

    return best_case_upper(check.n_effective or check.n, check.alpha_check)


def verdict_markdown(verdict: GateVerdict) -> str:
    """The markdown block: heading with the decision, the rule sentence, a table of checks, notes."""
    c = verdict.config
    head = "✅ **Gate passed**" if verdict.passed else "❌ **Gate failed**"
    side = "upper" if c.rule == "non-inferiority" else "lower"
    lines = [
        f"### titan-eval gate: {head} ({c.rule}, α = {c.alpha:g})", "",
        f"Candidate `{verdict.candidate}` vs baseline `{verdict.baseline}`. {_rule_sentence(verdict)}", "",
        f"| task | metric | n | baseline | candidate | drop | lost/gained | {side} bound | margin | method | result |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for k in verdict.checks:
        bound = k.upper if side == "upper" else k.lower
        flips = "—" if k.losses is None else f"{k.losses}/{k.gains}"
        lines.append(f"| {k.key} | {k.metric} | {k.n} | {k.baseline:.4f} | {k.candidate:.4f} | {k.drop:+.4f} | "
                     f"{flips} | {_bound(bound)} | {c.max_drop:g} | {k.method} | {'**fail**' if k.failed else 'pass'} |")
    notes = _notes(verdict)
    return "\n".join(lines + ([""] + notes if notes else [])) + "\n"


def incomparable_markdown(baseline: str, candidate: str, reason: str) -> str:
    """The verdict text when the gate cannot run (exit 2)."""
    return (f"### titan-eval gate: ⚠️ **Runs not comparable**\n\nCandidate `{candidate}` vs baseline `{baseline}`: "
            f"{reason}\n")
