"""The Mamba-1 mixer (selective SSM block), shared by `mamba` and `titan`.

Parameter names follow state-spaces/mamba (`in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj`), so
checkpoints map onto it by key prefix alone. Glossary (Gu & Dao 2023): d_model = D_model, d_inner = E·D_model,
d_state = N, dt_rank = R (rank of the Δ projection), d_conv = K.

Data flow for u [B, L, d_model]:
    [x, z] = in_proj(u)                          x, z [B, L, d_inner]
    x = silu(causal depthwise conv_K(x) + bias)
    [δ, B, C] = x_proj(x)                        δ [B, L, R], B, C [B, L, N]
    Δ = softplus(dt_proj(δ))                     [B, L, d_inner]
    y = selective_scan(x, Δ, A = −exp(A_log), B, C, D)
    out = out_proj(y ⊙ silu(z))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from titan_eval.models.initial_values import building_on_meta, initial
from titan_eval.models.ops.conv import causal_conv1d_ref
from titan_eval.models.ops.kernels import selective_scan_kernel
from titan_eval.models.ops.selective_scan import selective_scan_ref


@dataclass(frozen=True)
class MixerState:
    """One mixer's recurrent state: conv window [B, d_inner, K-1] and SSM state h [B, d_inner, N] (fp32)."""

    conv: Tensor
    ssm: Tensor


class MambaMixer(nn.Module):
    """Mamba-1 selective SSM mixer with exact right-padding and state continuation."""

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | None = None,
        conv_bias: bool = True,
        bias: bool = False,
        dt_min: float = 1e-3,
        dt_max: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_inner = expand * d_model
        self.d_state = d_state
        self.dt_rank = dt_rank or math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(initial(
            lambda: torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(self.d_inner, 1),
            (self.d_inner, d_state)))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        self.kernel_policy = "auto"
        if not building_on_meta():
            with torch.no_grad():  # Δ initialised log-uniform in [dt_min, dt_max], as in the paper
                dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
                self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def forward(
        self, u: Tensor, lengths: Tensor, mask: Tensor, state: MixerState | None = None
    ) -> tuple[Tensor, MixerState]:
        """u [B, L, d_model], lengths [B], mask [B, L] (True = real) → (out [B, L, d_model], state after lengths)."""
        x, z = self.in_proj(u).transpose(1, 2).chunk(2, dim=1)  # (B, d_inner, L) each
        x, window = causal_conv1d_ref(x, self.conv1d.weight, self.conv1d.bias, None if state is None else state.conv, lengths)
        x = F.silu(x)
        dbc = self.x_proj(x.transpose(1, 2))  # (B, L, R + 2N)
        delta_in, B, C = dbc.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(delta_in).float()).transpose(1, 2)  # (B, d_inner, L), fp32
        delta = delta * mask[:, None, :]  # Δ = 0 on padding: h passes through unchanged
        A = -torch.exp(self.A_log.float())
        B, C = B.transpose(1, 2), C.transpose(1, 2)  # (B, N, L)
        kernel = selective_scan_kernel(self.kernel_policy, u.is_cuda) if state is None else None
        if kernel is not None:
            y, h = kernel(x.contiguous(), delta.to(x.dtype).contiguous(), A, B.contiguous(), C.contiguous(),
                          self.D.float(), None, None, False, True)
            h = h.float()
        else:
            y, h = selective_scan_ref(x, delta, A, B, C, self.D, None if state is None else state.ssm,
                                      cpu_kernel=self.kernel_policy != "torch")
        y = y * F.silu(z)
        return self.out_proj(y.transpose(1, 2).to(u.dtype)), MixerState(conv=window, ssm=h)
