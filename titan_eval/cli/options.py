"""Typer option types shared by several commands. Help strings stay short: `--help` must read well at 80 columns,
piped as in a terminal; the model options share one help panel."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

MODEL_PANEL = "Model"

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Card name, card .yaml path or architecture.",
                                       rich_help_panel=MODEL_PANEL)]
CheckpointOpt = Annotated[Optional[str], typer.Option(help="Weights file or folder, or hf://org/repo/file.",
                                                      rich_help_panel=MODEL_PANEL)]
TokenizerOpt = Annotated[Optional[str], typer.Option(help="byte, a .model, a tokenizer.json or a hub id.",
                                                     rich_help_panel=MODEL_PANEL)]
DeviceOpt = Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 … (default: cuda if present).",
                                                  rich_help_panel=MODEL_PANEL)]
DtypeOpt = Annotated[Optional[str], typer.Option(help="float32, bfloat16, float16 (default: the card's).",
                                                 rich_help_panel=MODEL_PANEL)]
TrustOpt = Annotated[bool, typer.Option("--trust-checkpoint", help="Unpickle anything (trusted files only).",
                                        rich_help_panel=MODEL_PANEL)]
KernelsOpt = Annotated[str, typer.Option(help="auto, torch or kernel (mamba-ssm CUDA, required).",
                                         rich_help_panel=MODEL_PANEL)]
BatchOpt = Annotated[int, typer.Option(help="Rows per forward pass.", rich_help_panel=MODEL_PANEL)]
SeedOpt = Annotated[int, typer.Option(help="Seeds python, numpy, torch, lm-eval and sampling.")]

SELECT_PANEL = "Selection"

DataDirOpt = Annotated[Optional[str], typer.Option(help="Folder of the original release files (offline).",
                                                   rich_help_panel=SELECT_PANEL)]
LimitOpt = Annotated[Optional[int], typer.Option(help="Score N docs per task.", rich_help_panel=SELECT_PANEL)]
StratifyOpt = Annotated[bool, typer.Option("--stratify", help="With --limit: a seeded stratified sample.",
                                           rich_help_panel=SELECT_PANEL)]

LM_EVAL_PANEL = "lm-eval prompt"  # lm-eval's own prompt options (same names and meaning)

NumFewshotOpt = Annotated[Optional[int], typer.Option(help="Examples before each question (default: the task's).",
                                                      rich_help_panel=LM_EVAL_PANEL)]
FewshotSeedOpt = Annotated[Optional[int], typer.Option(help="Seed of the example draw (default: --seed).",
                                                       rich_help_panel=LM_EVAL_PANEL)]

THINK_PANEL = "Think mode (cot)"

CotOpt = Annotated[bool, typer.Option("--cot", help="Think, then answer (= --mode cot).", rich_help_panel=THINK_PANEL)]
ModeOpt = Annotated[Optional[str], typer.Option(help="ll, cot, or ll,cot for both.", rich_help_panel=THINK_PANEL)]
ThinkBudgetOpt = Annotated[int, typer.Option(help="Think tokens before a forced close.", rich_help_panel=THINK_PANEL)]
MinThinkOpt = Annotated[int, typer.Option(help="Closer and EOS banned before this.", rich_help_panel=THINK_PANEL)]
TemperatureOpt = Annotated[float, typer.Option(help="0 = greedy; > 0 samples (seeded).", rich_help_panel=THINK_PANEL)]
TopPOpt = Annotated[float, typer.Option(help="Nucleus mass when sampling.", rich_help_panel=THINK_PANEL)]
TopKOpt = Annotated[int, typer.Option(help="Keep the k best tokens (0 = all).", rich_help_panel=THINK_PANEL)]
SamplesOpt = Annotated[int, typer.Option(help="K traces or answers per doc (T > 0).", rich_help_panel=THINK_PANEL)]
PassKOpt = Annotated[Optional[str], typer.Option(help="With --samples K: pass@k for k=1,4,…",
                                                 rich_help_panel=THINK_PANEL)]
DeterministicOpt = Annotated[bool, typer.Option("--deterministic", help="One request per model call: bits "
                                                "independent of --batch-size.", rich_help_panel=MODEL_PANEL)]
IncludePathOpt = Annotated[Optional[str], typer.Option(help="Your task folder (its YAMLs can import Python).",
                                                       rich_help_panel=SELECT_PANEL)]


def modes_of(cot: bool, mode: Optional[str]) -> tuple[str, ...]:
    """The run modes `--cot` / `--mode` name; `UsageError` when they contradict each other."""
    from titan_eval.errors import UsageError

    modes = tuple((mode or ("cot" if cot else "ll")).split(","))
    if cot and mode and "cot" not in modes:
        raise UsageError("--cot contradicts --mode")
    return modes


def ints_of(text: Optional[str], option: str) -> Optional[tuple[int, ...]]:
    """"1,4,8" → (1, 4, 8); `UsageError` naming `option` for anything else."""
    from titan_eval.errors import UsageError

    if text is None:
        return None
    try:
        return tuple(sorted({int(x) for x in text.split(",") if x.strip()}))
    except ValueError:
        raise UsageError(f"{option} takes whole numbers separated by commas, not {text!r}") from None
