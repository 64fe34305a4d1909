"""Per-step logit processing for generation: vocabulary masking, bans, sign-aware repetition penalty,
temperature / top-k / top-p, and seeded per-row sampling.

All functions take logits [B, V] (fp32) and return new tensors; nothing is modified in place.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def mask_vocab(logits: Tensor, start: int | None) -> Tensor:
    """Rows ≥ `start` (unused vocabulary padding) get −inf."""
    if start is None or start >= logits.shape[-1]:
        return logits
    out = logits.clone()
    out[:, start:] = float("-inf")
    return out


def ban(logits: Tensor, ids: Sequence[int], rows: Tensor) -> Tensor:
    """−inf at token `ids` for the rows where `rows` [B] bool is True (e.g. before a minimum think length).
    Pass `rows` as a CPU tensor to keep the "any row?" test off the device (no sync)."""
    if not ids or not bool(rows.any()):
        return logits
    rows = rows.to(logits.device)
    cols = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
    cols[torch.as_tensor(list(ids), device=logits.device)] = True
    return logits.masked_fill(rows[:, None] & cols[None, :], float("-inf"))


def repetition_penalty(logits: Tensor, history: Sequence[Sequence[int]], penalty: float, window: int) -> Tensor:
    """Sign-aware penalty over each row's last `window` generated tokens (each distinct token once):
    a positive logit is divided by `penalty`, a negative one multiplied by it — both move *down*, so a
    repeated token never becomes more likely (the original divided negative logits too, raising them)."""
    if penalty == 1.0:
        return logits
    out = logits.clone()
    for row, hist in enumerate(history):
        recent = sorted(set(hist[-window:])) if window > 0 else []
        if not recent:
            continue
        idx = torch.as_tensor(recent, device=logits.device)
        vals = out[row, idx]
        out[row, idx] = torch.where(vals > 0, vals / penalty, vals * penalty)
    return out


def filter_top_k_top_p(logits: Tensor, top_k: int, top_p: float) -> Tensor:
    """Keep the `top_k` largest logits (0 = all) and the smallest set whose probability reaches `top_p`."""
    out = logits
    if top_k > 0 and top_k < logits.shape[-1]:
        kth = out.topk(top_k, dim=-1).values[:, -1:]
        out = out.masked_fill(out < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = out.sort(dim=-1, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        drop_sorted = (cum - sorted_logits.softmax(-1)) >= top_p  # keep the token that crosses top_p
        drop = torch.zeros_like(drop_sorted).scatter(1, order, drop_sorted)
        out = out.masked_fill(drop, float("-inf"))
    return out


def choose(logits: Tensor, temperature: float, generators: Sequence[torch.Generator] | None) -> Tensor:
    """Greedy argmax when temperature is 0; else one sample per row from its own generator (so a row's draw
    never depends on the other rows of the batch). Returns ids [B] long."""
    if temperature <= 0.0:
        return logits.argmax(-1)
    probs = (logits / temperature).softmax(-1).double().cpu()
    picks = [int(torch.multinomial(probs[i], 1, generator=generators[i])) for i in range(probs.shape[0])]
    return torch.tensor(picks, device=logits.device)
