"""Rotary position embedding, rotate-half (GPT-NeoX) convention, on absolute positions.

inv_freq_i = θ^(−2i/d) for i < d/2; angle = pos ⊗ inv_freq; cos/sin = cat(angle, angle) [.., d];
x' = x·cos + rotate_half(x)·sin with rotate_half([a, b]) = [−b, a] (halves, not interleaved pairs).
"""

from __future__ import annotations

import torch
from torch import Tensor

from titan_eval.models.initial_values import initial


def rope_inv_freq(dim: int, theta: float = 10000.0, device: torch.device | None = None) -> Tensor:
    """[dim/2] fp32 inverse frequencies (an empty meta tensor while building on meta: `initial_values`)."""
    return initial(lambda: 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=device) / dim)),
                   ((dim + 1) // 2,))


def rotate_half(x: Tensor) -> Tensor:
    """[..., d] → [−x2, x1] where x = [x1, x2] split in halves."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: Tensor, positions: Tensor, inv_freq: Tensor) -> Tensor:
    """x [B, L, H, d] at absolute positions [B, L] (long) → rotated x, same shape and dtype (math in fp32)."""
    angle = positions.float()[..., None] * inv_freq.float()  # (B, L, d/2)
    emb = torch.cat([angle, angle], dim=-1)[:, :, None, :]  # (B, L, 1, d)
    x32 = x.float()
    return (x32 * emb.cos() + rotate_half(x32) * emb.sin()).to(x.dtype)
