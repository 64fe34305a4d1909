"""Causal sliding-window attention with global prefix tokens, as in Helix v2 (spec §1.4 "SparseAttentionLayer").

Glossary: H heads of size D (= d_head); W = window_size; G = global_tokens; i, j absolute positions of a query and
a key in the row's sequence. Query i sees key j iff  j ≤ i  and  (i − j < W  or  j < G)  — a causal window of W
keys including itself, plus the first G positions (attention sinks, not learned tokens).

    q, k, v = Wq x, Wk x, Wv x                [B, L, H, D], bias-free
    q, k = RMSNorm_1e-6(q), RMSNorm_1e-6(k)    when qk_norm (over D, per head), *before* RoPE
    q, k = RoPE(q, i), RoPE(k, j)              rotate-half, θ from position_encoding.theta, absolute positions
    out = Wo · concat_h softmax_fp32(q kᵀ / √D + mask) v

KV cache: the keys (after norm and RoPE) and values of every row's first G positions and its last W − 1
positions — exactly what any later query can see — stored batch-first with their absolute positions
(−1 = empty slot). A prefill continues a row at position `start[b]` (tokens already consumed). Right-padding is
exact: padded keys lie after every real query of their row and never enter the cache.
The original computes the full masked O(L²) softmax; so does this module, in blocks of queries.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from titan_eval.models.norms import RMSNorm
from titan_eval.models.rope import apply_rope, rope_inv_freq

QK_NORM_EPS = 1e-6  # the original's q_norm/k_norm always use their own default eps (spec correction 3)
QUERY_BLOCK = 256  # queries per score block (bounds memory to B·H·256·(S+L) scores)


@dataclass(frozen=True)
class KVCache:
    """keys, values [B, H, S, D]; positions [B, S] long, absolute, −1 where a slot is empty."""

    keys: Tensor
    values: Tensor
    positions: Tensor


class HelixAttention(nn.Module):
    """`blocks.i.attn` of a `sparse_attention` layer: q/k/v/out projections, optional q_norm/k_norm."""

    def __init__(self, d_model: int, n_heads: int, d_head: int, window: int, global_tokens: int,
                 use_rope: bool = True, qk_norm: bool = False, theta: float = 10000.0) -> None:
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        self.window, self.global_tokens, self.use_rope = window, global_tokens, use_rope
        inner = n_heads * d_head
        self.q_proj = nn.Linear(d_model, inner, bias=False)
        self.k_proj = nn.Linear(d_model, inner, bias=False)
        self.v_proj = nn.Linear(d_model, inner, bias=False)
        self.out_proj = nn.Linear(inner, d_model, bias=False)
        self.q_norm = RMSNorm(d_head, QK_NORM_EPS) if qk_norm else None
        self.k_norm = RMSNorm(d_head, QK_NORM_EPS) if qk_norm else None
        self.theta = theta
        self.register_buffer("inv_freq", rope_inv_freq(d_head, theta), persistent=False)

    def init_buffers(self) -> None:
        """Recompute the non-persistent RoPE frequencies [d_head/2] (a checkpoint does not hold them)."""
        self.inv_freq = rope_inv_freq(self.d_head, self.theta)

    @property
    def capacity(self) -> int:
        """Most slots a cache ever needs: G global positions plus the W − 1 most recent ones."""
        return self.global_tokens + self.window - 1

    def empty_cache(self, batch: int, device: torch.device, dtype: torch.dtype) -> KVCache:
        """A cache with no slots."""
        kv = torch.zeros(batch, self.n_heads, 0, self.d_head, device=device, dtype=dtype)
        return KVCache(keys=kv, values=kv.clone(), positions=torch.zeros(batch, 0, dtype=torch.long, device=device))

    def forward(
        self, x: Tensor, start: Tensor, lengths: Tensor, cache: KVCache | None = None
    ) -> tuple[Tensor, KVCache]:
        """x [B, L, d_model] (row b real up to lengths[b]), start [B] = tokens the row has consumed →
        (out [B, L, d_model], cache after each row's start[b] + lengths[b] tokens)."""
        batch, length, _ = x.shape
        if cache is None:
            cache = self.empty_cache(batch, x.device, x.dtype)
        pos = start[:, None] + torch.arange(length, device=x.device)[None, :]  # (B, L) absolute positions
        q = self.q_proj(x).view(batch, length, self.n_heads, self.d_head)
        k = self.k_proj(x).view(batch, length, self.n_heads, self.d_head)
        v = self.v_proj(x).view(batch, length, self.n_heads, self.d_head)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.use_rope:
            q, k = apply_rope(q, pos, self.inv_freq), apply_rope(k, pos, self.inv_freq)
        keys = torch.cat([cache.keys, k.transpose(1, 2).to(cache.keys.dtype)], dim=2)  # (B, H, S+L, D)
        values = torch.cat([cache.values, v.transpose(1, 2).to(cache.values.dtype)], dim=2)
        key_pos = torch.cat([cache.positions, pos], dim=1)  # (B, S+L)
        out = self._attend(q.transpose(1, 2), keys, values, pos, key_pos)  # (B, H, L, D)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, -1).to(x.dtype))
        real = torch.arange(length, device=x.device)[None, :] < lengths[:, None]
        valid = torch.cat([cache.positions >= 0, real], dim=1)
        return out, self._keep(keys, values, key_pos, valid, start + lengths)

    def visible(self, query_pos: Tensor, key_pos: Tensor) -> Tensor:
        """query_pos [B, Lq], key_pos [B, S] (−1 = empty) → [B, Lq, S] bool: the Helix mask on absolute
        positions."""
        i, j = query_pos[:, :, None], key_pos[:, None, :]
        return (j >= 0) & (j <= i) & ((i - j < self.window) | (j < self.global_tokens))

    def _attend(self, q: Tensor, keys: Tensor, values: Tensor, query_pos: Tensor, key_pos: Tensor) -> Tensor:
        """q [B, H, L, D], keys/values [B, H, S, D] → [B, H, L, D] fp32 (softmax in fp32, scale D^−½)."""
        outs = []
        k32, v32 = keys.float(), values.float()
        for a in range(0, q.shape[2], QUERY_BLOCK):
            qb = q[:, :, a : a + QUERY_BLOCK].float()
            scores = torch.einsum("bhld,bhsd->bhls", qb, k32) * self.d_head ** -0.5
            mask = self.visible(query_pos[:, a : a + QUERY_BLOCK], key_pos)[:, None]  # (B, 1, Lb, S)
            probs = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
            outs.append(torch.einsum("bhls,bhsd->bhld", probs, v32))
        return torch.cat(outs, dim=2) if outs else q.float()

    def _keep(self, keys: Tensor, values: Tensor, key_pos: Tensor, valid: Tensor, new_len: Tensor) -> KVCache:
        """Compact to the slots a later query can see: valid and (j < G or j ≥ new_len − (W − 1)), oldest
        first."""
        keep = valid & ((key_pos < self.global_tokens) | (key_pos >= new_len[:, None] - (self.window - 1)))
        slots = min(self.capacity, key_pos.shape[1])
        far = torch.iinfo(torch.long).max
        order = torch.where(keep, key_pos, torch.full_like(key_pos, far)).argsort(dim=1, stable=True)[:, :slots]
        kept = keep.gather(1, order)
        positions = torch.where(kept, key_pos.gather(1, order), torch.full_like(order, -1))
        idx = order[:, None, :, None].expand(-1, keys.shape[1], -1, keys.shape[3])
        return KVCache(keys=keys.gather(2, idx), values=values.gather(2, idx), positions=positions)
