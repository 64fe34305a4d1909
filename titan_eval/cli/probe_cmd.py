"""`titan-eval probe`: mechanistic telemetry of one model on a suite's prompts (titan_eval.telemetry.probe)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from titan_eval.cli.errors import exits_on_error
from titan_eval.cli.options import (BatchOpt, CheckpointOpt, DeviceOpt, DtypeOpt, KernelsOpt, ModelOpt, SeedOpt,
                                    TokenizerOpt, TrustOpt)
from titan_eval.paths import results_dir

console = Console(stderr=True)


def probe_command(
    model: ModelOpt = "titan-tiny",
    suite: Annotated[str, typer.Option(help="reasoning85 (tasks/reasoning85, built-in fallback if absent) or a JSONL file.")] = "reasoning85",
    span: Annotated[str, typer.Option(help="prompt | think | answer: the positions the statistics cover.")] = "prompt",
    positions: Annotated[str, typer.Option(help="Blackboard KL at the last prompt position (last) or every span position (all).")] = "last",
    think_budget: Annotated[int, typer.Option(help="think/answer spans: greedy trace tokens at most.")] = 16,
    answer_budget: Annotated[int, typer.Option(help="think/answer spans: greedy answer tokens at most.")] = 8,
    per_category: Annotated[Optional[int], typer.Option(help="At most N prompts per category (default all).")] = None,
    output: Annotated[Optional[str], typer.Option(help="Folder for probe.json, probe.md and the PNGs.")] = None,
    checkpoint: CheckpointOpt = None,
    tokenizer: TokenizerOpt = None,
    device: DeviceOpt = None,
    dtype: DtypeOpt = None,
    trust_checkpoint: TrustOpt = False,
    kernels: KernelsOpt = "auto",
    batch_size: BatchOpt = 8,
    seed: SeedOpt = 0,
    temperature: Annotated[float, typer.Option(help="think/answer spans: 0 = greedy; > 0 samples with per-prompt seeds.")] = 0.0,
) -> None:
    """Routing anatomy, arm collapse, blackboard KL, signal growth and the termination vault, with plots."""
    from titan_eval.loading import load
    from titan_eval.seeding import seed_everything
    from titan_eval.telemetry.probe import ProbeOptions, resolve_suite, run_probe
    from titan_eval.telemetry.report import write_report

    opts = ProbeOptions(span=span, positions=positions, think_budget=think_budget, answer_budget=answer_budget,
                        batch_size=batch_size, per_category=per_category, seed=seed, temperature=temperature)
    prompts, source = resolve_suite(suite)
    seed_everything(seed)
    loaded = load(model, checkpoint, tokenizer, device, dtype, trust_checkpoint, kernels)
    out = Path(output) if output else results_dir() / f"probe-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{loaded.card.name}"
    with console.status(f"probing {loaded.card.name} on {len(prompts)} prompts ({source})"):
        numbers = write_report(out, run_probe(loaded, prompts, opts, source))
    typer.echo(f"{out / numbers['report']}: {len(numbers['figures'])} figures ({', '.join(numbers['figures'].values())})")


def register(app: typer.Typer) -> None:
    app.command("probe")(exits_on_error(probe_command))
