"""Marker modules that models place where telemetry is read. They are identities: with no hook attached they
cost one Python call and no host-device synchronisation; recorders attach forward hooks to them.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

from torch import Tensor, nn

_GENERATING: ContextVar[bool] = ContextVar("titan_eval_generating", default=False)


@contextmanager
def generating() -> Iterator[None]:
    """Marks the forward calls inside as generation steps (the engine's `generate` enters it), so recorders that
    summarise scoring passes only (`telemetry.route_totals`) can leave them out."""
    token = _GENERATING.set(True)
    try:
        yield
    finally:
        _GENERATING.reset(token)


def in_generation() -> bool:
    """True inside `generating()`."""
    return _GENERATING.get()


@dataclass(frozen=True)
class StreamPoint:
    """Where residual-stream point `label` is read: the output of `module` (`where` = "output") or its first
    input ("input"). Models list theirs in `LanguageModel.stream_points()`."""

    label: str
    module: nn.Module
    where: str


class RouteTap(nn.Module):
    """Routing decision of one MoE layer.

    forward(weights [B, L, E], chosen [B, L, k], lengths [B] | None) → weights, unchanged. `weights` are the route
    weights actually applied (0 for experts/arms not chosen), `chosen` the selected expert/arm ids (long), best
    first; `lengths` the real (unpadded) positions of each row of this call, when the caller knows them (None:
    every position is real). Models pass lengths on every path, including prefix caches and prefill.
    """

    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, weights: Tensor, chosen: Tensor, lengths: Tensor | None = None) -> Tensor:
        return weights


class ActivationTap(nn.Module):
    """A named activation (residual stream after a layer, arm outputs, injection, ...): forward(x) → x."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def forward(self, x: Tensor) -> Tensor:
        return x
