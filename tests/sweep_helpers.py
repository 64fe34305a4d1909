"""Checkpoints of a tiny card for sweep tests, and a sweep run in-process through the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

TEXT = ("Grüße aus Köln — ünïcödé and plain ASCII: the quick brown fox jumps over the lazy dog. " * 5)
"""The bpb test text: multi-byte characters, so bytes ≠ characters (len(TEXT.encode()) is the hand count)."""


def make_checkpoints(folder: Path, steps: Sequence[int], card: str = "titan-tiny", scale: float = 0.02,
                     start: int = 0) -> list[Path]:
    """`ckpt_<i>.pt` = {"step": step, "model": the card's seeded init + seeded noise of `scale`}; seed i per file."""
    from titan_eval.loading import load_model

    folder.mkdir(parents=True, exist_ok=True)
    base = load_model(card).state_dict()
    out = []
    for i, step in enumerate(steps, start):
        g = torch.Generator().manual_seed(i)
        sd = {k: (v + scale * torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
              for k, v in base.items()}
        path = folder / f"ckpt_{i}.pt"
        torch.save({"step": step, "model": sd}, path)
        out.append(path)
    return out


def sweep(folder: Path, specs: Sequence[str], text: Path, notices: list[str] | None = None, slot: Any = None,
          tasks: Sequence[str] = ("fact_margins", "bpb"), card: str = "titan-tiny") -> Any:
    """`titan-eval sweep` through `run_sweep`: fact_margins (8 probes) and bpb (16-token windows) on `text`."""
    from titan_eval.cards import load_card
    from titan_eval.run_options import RunOptions
    from titan_eval.sweep.sweep_run import SweepConfig, run_sweep
    from titan_eval.sweep.weights import LoadSettings

    options = RunOptions(tasks=tuple(tasks), limit=8, native={"text": str(text), "window": 16})
    config = SweepConfig(tuple(specs), folder, options, LoadSettings(load_card(card), device="cpu"), settle_s=0.05)
    seen = notices if notices is not None else []
    return run_sweep(config, None, seen.append, slot)
