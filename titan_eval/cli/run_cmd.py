"""`titan-eval run TASK...`: evaluate a model and store the run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from rich.console import Console

from titan_eval.cli.errors import exits_on_error
from titan_eval.cli.options import (LM_EVAL_PANEL, MODEL_PANEL, SELECT_PANEL, THINK_PANEL, BatchOpt, CheckpointOpt,
                                    CotOpt, DataDirOpt, DeterministicOpt, DeviceOpt, DtypeOpt, FewshotSeedOpt,
                                    IncludePathOpt, KernelsOpt, LimitOpt, MinThinkOpt, ModelOpt, ModeOpt,
                                    NumFewshotOpt, PassKOpt, SamplesOpt, SeedOpt,
                                    StratifyOpt, TemperatureOpt, ThinkBudgetOpt, TokenizerOpt, TopKOpt, TopPOpt,
                                    TrustOpt, ints_of, modes_of)
from titan_eval.cards import ModelCard, load_card
from titan_eval.chat_templates import CHAT_TEMPLATES
from titan_eval.errors import RankFailure, UsageError
from titan_eval.run_options import RunOptions

if TYPE_CHECKING:
    from titan_eval.distributed import Dist
    from titan_eval.run_lock import RunLock

console = Console(stderr=True)
SELECT, THINK, PROMPT, NATIVE, OUT = SELECT_PANEL, THINK_PANEL, "Prompt", "Native suites", "Output"
CODE = "Code tasks"  # humaneval, mbpp …: model-written programs run in a sandbox (titan_eval.code)
LM_EVAL = LM_EVAL_PANEL
"""`run --help` panels (with `MODEL_PANEL`); help strings stay short enough for 80 columns."""


def run_command(
    tasks: Annotated[list[str], typer.Argument(metavar="TASK", help="Task names: see `titan-eval tasks`.",
                                               show_default=False)],
    model: ModelOpt = "titan-tiny",
    checkpoint: CheckpointOpt = None,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    trust_checkpoint: TrustOpt = False,
    kernels: KernelsOpt = "auto",
    batch_size: BatchOpt = 8,
    no_prefix_reuse: Annotated[bool, typer.Option("--no-prefix-reuse", help="Score every choice's full row.",
                                                  rich_help_panel=MODEL_PANEL)] = False,
    deterministic: DeterministicOpt = False,
    data_dir: DataDirOpt = None,
    include_path: IncludePathOpt = None,
    limit: LimitOpt = None,
    stratify: StratifyOpt = False,
    seed: SeedOpt = 0,
    cot: CotOpt = False,
    mode: ModeOpt = None,
    think_budget: ThinkBudgetOpt = 256,
    min_think: MinThinkOpt = 0,
    temperature: TemperatureOpt = 0.0,
    top_p: TopPOpt = 1.0,
    top_k: TopKOpt = 0,
    repetition_penalty: Annotated[float, typer.Option(help="Sign-aware; 1.0 = off.", rich_help_panel=THINK)] = 1.0,
    penalty_window: Annotated[int, typer.Option(help="Tokens the penalty looks back.", rich_help_panel=THINK)] = 20,
    samples: SamplesOpt = 1,
    pass_k: PassKOpt = None,
    num_fewshot: NumFewshotOpt = None,
    fewshot_seed: FewshotSeedOpt = None,
    gen_kwargs: Annotated[Optional[str], typer.Option(help="generate_until tasks: k=v,… (lm-eval's --gen_kwargs).",
                                                      rich_help_panel=LM_EVAL)] = None,
    system_instruction: Annotated[Optional[str], typer.Option(help="Text before every lm-eval prompt.",
                                                              rich_help_panel=LM_EVAL)] = None,
    apply_chat_template: Annotated[bool, typer.Option("--apply-chat-template", help="ll: prompts in the card's "
                                                      "chat template, examples as turns.",
                                                      rich_help_panel=LM_EVAL)] = False,
    list_choices: Annotated[bool, typer.Option("--list-choices/--no-list-choices", help="cot: list the choices.",
                                               rich_help_panel=PROMPT)] = True,
    template: Annotated[Optional[str], typer.Option(help="Named template or text with {question}.",
                                                    rich_help_panel=PROMPT)] = None,
    preamble: Annotated[Optional[str], typer.Option(help="cot: text before questions.",
                                                    rich_help_panel=PROMPT)] = None,
    suite: Annotated[Optional[str], typer.Option(help="reasoning85: a suite JSONL file.", rich_help_panel=NATIVE)] = None,
    probes: Annotated[Optional[str], typer.Option(help="fact_margins: probes JSONL or YAML.", rich_help_panel=NATIVE)] = None,
    text: Annotated[Optional[str], typer.Option(help="bpb: the text file to score.", rich_help_panel=NATIVE)] = None,
    contamination: Annotated[Optional[str], typer.Option(help="reasoning85: report or id list.",
                                                         rich_help_panel=NATIVE)] = None,
    answer_budget: Annotated[Optional[int], typer.Option(help="reasoning85: answer tokens (32).",
                                                         rich_help_panel=NATIVE)] = None,
    unsafe_code: Annotated[bool, typer.Option("--unsafe-code", help="No bubblewrap: rlimits only.",
                                              rich_help_panel=CODE)] = False,
    code_workers: Annotated[Optional[int], typer.Option(help="Programs at once (default: cores).",
                                                        rich_help_panel=CODE)] = None,
    code_timeout: Annotated[Optional[float], typer.Option(help="Seconds per program (10).",
                                                          rich_help_panel=CODE)] = None,
    output: Annotated[Optional[str], typer.Option(help="Run folder (default results/<run_id>).",
                                                  rich_help_panel=OUT)] = None,
    resume: Annotated[Optional[str], typer.Option(help="Continue the unfinished run in this folder.",
                                                  rich_help_panel=OUT)] = None,
    allow_invalid: Annotated[bool, typer.Option("--allow-invalid", help="Score around NaN/Inf docs.",
                                                rich_help_panel=OUT)] = False,
    telemetry: Annotated[bool, typer.Option("--telemetry", help="Also write mechanistic telemetry.",
                                            rich_help_panel=OUT)] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout.", rich_help_panel=OUT)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines on stderr.", rich_help_panel=OUT)] = False,
) -> None:
    """Evaluate MODEL on TASKS; write run.json + samples.jsonl; print a markdown table."""
    modes = modes_of(cot, mode)
    if resume and output and resume != output:
        raise UsageError("--resume DIR and --output name different folders")
    options = RunOptions(tasks=tuple(tasks), modes=modes, data_dir=data_dir, limit=limit, stratify=stratify, seed=seed,
                         batch_size=batch_size, reuse_prefix=not no_prefix_reuse, output_dir=resume or output,
                         resume=resume is not None, allow_invalid=allow_invalid, deterministic=deterministic,
                         include_path=include_path, num_fewshot=num_fewshot, fewshot_seed=fewshot_seed,
                         gen_kwargs=gen_kwargs, system_instruction=system_instruction,
                         apply_chat_template=apply_chat_template, pass_k=ints_of(pass_k, "--pass-k"),
                         unsafe_code=unsafe_code, code_workers=code_workers, code_timeout=code_timeout,
                         think={"think_budget": think_budget, "min_think": min_think, "temperature": temperature,
                                "top_p": top_p, "top_k": top_k, "repetition_penalty": repetition_penalty,
                                "penalty_window": penalty_window, "preamble": preamble, "samples": samples,
                                "list_choices": list_choices},
                         native={k: v for k, v in {"suite": suite, "probes": probes, "text": text, "contamination": contamination,
                                                    "answer_budget": answer_budget}.items() if v is not None},
                         telemetry=telemetry)
    options.validate()  # everything that needs no model, before it loads (and before torch / lm-eval import)
    if include_path is not None:
        console.print(f"note: --include-path {include_path}: its task YAMLs can import Python from that folder "
                      "(`!function`), with the same trust as running your own code", highlight=False, soft_wrap=True)
    card = load_card(model)  # an unknown card fails now too
    if apply_chat_template and card.prompt.chat_template is None:
        raise UsageError(f"--apply-chat-template: card {card.name} names no chat template (prompt.chat_template: "
                         f"one of {', '.join(sorted(CHAT_TEMPLATES))})")
    if template is not None:
        resolve_template(template)  # an unknown name fails now, not after the model loaded
    from titan_eval import distributed
    from titan_eval.cli.run_guard import run_guard
    from titan_eval.output_dir import prepare_output_dir
    from titan_eval.paths import results_dir

    launched = distributed.from_env()
    if launched.is_main:  # only rank 0 writes: the others never touch the output folder
        prepare_output_dir(Path(options.output_dir) if options.output_dir else results_dir())  # writable, room to write
    with run_guard(console, options.output_dir, launched.is_main, not launched.active) as lock, \
            distributed.session(device) as dist:
        try:
            _evaluate(dist, options, card, checkpoint, tokenizer, device, dtype, trust_checkpoint, kernels, template,
                      tasks, json_out, quiet, lock)
        except RankFailure as err:
            if not dist.is_main and err.__cause__ is None:  # rank 0 and the failed rank say it; the rest exit
                raise typer.Exit(err.exit_code) from None
            raise


def _evaluate(dist: Dist, options: RunOptions, card: ModelCard, checkpoint: Optional[str], tokenizer: Optional[str],
              device: Optional[str], dtype: Optional[str], trust_checkpoint: bool, kernels: str,
              template: Optional[str], tasks: list[str], json_out: bool, quiet: bool = False,
              lock: Optional["RunLock"] = None) -> None:
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
        run_dir, record = run(loaded, options, progress, dist, lock)
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
