"""Mamba-Titan's middle section: top-2 router, low-rank bridge, eight dense arms, per-token blackboard, collapse.

Spec: ../shared/specs/titan.md §2 steps 5–10 (phase `sft`, the SFT20 forward). Glossary:
    x        mid hidden state, the router input                 [B, L, d]
    r        route logits domain_router(x)                      [B, L, E]   (E = mimo_paths = 8)
    w        route weights: softmax over the top-2 logits, scattered into E entries, the other E−2 exactly 0
    b        bridge output up(silu(down(x))), 512-wide bottleneck, no biases   [B, L, d]
    a_k      arm k's output Block_k(b) = b + ssm_k(LN_k(b)), computed for every token   [B, L, d]
    m_k      blackboard mask 1[w_k > 0.01] (strict); the top-1 arm always passes
    board    Σ_k w_k·m_k·bb_write(a_k), the 64-wide per-token bus (no memory across tokens)   [B, L, 64]
    ctx      bb_read(board), added to every active arm   [B, L, d]
    c        the collapse Σ_k w_k·(a_k + m_k·ctx) = Σ_k w_k·a_k + (Σ_k w_k·m_k)·ctx   [B, L, d]

No temperature (`router_temp` is not read), no noise, no capacity limit. Because bb_write is bias-free,
Σ_k w_k m_k bb_write(a_k) is computed as bb_write(Σ_k w_k m_k a_k), equal up to float rounding.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

BRIDGE_RANK = 512
BUS_DIM = 64
TOP_K = 2
BLACKBOARD_THRESHOLD = 0.01


class LowRankBridge(nn.Module):
    """b = up(silu(down(x))): [B, L, d] → [B, L, d] through a `rank`-wide bottleneck (bias-free)."""

    def __init__(self, d_model: int, rank: int = BRIDGE_RANK) -> None:
        super().__init__()
        self.down = nn.Linear(d_model, rank, bias=False)
        self.up = nn.Linear(rank, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.up(F.silu(self.down(x)))


def route_top_k(logits: Tensor, k: int = TOP_K) -> tuple[Tensor, Tensor]:
    """logits [B, L, E] → (w [B, L, E], chosen [B, L, k] long, best first): a softmax over the k largest logits
    of each token, scattered back; every other entry is exactly 0."""
    top, chosen = logits.topk(k, dim=-1)
    weights = torch.zeros_like(logits).scatter(-1, chosen, top.softmax(dim=-1))
    return weights, chosen


def collapse_arms(
    b: Tensor,
    weights: Tensor,
    arms: Sequence[Callable[[Tensor], Tensor]],
    bb_write: nn.Linear,
    bb_read: nn.Linear,
    threshold: float = BLACKBOARD_THRESHOLD,
) -> Tensor:
    """b [B, L, d], weights [B, L, E] → c [B, L, d] (see the glossary). `arms[k](b)` returns a_k [B, L, d];
    arms are run one at a time and accumulated, so no [B, L, E, d] stack is held."""
    gated = weights * (weights > threshold).to(weights.dtype)  # w_k·m_k
    mixed = torch.zeros_like(b)  # Σ_k w_k a_k
    written = torch.zeros_like(b)  # Σ_k w_k m_k a_k
    for k, arm in enumerate(arms):
        a_k = arm(b)
        mixed = mixed + weights[..., k : k + 1] * a_k
        written = written + gated[..., k : k + 1] * a_k
    ctx = bb_read(bb_write(written))
    return mixed + gated.sum(dim=-1, keepdim=True) * ctx
