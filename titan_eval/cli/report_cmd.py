"""`titan-eval compare` and `titan-eval gate`: thin wrappers over `titan_eval.report` (semantics: docs/gates.md),
imported when a command runs so that `titan-eval --help` starts fast."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from titan_eval.cli.errors import exits_on_error
from titan_eval.errors import GateRegression, IncomparableRunsError, UsageError


class TableFormat(str, enum.Enum):
    md = "md"
    csv = "csv"
    json = "json"


def _split(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    if not items:
        raise UsageError(f"expected a comma-separated list, got {text!r}")
    return items


RunsArg = Annotated[list[Path], typer.Argument(help="Run directories (or their run.json).", show_default=False)]
RunArg = Annotated[Path, typer.Argument(help="A run directory (or its run.json).", show_default=False)]
BaselineOpt = Annotated[Optional[Path], typer.Option(help="Run the deltas are taken against (default: the first RUN).")]
LiteratureOpt = Annotated[
    Optional[list[str]], typer.Option(help="Literature YAML, model card YAML or card name; repeatable.")
]
ByOpt = Annotated[Optional[str], typer.Option(help="Also group rows by this per-sample field, e.g. category.")]
FormatOpt = Annotated[TableFormat, typer.Option("--format", help="Output format.")]
MetricOpt = Annotated[str, typer.Option(
    help="Comma-separated metrics to gate (a bare name covers each lm-eval filter of it); all: every metric.")]
MaxDropOpt = Annotated[float, typer.Option(help="Largest tolerated drop (absolute; 0.01 = one point).")]
TasksOpt = Annotated[Optional[str], typer.Option(help="Comma-separated result keys (default: all of the baseline's).")]
VerdictOpt = Annotated[Optional[Path], typer.Option(help="Also write the markdown verdict here (for CI comments).")]


def compare(
    runs: RunsArg,
    baseline: BaselineOpt = None,
    literature: LiteratureOpt = None,
    by: ByOpt = None,
    fmt: FormatOpt = TableFormat.md,
    alpha: Annotated[float, typer.Option(help="1 − confidence level of the intervals.")] = 0.05,
    power: Annotated[float, typer.Option(help="Power the minimum detectable effect (mde) is stated at.")] = 0.8,
    cluster_by: Annotated[Optional[str], typer.Option(
        help="Cluster every key's documents on this per-sample field (default: the tasks' declared keys).")] = None,
) -> None:
    """Table of tasks × runs: value [95% CI] n, and paired deltas against the baseline (Holm-adjusted, with mde)."""
    from titan_eval.report import CompareConfig, compare_runs, load_literature, load_run

    table = compare_runs(
        [load_run(r) for r in runs],
        baseline=load_run(baseline) if baseline is not None else None,
        literature=[column for ref in literature or () for column in load_literature(ref)],
        config=CompareConfig(alpha=alpha, by=by, power=power, cluster_by=cluster_by),
    )
    render = {TableFormat.md: table.to_markdown, TableFormat.csv: table.to_csv, TableFormat.json: table.to_json}
    typer.echo(render[fmt](), nl=False)


def _emit(text: str, verdict_file: Path | None) -> None:
    typer.echo(text, nl=False)
    if verdict_file is not None:
        verdict_file.write_text(text, encoding="utf-8")


class GateRule(str, enum.Enum):
    non_inferiority = "non-inferiority"
    regression = "regression"


RuleOpt = Annotated[GateRule, typer.Option(
    help="non-inferiority: pass only when the drop's upper bound < --max-drop; regression: fail only when its lower "
         "bound > --max-drop.")]


def gate(
    baseline: RunArg,
    candidate: RunArg,
    metric: MetricOpt = "acc,acc_norm",
    max_drop: MaxDropOpt = 0.01,
    rule: RuleOpt = GateRule.non_inferiority,
    alpha: Annotated[float, typer.Option(help="Error rate of the gate, split over its checks.")] = 0.05,
    tasks: TasksOpt = None,
    verdict_file: VerdictOpt = None,
) -> None:
    """Exit 0 pass, 1 fail (under --rule, at --alpha), 2 not comparable; prints the bounds and the verdict."""
    from titan_eval.report import GateConfig, evaluate_gate, load_run
    from titan_eval.report.gate_verdict import incomparable_markdown

    config = GateConfig(metrics=_split(metric) or (), max_drop=max_drop, alpha=alpha, rule=rule.value,
                        tasks=_split(tasks))
    base_run, cand_run = load_run(baseline), load_run(candidate)
    try:
        verdict = evaluate_gate(base_run, cand_run, config)
    except IncomparableRunsError as err:
        _emit(incomparable_markdown(base_run.label, cand_run.label, str(err)), verdict_file)
        raise
    _emit(verdict.to_markdown(), verdict_file)
    if not verdict.passed:
        raise GateRegression(verdict.summary())


def register(app: typer.Typer) -> None:
    """Add `compare` and `gate` to the app."""
    app.command("compare")(exits_on_error(compare))
    app.command("gate")(exits_on_error(gate))
    from titan_eval.cli.plan_cmd import plan

    app.command("plan")(exits_on_error(plan))
