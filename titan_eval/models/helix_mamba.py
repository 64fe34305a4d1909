"""The Mamba slot of a Helix block in both checkpoint layouts (spec §1.4, vectors README "Mamba").

Glossary (Gu & Dao 2023 / Dao & Gu 2024): d_model = D_model, d_inner = E·D_model, d_state = N, d_conv = K,
nheads = d_inner / P with head size P = 64 (kernel layout), Δ = dt, A = −exp(A_log), h = the SSM state.

native  `attn._impl.{in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj}`: a Mamba-1-style selective scan whose
        Δ projection is a full d_inner×d_inner Linear (dt_rank = d_inner), A_log [d_inner, N], D [d_inner]. It is
        exactly `MambaMixer` with dt_rank = d_inner, so that module is reused.
kernel  `attn._impl.inner.{in_proj, conv1d, dt_bias, A_log, D, norm, out_proj}`: mamba_ssm `Mamba2` with its
        defaults (P 64, one B/C group, gated RMSNorm eps 1e-5 over all d_inner channels, norm after the gate):
            [z, xBC, dt] = in_proj(u)                    z [B, L, d_inner], xBC [B, L, d_inner + 2N], dt [B, L, nheads]
            xBC = silu(causal depthwise conv_K(xBC))     → x [d_inner], B [N], C [N]
            Δ = softplus(dt + dt_bias)                    per head
            H_t = exp(Δ_t[h]·A[h])·H_{t−1} + Δ_t[h]·x_t[h] ⊗ B_t ,  y_t[h] = H_t·C_t + D[h]·x_t[h]
            out = out_proj(RMSNorm_1e-5(y ⊙ silu(z)) · norm.weight)
        The per-head scalars broadcast over the head's P channels make this the selective-scan recurrence with
        A[c, n] = A[head(c)] and Δ[c] = Δ[head(c)], so `selective_scan_ref` computes it (state [B, d_inner, N],
        i.e. [B, nheads, P, N] flattened).
Kernel twin of both scans: mamba_ssm `selective_scan_fn` (`ops/kernels.py`), used on CUDA for a fresh prefill.
Right-padding is exact: Δ = 0 at padded positions and the conv window is gathered at each row's length.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titan_eval.errors import ModelError
from titan_eval.models.helix_config import HelixLayerConfig
from titan_eval.models.initial_values import initial
from titan_eval.models.mamba_mixer import MambaMixer, MixerState
from titan_eval.models.ops.conv import causal_conv1d_ref
from titan_eval.models.ops.kernels import selective_scan_kernel
from titan_eval.models.ops.selective_scan import selective_scan_ref

HEADDIM = 64  # mamba_ssm Mamba2 default head size P
GATED_NORM_EPS = 1e-5  # mamba_ssm RMSNormGated default


def inverse_softplus(x: Tensor) -> Tensor:
    """y with softplus(y) = x (x > 0)."""
    return x + torch.log(-torch.expm1(-x))


class GatedRMSNorm(nn.Module):
    """y = RMSNorm(x ⊙ silu(z)) · weight over the last axis (one group), fp32 inside (mamba_ssm
    norm_before_gate=False)."""

    def __init__(self, dim: int, eps: float = GATED_NORM_EPS) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        """x, z [B, L, dim] → [B, L, dim] in x's dtype."""
        g = x.float() * F.silu(z.float())
        normed = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + self.eps)
        return (normed * self.weight.float()).to(x.dtype)


class Mamba2Mixer(nn.Module):
    """mamba_ssm `Mamba2` parameter layout and math (module docstring), pure PyTorch, with state continuation."""

    def __init__(self, d_model: int, d_state: int, d_conv: int = 4, expand: int = 2,
                 dt_min: float = 1e-3, dt_max: float = 0.1) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.nheads = self.d_inner // HEADDIM
        self.conv_dim = self.d_inner + 2 * d_state
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + self.nheads, bias=False)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, padding=d_conv - 1)
        dt = initial(lambda: torch.exp(torch.rand(self.nheads) * (math.log(dt_max) - math.log(dt_min))
                                       + math.log(dt_min)), (self.nheads,))
        self.dt_bias = nn.Parameter(initial(lambda: inverse_softplus(dt), (self.nheads,)))
        self.A_log = nn.Parameter(initial(lambda: torch.log(torch.empty(self.nheads).uniform_(1.0, 16.0)),
                                          (self.nheads,)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = GatedRMSNorm(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        self.kernel_policy = "auto"

    def forward(
        self, u: Tensor, lengths: Tensor, mask: Tensor, state: MixerState | None = None
    ) -> tuple[Tensor, MixerState]:
        """u [B, L, d_model], lengths [B], mask [B, L] → (out [B, L, d_model], state: conv [B, d_inner+2N, K−1],
        ssm [B, d_inner, N] fp32, both after each row's lengths[b] tokens)."""
        z, xbc, dt = self.in_proj(u).split([self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xbc, window = causal_conv1d_ref(xbc.transpose(1, 2), self.conv1d.weight, self.conv1d.bias,
                                        None if state is None else state.conv, lengths)
        x, B, C = F.silu(xbc).split([self.d_inner, self.d_state, self.d_state], dim=1)  # (B, ·, L)
        delta = F.softplus(dt.float() + self.dt_bias.float()) * mask[:, :, None]  # (B, L, nheads); Δ = 0 on padding
        delta = delta.transpose(1, 2).repeat_interleave(HEADDIM, dim=1)  # (B, d_inner, L)
        A = (-torch.exp(self.A_log.float())).repeat_interleave(HEADDIM)[:, None].expand(self.d_inner, self.d_state)
        D = self.D.float().repeat_interleave(HEADDIM)
        kernel = selective_scan_kernel(self.kernel_policy, u.is_cuda) if state is None else None
        if kernel is not None:
            y, h = kernel(x.contiguous(), delta.to(x.dtype).contiguous(), A.contiguous(), B.contiguous(),
                          C.contiguous(), D, None, None, False, True)
            h = h.float()
        else:
            y, h = selective_scan_ref(x, delta, A, B, C, D, None if state is None else state.ssm,
                                      cpu_kernel=self.kernel_policy != "torch")
        y = self.norm(y.transpose(1, 2), z)  # (B, L, d_inner)
        return self.out_proj(y.to(u.dtype)), MixerState(conv=window, ssm=h)


class KernelLayout(nn.Module):
    """Holds the Mamba2 mixer as `inner`, matching the kernel layout's `_impl.inner.*` keys."""

    def __init__(self, inner: Mamba2Mixer) -> None:
        super().__init__()
        self.inner = inner


class HelixMamba(nn.Module):
    """`blocks.i.attn`: the Mamba mixer at `_impl` in the given layout ('native' or 'kernel')."""

    def __init__(self, d_model: int, layer: HelixLayerConfig, layout: str) -> None:
        super().__init__()
        if layer.d_state is None:
            raise ModelError("helix: a mamba layer needs d_state")
        self.layout = layout
        d_inner = layer.expand_factor * d_model
        if layout == "native":
            self._impl: nn.Module = MambaMixer(d_model, layer.d_state, layer.d_conv, layer.expand_factor,
                                               dt_rank=d_inner, conv_bias=True, bias=False,
                                               dt_min=layer.dt_min, dt_max=layer.dt_max)
        else:
            self._impl = KernelLayout(Mamba2Mixer(d_model, layer.d_state, layer.d_conv, layer.expand_factor,
                                                  layer.dt_min, layer.dt_max))

    @property
    def mixer(self) -> nn.Module:
        """The module that runs: MambaMixer (native) or Mamba2Mixer (kernel)."""
        return self._impl.inner if self.layout == "kernel" else self._impl

    def forward(
        self, u: Tensor, lengths: Tensor, mask: Tensor, state: MixerState | None = None
    ) -> tuple[Tensor, MixerState]:
        """u [B, L, d_model] → (out [B, L, d_model], state after each row's lengths[b] tokens)."""
        return self.mixer(u, lengths, mask, state)
