"""Right-padding helpers shared by scoring and generation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from titan_eval.errors import ModelError


def pad_right(rows: Sequence[Sequence[int]], device: torch.device, pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Token rows → (ids [B, Lmax] long right-padded with `pad_id`, lengths [B] long)."""
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    out = torch.full((len(rows), int(lengths.max()) if len(rows) else 0), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.as_tensor(list(row), dtype=torch.long)
    return out.to(device), lengths.to(device)


def fp32_log_softmax(logits: Tensor, allow_nan: bool = False) -> Tensor:
    """log_softmax in fp32 over the last axis; `ModelError` if any logit is NaN (one sync per batch), unless
    `allow_nan` (scoring: a NaN log-prob marks its document invalid further up, by document id)."""
    out = logits.float().log_softmax(-1)
    if not allow_nan and torch.isnan(out).any():
        raise ModelError("model produced NaN logits")
    return out


def chunks(items: Sequence, size: int) -> list[Sequence]:
    """Consecutive slices of at most `size` items."""
    return [items[i : i + size] for i in range(0, len(items), max(1, size))]
