"""Right-padding and selected-position logits, shared by scoring and generation."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from titan_eval.errors import ModelError
from titan_eval.models.base import LanguageModel, RecurrentState


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


def logits_at(
    model: LanguageModel, ids: Tensor, lengths: Tensor, rows: Tensor, cols: Tensor,
    state: RecurrentState | None = None, want_state: bool = False,
) -> tuple[Tensor, RecurrentState | None]:
    """Logits [T, V] at positions (rows[t], cols[t]) of the batch ids [B, L] only, and (when `want_state`, or when
    continuing `state`) the recurrent state after each row's lengths. Models that split their head
    (`has_hidden`) project just those T positions through the LM head; others run the full forward and index."""
    recurrent = want_state or state is not None
    if model.has_hidden:
        hidden, new_state = model.hidden(ids, lengths, state) if recurrent else (model.hidden(ids, lengths)[0], None)
        return model.head(hidden[rows, cols]), new_state
    if recurrent:
        logits, new_state = model.prefill(ids, lengths, state)
        return logits[rows, cols], new_state
    return model(ids, lengths)[rows, cols], None
