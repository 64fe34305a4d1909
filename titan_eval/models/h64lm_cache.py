"""H64LM's exact KV cache: absolute positions per row, the inclusive sliding window, trimming to what the window
can still see. The original has no equivalent (its cache resets positions and masks wrongly, spec §5).

Glossary: B rows, S cache slots, L new tokens, K = S + L keys of one call, n_b = tokens row b has consumed
(its next position), W = sliding_window_size, KV kv heads, hd head_dim.

Layout: every layer's cache holds post-RoPE keys and values of the **un-expanded** kv heads, [B, KV, S, hd].
`key_pos` [B, S] gives each slot's absolute position, −1 for an empty slot (rows of different lengths, padding).
All layers share one slot layout. After a call, a row keeps only its real keys with j ≥ n_b − W: the next query
(position n_b) sees 0 ≤ n_b − j ≤ W, and later ones see even less, so at most W slots per row survive and a
decoding step costs O(W), independent of the sequence length. Padded tokens never become visible keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from titan_eval.models.base import RecurrentState
from titan_eval.models.h64lm_attention import KeyLayout


@dataclass(frozen=True)
class H64LMState(RecurrentState):
    """Batch-first KV cache: per-layer keys/values [B, KV, S, hd], slot positions [B, S] (−1 = empty) and the
    number of tokens each row has consumed [B] (the position of its next token)."""

    keys: tuple[Tensor, ...] = field(default=())
    values: tuple[Tensor, ...] = field(default=())
    key_pos: Tensor | None = None
    seen: Tensor | None = None


def key_layout(state: H64LMState | None, lengths: Tensor, length: int, window: int) -> KeyLayout:
    """The layout of one call: lengths [B] real new tokens per row, `length` = L padded new tokens.

    Query t of row b sits at i = n_b + t; key columns are the cache slots followed by the L new tokens
    (new token t is a real key iff t < lengths[b])."""
    device = lengths.device
    seen = torch.zeros_like(lengths) if state is None or state.seen is None else state.seen.to(device)
    steps = torch.arange(length, device=device)
    positions = seen[:, None] + steps[None, :]  # (B, L)
    new_pos = torch.where(steps[None, :] < lengths[:, None], positions, torch.full_like(positions, -1))
    key_pos = new_pos if state is None or state.key_pos is None else torch.cat([state.key_pos.to(device), new_pos], 1)
    distance = positions[:, :, None] - key_pos[:, None, :]  # (B, L, K) i − j
    visible = (key_pos[:, None, :] >= 0) & (distance >= 0) & (distance <= window)
    return KeyLayout(
        positions=positions,
        key_pos=key_pos,
        visible=visible[:, None, None],
        distance=distance.float()[:, None, None],
    )


def trimmed_state(
    layout_key_pos: Tensor, keys: list[Tensor], values: list[Tensor], seen: Tensor, window: int
) -> H64LMState:
    """Keep, per row, the real keys the window can still reach (j ≥ seen_b − W), packed to the left.

    layout_key_pos [B, K] (−1 = not a key), keys/values per layer [B, KV, K, hd], seen [B] after this call →
    a state with S' = max_b (kept keys of row b) slots."""
    keep = (layout_key_pos >= 0) & (layout_key_pos >= (seen - window)[:, None])  # (B, K)
    total = keep.shape[1]
    width = int(keep.sum(dim=1).max().item()) if keep.numel() else 0
    start = total - width
    if bool(keep[:, start:].all()) and not bool(keep[:, :start].any()):  # every row keeps the same last slots
        return H64LMState(keys=tuple(k[:, :, start:] for k in keys), values=tuple(v[:, :, start:] for v in values),
                          key_pos=layout_key_pos[:, start:], seen=seen)
    order = torch.sort((~keep).to(torch.int8), dim=1, stable=True).indices[:, :width]  # kept slots first
    pos = torch.where(keep.gather(1, order), layout_key_pos.gather(1, order), torch.full_like(order, -1))

    def pick(t: Tensor) -> Tensor:
        idx = order[:, None, :, None].expand(t.shape[0], t.shape[1], width, t.shape[3])
        return t.gather(2, idx)

    return H64LMState(keys=tuple(pick(k) for k in keys), values=tuple(pick(v) for v in values), key_pos=pos, seen=seen)
