"""Marker modules that models place where telemetry is read. They are identities: with no hook attached they
cost one Python call and no host-device synchronisation; recorders attach forward hooks to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class StreamPoint:
    """Where residual-stream point `label` is read: the output of `module` (`where` = "output") or its first
    input ("input"). Models list theirs in `LanguageModel.stream_points()`."""

    label: str
    module: nn.Module
    where: str


class RouteTap(nn.Module):
    """Routing decision of one MoE layer.

    forward(weights [B, L, E], chosen [B, L, k]) → weights, unchanged. `weights` are the route weights actually
    applied (0 for experts/arms not chosen), `chosen` the selected expert/arm ids (long), best first.
    """

    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, weights: Tensor, chosen: Tensor) -> Tensor:
        return weights


class ActivationTap(nn.Module):
    """A named activation (residual stream after a layer, arm outputs, injection, ...): forward(x) → x."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return x
