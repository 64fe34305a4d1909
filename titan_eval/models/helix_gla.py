"""Gated linear attention as in Helix v2 (spec §1.4 "GLALayer"; vectors README "GLA").

Glossary (Yang et al. 2024, "Gated Linear Attention Transformers"): H heads of size D (= d_head);
q_t, k_t, v_t ∈ R^D per head (q scaled by D^−½, no feature map); α_t = sigmoid(alpha_proj(x_t)) ∈ (0, 1)^D the
per-channel data-dependent decay (log α_t = −softplus(−alpha_proj(x_t)), log-sigmoid); S_t ∈ R^{D×D} the state
indexed S[key d, value e], S_0 = 0; output o_t[e] = Σ_d q_t[d] S_t[d, e]; gate sigmoid(g_proj(x_t)).

Decay axis (spec correction 1), an explicit option:
    key    S_t[d, e] = α_t[d] S_{t−1}[d, e] + k_t[d] v_t[e]   (fla `chunk_gla`, which real checkpoints trained with)
    value  S_t[d, e] = α_t[e] S_{t−1}[d, e] + k_t[d] v_t[e]   (the published pure-PyTorch scan on `main`)

The scan is chunked: inside a chunk of T steps, with b_t = Σ_{r≤t} log α_r (cumulative, per channel),
    key:   o_t = (q_t ⊙ e^{b_t})ᵀ S_0 + Σ_{s≤t} [Σ_d q_t[d] e^{b_t[d]−b_s[d]} k_s[d]] v_s
    value: o_t = e^{b_t} ⊙ (q_tᵀ S_0) + Σ_{s≤t} (q_t·k_s) e^{b_t−b_s} ⊙ v_s
(every exponent ≤ 0) and the state is carried between chunks. Right-padding is exact: at padded positions
log α = 0 and k = 0, so S passes through unchanged. Kernel twin: `fla.ops.gla.chunk_gla` (not used here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titan_eval.errors import ModelError

DECAY_BIAS = 2.1972245773362196  # log(0.9 / 0.1): sigmoid(bias) = 0.9, the original's decay init


def gla_scan_ref(
    q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, decay: str, s0: Tensor | None = None, chunk_size: int = 32
) -> tuple[Tensor, Tensor]:
    """q, k, v, log_alpha [B, H, L, D] (q already scaled) → (o [B, H, L, D] fp32, S_last [B, H, D, D] fp32)."""
    if decay not in ("key", "value"):
        raise ModelError(f"GLA decay axis must be 'key' or 'value', got {decay!r}")
    batch, heads, length, dim = q.shape
    q32, k32, v32, la = q.float(), k.float(), v.float(), log_alpha.float()
    s = q32.new_zeros(batch, heads, dim, dim) if s0 is None else s0.float()
    outs = []
    for start in range(0, length, chunk_size):
        end = min(length, start + chunk_size)
        qc, kc, vc = q32[:, :, start:end], k32[:, :, start:end], v32[:, :, start:end]
        b = la[:, :, start:end].cumsum(dim=2)  # (B, H, T, D), non-increasing
        T = end - start
        causal = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        seg = b[:, :, :, None, :] - b[:, :, None, :, :]  # (B, H, T_t, T_s, D)
        w = torch.exp(seg.masked_fill(~causal[None, None, :, :, None], float("-inf")))
        last = torch.exp(b[:, :, -1:, :] - b)  # (B, H, T, D): decay from s to the chunk's end
        if decay == "key":
            scores = torch.einsum("bhtd,bhtsd,bhsd->bhts", qc, w, kc)
            o = torch.einsum("bhts,bhse->bhte", scores, vc) + torch.einsum("bhtd,bhde->bhte", qc * b.exp(), s)
            s = s * b[:, :, -1, :, None].exp() + torch.einsum("bhsd,bhse->bhde", kc * last, vc)
        else:
            qk = torch.einsum("bhtd,bhsd->bhts", qc, kc)
            o = torch.einsum("bhts,bhtse,bhse->bhte", qk, w, vc) + b.exp() * torch.einsum("bhtd,bhde->bhte", qc, s)
            s = s * b[:, :, -1, None, :].exp() + torch.einsum("bhsd,bhse->bhde", kc, vc * last)
        outs.append(o)
    o = torch.cat(outs, dim=2) if outs else q32.new_zeros(batch, heads, 0, dim)
    return o, s


def gla_scan_sequential(
    q: Tensor, k: Tensor, v: Tensor, log_alpha: Tensor, decay: str, s0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The recurrence one step at a time in fp64 (the definition; the tests' oracle). Same shapes as `gla_scan_ref`."""
    batch, heads, length, dim = q.shape
    s = torch.zeros(batch, heads, dim, dim, dtype=torch.float64) if s0 is None else s0.double()
    outs = []
    for t in range(length):
        alpha = log_alpha[:, :, t].double().exp()  # (B, H, D)
        gate = alpha[..., :, None] if decay == "key" else alpha[..., None, :]
        s = gate * s + k[:, :, t].double()[..., :, None] * v[:, :, t].double()[..., None, :]
        outs.append(torch.einsum("bhd,bhde->bhe", q[:, :, t].double(), s))
    return torch.stack(outs, dim=2), s


class HelixGLA(nn.Module):
    """`blocks.i.attn` of a `gla` layer: q/k/v/g/alpha/out projections (only alpha_proj has a bias)."""

    def __init__(self, d_model: int, n_heads: int, d_head: int, decay: str = "key") -> None:
        super().__init__()
        if decay not in ("key", "value"):
            raise ModelError(f"GLA decay axis must be 'key' or 'value', got {decay!r}")
        self.n_heads, self.d_head, self.decay = n_heads, d_head, decay
        inner = n_heads * d_head
        self.q_proj = nn.Linear(d_model, inner, bias=False)
        self.k_proj = nn.Linear(d_model, inner, bias=False)
        self.v_proj = nn.Linear(d_model, inner, bias=False)
        self.g_proj = nn.Linear(d_model, inner, bias=False)
        self.alpha_proj = nn.Linear(d_model, inner, bias=True)
        self.out_proj = nn.Linear(inner, d_model, bias=False)
        nn.init.constant_(self.alpha_proj.bias, DECAY_BIAS)

    def _heads(self, t: Tensor) -> Tensor:
        """[B, L, H·D] → [B, H, L, D]."""
        return t.view(t.shape[0], t.shape[1], self.n_heads, self.d_head).transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x [B, L, d_model], mask [B, L] (True = real), state S [B, H, D, D] | None →
        (out [B, L, d_model], S after each row's real tokens, fp32)."""
        keep = mask[:, None, :, None].to(torch.float32)  # (B, 1, L, 1)
        q = self._heads(self.q_proj(x)).float() * self.d_head ** -0.5
        k = self._heads(self.k_proj(x)).float() * keep  # k = 0 on padding: nothing enters S
        v = self._heads(self.v_proj(x)).float()
        log_alpha = F.logsigmoid(self._heads(self.alpha_proj(x)).float()) * keep  # log α = 0 on padding
        o, s = gla_scan_ref(q, k, v, log_alpha, self.decay, state)
        o = o.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)  # (B, L, H·D)
        gated = o * torch.sigmoid(self.g_proj(x).float())
        return self.out_proj(gated.to(x.dtype)), s
