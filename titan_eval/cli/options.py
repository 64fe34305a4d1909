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
