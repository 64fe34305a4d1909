"""Selective scan (Mamba's S6 recurrence), pure PyTorch, chunked.

Glossary (Gu & Dao 2023, "Mamba", Alg. 2):
    u      x_t, the SSM input                       [Bt, D, L]
    delta  Δ_t, the positive step size (after softplus) [Bt, D, L]
    A      A, the (negative) diagonal state matrix  [D, N]
    B, C   B_t, C_t, input-dependent projections    [Bt, N, L]
    D      D, the skip connection                   [D]
    h      h_t, the hidden state                    [Bt, D, N]

    h_t = exp(Δ_t A) ⊙ h_{t-1} + Δ_t B_t x_t,   y_t = C_t · h_t + D x_t

A step with Δ_t = 0 leaves h unchanged and adds nothing, which is how right-padding is made exact.
Mamba-2's SSD with per-head scalar A and Δ is the same recurrence with A and Δ broadcast over each head's channels.

Kernel twin: `mamba_ssm.ops.selective_scan_interface.selective_scan_fn` (see `kernels.py`).

Within a chunk of T steps the scan is computed in closed form from segment sums of Δ·A
(h_t = Σ_{s≤t} exp(cum_t − cum_s) Δ_s B_s x_s + exp(cum_t) h_0, every exponent ≤ 0, so nothing overflows);
a Python loop runs over chunks only, carrying h between them.
"""

from __future__ import annotations

import torch
from torch import Tensor


def selective_scan_ref(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    h0: Tensor | None = None,
    chunk_size: int = 16,
) -> tuple[Tensor, Tensor]:
    """Run the scan in fp32. Returns (y [Bt, D, L] in u's dtype, h_last [Bt, D, N] fp32)."""
    batch, channels, length = u.shape
    n_state = A.shape[1]
    out_dtype = u.dtype
    u32, d32, A32 = u.float(), delta.float(), A.float()
    B32, C32 = B.float(), C.float()
    h = torch.zeros(batch, channels, n_state, device=u.device) if h0 is None else h0.float()
    ys = []
    for start in range(0, length, chunk_size):
        end = min(length, start + chunk_size)
        T = end - start
        d = d32[:, :, start:end]  # (Bt, D, T)
        log_decay = torch.einsum("bdt,dn->bdtn", d, A32)  # Δ·A ≤ 0
        cum = log_decay.cumsum(dim=2)  # (Bt, D, T, N)
        drive = torch.einsum("bdt,bnt->bdtn", d * u32[:, :, start:end], B32[:, :, start:end])  # Δ B x
        causal = torch.ones(T, T, dtype=torch.bool, device=u.device).tril()
        seg = cum[:, :, :, None, :] - cum[:, :, None, :, :]  # (Bt, D, T_t, T_s, N)
        weights = torch.exp(seg.masked_fill(~causal[None, None, :, :, None], float("-inf")))
        hs = torch.einsum("bdtsn,bdsn->bdtn", weights, drive) + torch.exp(cum) * h[:, :, None, :]
        ys.append(torch.einsum("bdtn,bnt->bdt", hs, C32[:, :, start:end]))
        h = hs[:, :, -1]
    y = torch.cat(ys, dim=2) if ys else u32.new_zeros(batch, channels, 0)
    if D is not None:
        y = y + u32 * D.float()[None, :, None]
    return y.to(out_dtype), h


def selective_scan_sequential(
    u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None = None, h0: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """The same recurrence one step at a time (the definition; used by tests as the oracle)."""
    batch, channels, length = u.shape
    h = torch.zeros(batch, channels, A.shape[1], dtype=torch.float64) if h0 is None else h0.double()
    ys = []
    for t in range(length):
        dt = delta[:, :, t].double()
        h = torch.exp(dt[..., None] * A.double()) * h + (dt * u[:, :, t].double())[..., None] * B[:, None, :, t].double()
        ys.append((h * C[:, None, :, t].double()).sum(-1))
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + u.double() * D.double()[None, :, None]
    return y, h
