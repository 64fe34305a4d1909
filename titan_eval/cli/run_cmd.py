"""`titan-eval run TASK...`: evaluate a model and store the run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from titan_eval.cli.errors import exits_on_error
from titan_eval.cli.options import (BatchOpt, CheckpointOpt, DeviceOpt, DtypeOpt, KernelsOpt, ModelOpt, SeedOpt,
                                    TokenizerOpt, TrustOpt)
from titan_eval.cards import ModelCard, load_card
from titan_eval.errors import RankFailure, UsageError
from titan_eval.run_options import RunOptions

if TYPE_CHECKING:
    from titan_eval.distributed import Dist

console = Console(stderr=True)


def run_command(
    tasks: Annotated[list[str], typer.Argument(help="Tasks: hellaswag, arc_easy, arc_challenge, titan_sample, …")],
    model: ModelOpt = "titan-tiny",
    checkpoint: CheckpointOpt = None,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    trust_checkpoint: TrustOpt = False,
    kernels: KernelsOpt = "auto",
    data_dir: Annotated[Optional[str], typer.Option(help="Folder with the original release files (offline).")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Score N docs per task (first N, or stratified).")] = None,
    stratify: Annotated[bool, typer.Option(help="With --limit: seeded stratified sample (fields in the README).")] = False,
    seed: SeedOpt = 0,
    batch_size: BatchOpt = 8,
    cot: Annotated[bool, typer.Option("--cot", help="Think-then-answer mode (same as --mode cot).")] = False,
    mode: Annotated[Optional[str], typer.Option(help="ll, cot, or ll,cot for both side by side.")] = None,
    think_budget: Annotated[int, typer.Option(help="cot: max think tokens before the block is closed (forced).")] = 256,
    min_think: Annotated[int, typer.Option(help="cot: think closer and EOS banned before this many tokens.")] = 0,
    temperature: Annotated[float, typer.Option(help="cot: 0 = greedy; > 0 samples with per-doc seeds.")] = 0.0,
    top_p: Annotated[float, typer.Option(help="cot sampling: nucleus mass.")] = 1.0,
    top_k: Annotated[int, typer.Option(help="cot sampling: keep k best tokens (0 = all).")] = 0,
    repetition_penalty: Annotated[float, typer.Option(help="cot: sign-aware penalty (1.0 = off).")] = 1.0,
    penalty_window: Annotated[int, typer.Option(help="cot: generated tokens the penalty looks back over.")] = 20,
    samples: Annotated[int, typer.Option(help="cot: K seeded traces per doc (needs --temperature > 0); mean ± CI.")] = 1,
    list_choices: Annotated[bool, typer.Option("--list-choices/--no-list-choices", help="cot: show the choices as 'Choices: (A) … (B) …' in the prompt.")] = True,
    template: Annotated[Optional[str], typer.Option(help="Prompt template for cot/suites: a name (helix-v2, plain-qa-de, raw) or text with {question}.")] = None,
    preamble: Annotated[Optional[str], typer.Option(help="cot: text before each question (default: a one-line instruction).")] = None,
    suite: Annotated[Optional[str], typer.Option(help="reasoning85: a suite JSONL file in the documented schema.")] = None,
    probes: Annotated[Optional[str], typer.Option(help="fact_margins: a probes JSONL or Helix margin-probe YAML.")] = None,
    text: Annotated[Optional[str], typer.Option(help="bpb: the text file to score.")] = None,
    contamination: Annotated[Optional[str], typer.Option(help="reasoning85: a contamination report (or id list); clean and flagged subsets are reported.")] = None,
    answer_budget: Annotated[Optional[int], typer.Option(help="reasoning85: max answer tokens after the think closer (default 32).")] = None,
    telemetry: Annotated[bool, typer.Option(help="Also write mechanistic telemetry (numbers + plots) beside the run.")] = False,
    no_prefix_reuse: Annotated[bool, typer.Option(help="Run every choice's full row (for checking reuse).")] = False,
    output: Annotated[Optional[str], typer.Option(help="Run folder (default results/<run_id>); an unfinished run there is resumed.")] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue the killed/failed run in this folder (same options and model, else exit 2).")] = None,
    allow_invalid: Annotated[bool, typer.Option(help="Score around documents with NaN/Inf log-likelihoods (counted in run.json) instead of exit 3.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print run.json's results to stdout instead of the table.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.")] = False,
) -> None:
    """Evaluate MODEL on TASKS; write run.json + samples.jsonl; print a markdown table."""
    modes = tuple((mode or ("cot" if cot else "ll")).split(","))
    if cot and mode and "cot" not in modes:
        raise UsageError("--cot contradicts --mode")
    if resume and output and resume != output:
        raise UsageError("--resume DIR and --output name different folders")
    options = RunOptions(tasks=tuple(tasks), modes=modes, data_dir=data_dir, limit=limit, stratify=stratify, seed=seed,
                         batch_size=batch_size, reuse_prefix=not no_prefix_reuse, output_dir=resume or output,
                         resume=resume is not None, allow_invalid=allow_invalid,
                         think={"think_budget": think_budget, "min_think": min_think, "temperature": temperature,
                                "top_p": top_p, "top_k": top_k, "repetition_penalty": repetition_penalty,
                                "penalty_window": penalty_window, "preamble": preamble, "samples": samples,
                                "list_choices": list_choices},
                         native={k: v for k, v in {"suite": suite, "probes": probes, "text": text, "contamination": contamination,
                                                    "answer_budget": answer_budget}.items() if v is not None},
                         telemetry=telemetry)
    options.validate()  # everything that needs no model, before it loads (and before torch / lm-eval import)
    card = load_card(model)  # an unknown card fails now too
    if template is not None:
        resolve_template(template)  # an unknown name fails now, not after the model loaded
    from titan_eval import distributed
    from titan_eval.cli.run_guard import run_guard
    from titan_eval.output_dir import prepare_output_dir
    from titan_eval.paths import results_dir

    launched = distributed.from_env()
    if launched.is_main:  # only rank 0 writes: the others never touch the output folder
        prepare_output_dir(Path(options.output_dir) if options.output_dir else results_dir())  # writable, room to write
    with run_guard(console, options.output_dir, launched.is_main, not launched.active), \
            distributed.session(device) as dist:
        try:
            _evaluate(dist, options, card, checkpoint, tokenizer, device, dtype, trust_checkpoint, kernels, template,
                      tasks, json_out, quiet)
        except RankFailure as err:
            if not dist.is_main and err.__cause__ is None:  # rank 0 and the failed rank say it; the rest exit
                raise typer.Exit(err.exit_code) from None
            raise


def _evaluate(dist: Dist, options: RunOptions, card: ModelCard, checkpoint: Optional[str], tokenizer: Optional[str],
              device: Optional[str], dtype: Optional[str], trust_checkpoint: bool, kernels: str,
              template: Optional[str], tasks: list[str], json_out: bool, quiet: bool = False) -> None:
    """Load (on this rank's device), run (rank 0 shows progress unless `quiet`), and on rank 0 print the table
    (or --json) and where the run is."""
    from titan_eval.cli.progress_view import run_progress
    from titan_eval.distributed import exchange
    from titan_eval.loading import load
    from titan_eval.runner import run
    from titan_eval.summary import markdown_summary

    loaded, error = None, None
    try:
        loaded = load(card, checkpoint, tokenizer, dist.device(device), dtype, trust_checkpoint, kernels)
    except Exception as err:  # a rank that cannot load stops every rank before anything is written
        error = err
    exchange(dist, None, error)
    assert loaded is not None
    if template is not None:
        loaded.card = with_template(loaded.card, template)
    with run_progress(console, quiet=quiet or not dist.is_main) as progress:
        run_dir, record = run(loaded, options, progress, dist)
    if not dist.is_main:
        return
    if json_out:
        import json

        typer.echo(json.dumps(record.to_json()["results"], indent=2))
    else:
        typer.echo(markdown_summary(record))
    where = f" (gathered from {dist.world_size} ranks)" if dist.active else ""
    console.print(f"run stored in {run_dir}{where}", highlight=False)


def resolve_template(template: str) -> str:
    """A named template (titan_eval.chat_templates) or a literal containing {question}."""
    from titan_eval.chat_templates import prompt_template

    return template if "{question}" in template else prompt_template(template)


def with_template(card: ModelCard, template: str) -> ModelCard:
    """The card with its prompt template replaced by a named template or a literal containing {question}."""
    return replace(card, prompt=replace(card.prompt, template=resolve_template(template)))


def register(app: typer.Typer) -> None:
    app.command("run")(exits_on_error(run_command))
