"""H64LM grouped-query attention: rotate-half RoPE, the original's ALiBi variant, its inclusive sliding window,
over an exact KV cache of un-expanded kv heads (spec §4.3).

Glossary (spec symbols): B batch, L new tokens, S cached keys, K = S + L keys, H query heads, KV kv heads,
g = H / KV (query head h reads kv head ⌊h / g⌋, not h mod KV), hd head_dim, W sliding_window_size,
i = absolute query position, j = absolute key position, s_h = ALiBi slope of head h.

    q, k, v   = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ                      [B, L, H|KV, hd]
    q', k'    = RoPE(q, i), RoPE(k, j)                   rotate-half, θ from `rotary_emb.inv_freq`
    score_ij  = q'_i·k'_j / √hd  (+ s_h·(i − j) under ALiBi)
    visible   = key j is a real token and 0 ≤ i − j ≤ W  (W + 1 keys including i itself)
    out       = o_proj(softmax_j(score over visible keys) · v)

ALiBi sign: the original adds **+s_h·(i − j)**, s_h = 2^(−8(h+1)/H): distant keys are favoured, the opposite of
the ALiBi paper. It is reproduced as is. Deviations from the original, stated: masking uses −inf with an fp32
softmax (the original's finite −1e9 gives the same probabilities for rows with a visible key); a query with no
visible key (only possible at padded positions) gets zero attention output instead of a uniform average.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from titan_eval.models.initial_values import initial
from titan_eval.models.rope import apply_rope, rope_inv_freq


def alibi_slopes(num_heads: int) -> Tensor:
    """[H] fp32 slopes s_h = 2^(−8(h+1)/H), the power-of-two formula applied to any H (as the original does)."""
    return initial(lambda: torch.pow(2.0, -8.0 * torch.arange(1, num_heads + 1, dtype=torch.float32) / num_heads),
                   (num_heads,))


class Fp32Buffers(nn.Module):
    """A module whose buffers stay fp32 when the model is cast to bf16/fp16 (they still follow the device):
    RoPE frequencies and ALiBi slopes lose precision in half types, and the original builds its tables in fp32."""

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> "Fp32Buffers":
        kept = {name: buf for name, buf in self._buffers.items() if buf is not None}
        super()._apply(fn, recurse)
        for name, buf in kept.items():
            self._buffers[name] = buf.to(device=self._buffers[name].device, dtype=torch.float32)
        return self


class RotaryEmbedding(Fp32Buffers):
    """Holds the persistent `inv_freq` [hd/2] buffer (θ^(−2j/hd)), as the original's checkpoint carries it.
    The loaded value is the one used; `h64lm_checkpoint` checks it against θ before loading."""

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.register_buffer("inv_freq", rope_inv_freq(head_dim, theta), persistent=True)


@dataclass(frozen=True)
class KeyLayout:
    """Where the K = S + L keys of one call sit, shared by every layer.

    positions [B, L] long: absolute position i of each new token.
    key_pos [B, K] long: absolute position j of each key column (−1: not a key, e.g. padding).
    visible [B, 1, 1, L, K] bool: query i may read key j (broadcasts over kv heads and the group).
    distance [B, 1, 1, L, K] fp32: i − j, for the ALiBi bias."""

    positions: Tensor
    key_pos: Tensor
    visible: Tensor
    distance: Tensor


class GQAAttention(Fp32Buffers):
    """Bias-free q/k/v/o projections with the original's key names (`q_proj`, `k_proj`, `v_proj`, `o_proj`,
    `rotary_emb.inv_freq`, and `alibi_slopes` [H] only when ALiBi is on)."""

    def __init__(self, hidden: int, heads: int, kv_heads: int, theta: float, alibi: bool) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, hidden // heads
        self.q_proj = nn.Linear(hidden, heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(hidden, kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(heads * self.head_dim, hidden, bias=False)
        self.rotary_emb = RotaryEmbedding(self.head_dim, theta)
        self.alibi = alibi
        if alibi:
            self.register_buffer("alibi_slopes", alibi_slopes(heads), persistent=True)

    def forward(
        self, h: Tensor, layout: KeyLayout, past_k: Tensor | None, past_v: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """h [B, L, D] (normed), past_k/v [B, KV, S, hd] post-RoPE (or None) → (out [B, L, D],
        k [B, KV, K, hd], v [B, KV, K, hd]): the keys/values of this call appended to the cache."""
        batch, length, _ = h.shape
        group = self.heads // self.kv_heads
        inv_freq = self.rotary_emb.inv_freq
        q = apply_rope(self.q_proj(h).view(batch, length, self.heads, self.head_dim), layout.positions, inv_freq)
        k = apply_rope(self.k_proj(h).view(batch, length, self.kv_heads, self.head_dim), layout.positions, inv_freq)
        v = self.v_proj(h).view(batch, length, self.kv_heads, self.head_dim)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, KV, L, hd)
        if past_k is not None and past_v is not None:
            k = torch.cat([past_k.to(k.dtype), k], dim=2)
            v = torch.cat([past_v.to(v.dtype), v], dim=2)
        qg = q.view(batch, length, self.kv_heads, group, self.head_dim)  # head h = kv·g + r reads kv head h // g
        scores = torch.einsum("blkgd,bkmd->bkglm", qg.float(), k.float()) / math.sqrt(self.head_dim)
        if self.alibi:
            slopes = self.alibi_slopes.float().view(1, self.kv_heads, group, 1, 1)
            scores = scores + slopes * layout.distance  # +s_h·(i − j): the original's sign
        probs = masked_softmax(scores, layout.visible)
        out = torch.einsum("bkglm,bkmd->blkgd", probs.to(v.dtype), v)  # (B, L, KV, g, hd)
        return self.o_proj(out.reshape(batch, length, self.heads * self.head_dim)), k, v


def masked_softmax(scores: Tensor, visible: Tensor) -> Tensor:
    """Softmax over the last axis among `visible` entries (fp32); rows with nothing visible give zeros.
    scores [..., L, K] fp32, visible broadcastable bool → probabilities, same shape as scores."""
    any_visible = visible.any(dim=-1, keepdim=True)
    masked = scores.masked_fill(~visible, float("-inf")).masked_fill(~any_visible, 0.0)
    return torch.softmax(masked, dim=-1) * any_visible
