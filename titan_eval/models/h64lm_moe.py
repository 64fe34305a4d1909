"""H64LM's mixture-of-experts feed-forward (the original `CustomMoELayer`, spec §4.5), used on odd layers.

Glossary: h [B, L, D] the post-attention-normed hidden state, E = num_experts, k = num_experts_per_token (2),
T = moe_temperature (2.0), Wg the router (`gate`), z = h·Wgᵀ the raw router logits, p = softmax(z / T) over
the E experts, (w, e) = topk(p, k) in descending order.

    y = Σ_k w_k · SwiGLU_{e_k}(h)

The weights are the raw probabilities, **not renormalised** (w₁ + w₂ < 1), as the original computes them.
No noise, capacity limit, token dropping or shared expert; each token's routing ignores the rest of the batch.

Telemetry: `route_tap` (a `RouteTap`) is called with the dense applied weights [B, L, E] (zero for unchosen
experts) and the chosen ids [B, L, k]; the weights it returns are the ones combined, so a hook sees exactly what
is applied. `logits_tap` (an `ActivationTap`) sees the raw router logits z [B, L, E], from which the full
probability vector, near-tie margins and the original's aux values can be derived.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from titan_eval.models.ffn import SwiGLU
from titan_eval.models.taps import ActivationTap, RouteTap


class H64LMMoE(nn.Module):
    """Router `gate` [E, D] and `experts.{e}` SwiGLU(D → F → D): forward(h [B, L, D]) → y [B, L, D]."""

    def __init__(self, hidden: int, ffn_hidden: int, num_experts: int, top_k: int, temperature: float,
                 layer_name: str) -> None:
        super().__init__()
        self.gate = nn.Linear(hidden, num_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(hidden, ffn_hidden) for _ in range(num_experts))
        self.top_k = top_k
        self.temperature = temperature
        self.logits_tap = ActivationTap(f"{layer_name}.router_logits")
        self.route_tap = RouteTap(layer_name)

    def route(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """h [B, L, D] → (dense applied weights [B, L, E] fp32, chosen expert ids [B, L, k] long, best first)."""
        logits = self.logits_tap(self.gate(h))
        probs = torch.softmax(logits.float() / self.temperature, dim=-1)
        weights, chosen = probs.topk(self.top_k, dim=-1)
        dense = torch.zeros_like(probs).scatter(-1, chosen, weights)
        return dense, chosen

    def forward(self, h: Tensor, lengths: Tensor | None = None) -> Tensor:
        """h [B, L, D], lengths [B] (each row's real positions, for the route tap; None = all) → [B, L, D]."""
        dense, chosen = self.route(h)
        dense = self.route_tap(dense, chosen, lengths)
        flat_h = h.reshape(-1, h.shape[-1])  # (N, D), N = B·L
        flat_w = dense.reshape(-1, dense.shape[-1])  # (N, E)
        flat_chosen = chosen.reshape(-1, chosen.shape[-1])  # (N, k)
        out = torch.zeros_like(flat_h)
        for e, expert in enumerate(self.experts):
            tokens = (flat_chosen == e).any(dim=-1).nonzero().squeeze(-1)  # tokens routed to expert e
            if tokens.numel() == 0:
                continue
            scale = flat_w[tokens, e].to(h.dtype)[:, None]
            out.index_add_(0, tokens, expert(flat_h[tokens]) * scale)
        return out.view_as(h)
