"""`titan-eval sweep TASK... --model CARD --checkpoints SPEC`: evaluate every checkpoint of a training run on the
same documents and seeds; print the trend table (or --json / --csv), write sweep.json, the runs and the plots.

Exit codes: 0 ok; 1 the newest step fails `--gate-against`; 2 usage errors and incomparable steps; 3 a step failed
(its checkpoint does not fit the card, or a model error), after the table of the others is printed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from titan_eval.cli.errors import exits_on_error
from titan_eval.cli.options import (SELECT_PANEL, BatchOpt, CotOpt, DataDirOpt, DeterministicOpt, DeviceOpt, DtypeOpt,
                                    FewshotSeedOpt, IncludePathOpt, KernelsOpt, LimitOpt, MinThinkOpt, ModelOpt,
                                    ModeOpt, NumFewshotOpt, PassKOpt,
                                    SamplesOpt, SeedOpt, StratifyOpt, TemperatureOpt, ThinkBudgetOpt, TokenizerOpt,
                                    TopKOpt, TopPOpt, TrustOpt, ints_of, modes_of)
from titan_eval.errors import GateRegression, ModelError, UsageError

console = Console(stderr=True)
SWEEP, SELECT, REPORT = "Sweep", SELECT_PANEL, "Report"


def sweep_command(
    tasks: Annotated[list[str], typer.Argument(metavar="TASK", help="Task names: see `titan-eval tasks`.",
                                               show_default=False)],
    checkpoints: Annotated[list[str], typer.Option("--checkpoints", help="Glob, folder or file; repeatable.",
                                                   rich_help_panel=SWEEP, show_default=False)],
    model: ModelOpt = "titan-tiny",
    step_regex: Annotated[Optional[str], typer.Option(help="Read the step from the name (group 1).",
                                                      rich_help_panel=SWEEP)] = None,
    output: Annotated[Optional[str], typer.Option(help="Sweep folder (default results/sweep-<card>).",
                                                  rich_help_panel=SWEEP)] = None,
    settle: Annotated[float, typer.Option(help="Seconds a file's size must hold still.",
                                          rich_help_panel=SWEEP)] = 1.0,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    trust_checkpoint: TrustOpt = False,
    kernels: KernelsOpt = "auto",
    batch_size: BatchOpt = 8,
    deterministic: DeterministicOpt = False,
    data_dir: DataDirOpt = None,
    include_path: IncludePathOpt = None,
    limit: LimitOpt = None,
    stratify: StratifyOpt = False,
    seed: SeedOpt = 0,
    num_fewshot: NumFewshotOpt = None,
    fewshot_seed: FewshotSeedOpt = None,
    cot: CotOpt = False,
    mode: ModeOpt = None,
    think_budget: ThinkBudgetOpt = 256,
    min_think: MinThinkOpt = 0,
    temperature: TemperatureOpt = 0.0,
    top_p: TopPOpt = 1.0,
    top_k: TopKOpt = 0,
    samples: SamplesOpt = 1,
    pass_k: PassKOpt = None,
    text: Annotated[Optional[str], typer.Option(help="bpb: the text file to score.", rich_help_panel=SELECT)] = None,
    window: Annotated[Optional[int], typer.Option(help="bpb: tokens per window (1024).",
                                                  rich_help_panel=SELECT)] = None,
    probes: Annotated[Optional[str], typer.Option(help="fact_margins: probes JSONL or YAML.",
                                                  rich_help_panel=SELECT)] = None,
    reference: Annotated[Optional[int], typer.Option(help="Step the changes are also taken against (first).",
                                                     rich_help_panel=REPORT)] = None,
    metric: Annotated[Optional[str], typer.Option(help="Metrics shown, comma-separated (default all).",
                                                  rich_help_panel=REPORT)] = None,
    alpha: Annotated[float, typer.Option(help="1 − confidence; the Holm level.", rich_help_panel=REPORT)] = 0.05,
    gate_against: Annotated[Optional[str], typer.Option(help="Gate the newest step: best, first or a STEP.",
                                                        rich_help_panel=REPORT)] = None,
    max_drop: Annotated[float, typer.Option(help="--gate-against: largest tolerated drop.",
                                            rich_help_panel=REPORT)] = 0.01,
    gate_metric: Annotated[str, typer.Option(help="--gate-against: metrics gated.",
                                             rich_help_panel=REPORT)] = "acc,acc_norm",
    json_out: Annotated[bool, typer.Option("--json", help="The numbers as JSON on stdout.",
                                           rich_help_panel=REPORT)] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="The numbers as CSV on stdout.",
                                          rich_help_panel=REPORT)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")] = False,
) -> None:
    """Evaluate every checkpoint of a training run; print the trend table with real-vs-noise changes."""
    from titan_eval.cards import load_card
    from titan_eval.run_options import RunOptions

    if json_out and csv_out:
        raise UsageError("--json and --csv: choose one")
    if not 0.0 < alpha < 1.0:
        raise UsageError(f"--alpha must lie in (0, 1), got {alpha}")
    if window is not None and window < 1:
        raise UsageError("--window must be at least 1 token")
    if settle < 0:
        raise UsageError("--settle must be at least 0")
    from titan_eval.think_options import ThinkOptions

    given = {"think_budget": think_budget, "min_think": min_think, "temperature": temperature, "top_p": top_p,
             "top_k": top_k, "samples": samples}
    defaults = ThinkOptions()
    think = {k: v for k, v in given.items() if v != getattr(defaults, k)}  # only what differs is the sweep's identity
    options = RunOptions(tasks=tuple(tasks), modes=modes_of(cot, mode), data_dir=data_dir, limit=limit,
                         stratify=stratify, seed=seed, batch_size=batch_size, num_fewshot=num_fewshot,
                         fewshot_seed=fewshot_seed, deterministic=deterministic, include_path=include_path,
                         pass_k=ints_of(pass_k, "--pass-k"), think=think,
                         native={k: v for k, v in {"text": text, "probes": probes, "window": window}.items()
                                 if v is not None})
    options.validate()
    card = load_card(model)
    from titan_eval.output_dir import prepare_output_dir, sanitise_name
    from titan_eval.paths import results_dir
    from titan_eval.sweep.sweep_run import SweepConfig, run_sweep
    from titan_eval.sweep.weights import LoadSettings

    folder = prepare_output_dir(Path(output) if output else results_dir() / f"sweep-{sanitise_name(card.name)}")
    config = SweepConfig(tuple(checkpoints), folder, options,
                         LoadSettings(card, tokenizer, device, dtype, trust_checkpoint, kernels), step_regex, settle)
    from titan_eval.cli.progress_view import run_progress

    def notice(line: str) -> None:
        console.print(f"note: {line}", highlight=False, soft_wrap=True)

    started = time.perf_counter()
    with run_progress(console, quiet=quiet) as progress:
        outcome = run_sweep(config, progress, notice)
    console.print(f"sweep {folder}: {len(outcome.evaluated)} step(s) evaluated now, {outcome.builds} model "
                  f"build(s), {len(outcome.record.complete())} complete ({time.perf_counter() - started:.1f} s)",
                  highlight=False, soft_wrap=True)
    started = time.perf_counter()
    try:
        _report(folder, outcome, reference, metric, alpha, json_out, csv_out, gate_against, max_drop, gate_metric)
    finally:
        console.print(f"report (table, paired tests, plots): {time.perf_counter() - started:.1f} s", highlight=False,
                      soft_wrap=True)
    if outcome.failed:
        step, message = next(iter(outcome.failed.items()))
        raise ModelError(f"{len(outcome.failed)} step(s) failed; step {step}: {message}")


def _report(folder: Path, outcome: object, reference: Optional[int], metric: Optional[str], alpha: float,
            json_out: bool, csv_out: bool, gate_against: Optional[str], max_drop: float, gate_metric: str) -> None:
    """Print the table (or JSON / CSV), write the plots, and gate the newest step when asked."""
    from titan_eval.sweep.plot import plot_trend
    from titan_eval.sweep.table import to_csv, to_json, to_markdown
    from titan_eval.sweep.trend import build_trend, read_steps

    record = outcome.record  # type: ignore[attr-defined]
    steps = read_steps(folder, record.complete())
    if not steps:
        console.print("no complete step yet: nothing to tabulate", highlight=False, soft_wrap=True)
        return
    metrics = [m.strip() for m in metric.split(",") if m.strip()] if metric else None
    trend = build_trend(steps, reference, alpha, metrics)
    render = to_json if json_out else to_csv if csv_out else to_markdown
    typer.echo(render(trend), nl=False)
    plots = plot_trend(trend, folder / "plots")
    console.print(f"{len(plots)} plot(s) in {folder / 'plots'}", highlight=False, soft_wrap=True)
    if gate_against is not None:
        from titan_eval.sweep.gate_newest import gate_newest

        names = [m.strip() for m in gate_metric.split(",") if m.strip()]
        verdict = gate_newest(steps, gate_against, names, max_drop, alpha)
        (console.print if (json_out or csv_out) else typer.echo)(verdict.to_markdown())
        if not verdict.passed:
            raise GateRegression(verdict.summary())


def register(app: typer.Typer) -> None:
    app.command("sweep")(exits_on_error(sweep_command))
