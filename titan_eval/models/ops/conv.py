"""Causal depthwise conv1d with an explicit carried window, so prefill can continue from a state.

Glossary: x [B, C, L] the input channels, w [C, 1, K] the depthwise kernel, window [B, C, K-1] the last K-1
inputs seen before x (zeros at the start of a sequence). Kernel twin: `causal_conv1d.causal_conv1d_fn`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def causal_conv1d_ref(
    x: Tensor, weight: Tensor, bias: Tensor | None, window: Tensor | None, lengths: Tensor
) -> tuple[Tensor, Tensor]:
    """x [B, C, L] (right-padded; row b real up to lengths[b]) → (y [B, C, L], new window [B, C, K-1]).

    y_t = bias + Σ_k w[k] · x_{t-K+1+k}; the new window holds each row's last K-1 real inputs."""
    batch, channels, _ = x.shape
    k = weight.shape[-1]
    if window is None:
        window = x.new_zeros(batch, channels, k - 1)
    full = torch.cat([window.to(x.dtype), x], dim=2)  # (B, C, K-1+L)
    y = F.conv1d(full, weight.to(x.dtype), None if bias is None else bias.to(x.dtype), groups=channels)
    idx = lengths.to(x.device)[:, None] + torch.arange(k - 1, device=x.device)[None, :]  # (B, K-1)
    new_window = full.gather(2, idx[:, None, :].expand(batch, channels, k - 1))
    return y, new_window
