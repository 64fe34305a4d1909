"""Typer option types shared by several commands."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Card name, card .yaml path, or architecture name.")]
CheckpointOpt = Annotated[Optional[str], typer.Option(help="Checkpoint file/dir or hf://org/repo/file (overrides the card).")]
TokenizerOpt = Annotated[Optional[str], typer.Option(help="'byte', a SentencePiece .model, a tokenizer.json, or a hub id.")]
DeviceOpt = Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:1 … (default: cuda if available).")]
DtypeOpt = Annotated[Optional[str], typer.Option(help="float32 | bfloat16 | float16 (default: the card's).")]
TrustOpt = Annotated[bool, typer.Option("--trust-checkpoint", help="Allow full unpickling of the checkpoint (only for files you trust).")]
KernelsOpt = Annotated[str, typer.Option(help="auto | torch | kernel: mamba-ssm CUDA kernels (kernel = required).")]
SeedOpt = Annotated[int, typer.Option(help="Seeds python, numpy, torch and lm-eval; sampling seeds derive from it.")]
BatchOpt = Annotated[int, typer.Option(help="Rows per forward pass.")]
