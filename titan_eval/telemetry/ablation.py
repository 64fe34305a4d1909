"""Ablations as context managers that always restore the weights, and the KL that measures their effect.

Usage:

    with blackboard_ablation(model):          # Titan: bb_read.weight := 0, so the bus adds nothing
        logits_off = model(ids, lengths)
    kl = blackboard_kl(model, ids, lengths)   # KL(p_on ‖ p_off) at each row's last real position, [B]

Restoring is done in a `finally` from a saved copy and then checked bit for bit, so every parameter is identical
afterwards, also when the body raises (the author's ablation zeroed in place with no try/finally, spec §5.11).
Glossary: p_on / p_off the next-token distributions with the component on / off; KL(p‖q) = Σ_v p_v log(p_v/q_v)
with both probabilities clamped at 1e-10 (the author's convention), in nats.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, contextmanager
from typing import Iterator, Sequence

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError


def _bits(t: Tensor) -> Tensor:
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


@contextmanager
def zeroed_parameters(model: nn.Module, names: Sequence[str]) -> Iterator[None]:
    """Zero the named parameters inside the block; restore them bit-identically on exit (also on exceptions).
    `ModelError` for an unknown name, or if a parameter cannot be restored exactly."""
    params = dict(model.named_parameters())
    unknown = [n for n in names if n not in params]
    if unknown:
        raise ModelError(f"{type(model).__name__} has no parameter(s) {', '.join(unknown)}")
    saved = {n: params[n].detach().clone() for n in names}
    try:
        with torch.no_grad():
            for n in names:
                params[n].zero_()
        yield
    finally:
        current = dict(model.named_parameters())
        with torch.no_grad():
            for n, value in saved.items():
                target = current.get(n)
                if target is not None and target.shape == value.shape and target.dtype == value.dtype:
                    target.copy_(value)
        broken = [n for n, value in saved.items()
                  if n not in current or current[n].shape != value.shape or current[n].dtype != value.dtype
                  or not torch.equal(_bits(current[n]), _bits(value))]
        if broken:
            raise ModelError(f"could not restore {', '.join(broken)} after the ablation (replaced or re-typed inside it)")


def blackboard_ablation(model: nn.Module) -> AbstractContextManager[None]:
    """Zero the model's blackboard read-out (`model.capabilities.blackboard`, Titan: bb_read.weight) for the block."""
    capabilities = getattr(model, "capabilities", None)
    names = getattr(capabilities, "blackboard", ())
    if not names:
        raise ModelError(f"{type(model).__name__} has no blackboard to ablate")
    return zeroed_parameters(model, tuple(names))


def next_token_kl(logits_p: Tensor, logits_q: Tensor, clamp: float = 1e-10) -> Tensor:
    """KL(softmax(logits_p) ‖ softmax(logits_q)) over the last axis, probabilities clamped at `clamp`:
    [..., V], [..., V] → [...] fp64."""
    p = logits_p.double().softmax(dim=-1).clamp(min=clamp)
    q = logits_q.double().softmax(dim=-1).clamp(min=clamp)
    return (p * (p.log() - q.log())).sum(dim=-1)


def at_positions(logits: Tensor, lengths: Tensor | None, position: int = -1) -> Tensor:
    """logits [B, L, V] → [B, V] at `position` in each row's coordinates (negative: from the row's real end)."""
    batch, length = logits.shape[:2]
    n = torch.full((batch,), length, dtype=torch.long) if lengths is None else lengths.to(torch.long).cpu()
    idx = n + position if position < 0 else torch.full_like(n, position)
    if bool(((idx < 0) | (idx >= n)).any()):
        raise ModelError(f"position {position} is outside a row (lengths {n.tolist()})")
    return logits[torch.arange(batch, device=logits.device), idx.to(logits.device)]


@torch.no_grad()
def blackboard_kl(model: nn.Module, ids: Tensor, lengths: Tensor | None = None, position: int = -1) -> Tensor:
    """KL(p_on ‖ p_off) [B] of the next-token distribution at `position` of each row (default: the last real
    position, the author's choice) between the model as is and with the blackboard ablated."""
    on = at_positions(model(ids, lengths), lengths, position)
    with blackboard_ablation(model):
        off = at_positions(model(ids, lengths), lengths, position)
    return next_token_kl(on, off)
