"""Streaming routing summary for whole runs: running totals per routing layer, kept on the model's device.

`RouteRecorder` (routing.py) keeps every call's dense weights until it exits and needs whole forwards; a run's
routing summary needs only sums, so `RouteTotals` adds each tap firing into five accumulators and keeps nothing
else. It reads the row lengths the models hand to their `RouteTap`s on every path, so it is `fast_path_safe`: the
model's prefix cache and cached decoding stay on while it is attached (`LanguageModel.hooks_attached`).

What it counts: every real position (< the row's length) of every tap firing, outside generation steps (the
engine marks those with `models.taps.generating()`): each scoring pass, contexts and continuations. Where a prefix
cache runs a shared context once for all its choices, and the router lies inside those cached blocks, the
context's positions count once; otherwise once per choice, as in a whole-row pass.

Per layer, with E arms/experts, w [N, E] the applied weights and c [N, k] the chosen ids of the N counted positions:
    n            N
    weight_sum   Σ_n w_n            [E] fp64
    entropy_sum  Σ_n H(w_n)         fp64 (0·log 0 = 0)
    pairs        counts of the unordered top-2 pair {c_n0, c_n1} as an [E·E] fp64 vector (index min·E + max)
Summaries match `routing.summarize` of the same positions up to summation order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from titan_eval.errors import ModelError, UsageError
from titan_eval.models.taps import RouteTap, in_generation
from titan_eval.telemetry.routing import RouteSummary, entropy_of_mean


@dataclass
class _Totals:
    """One layer's accumulators (device tensors; no host sync while recording)."""

    n: Tensor
    weight_sum: Tensor
    entropy_sum: Tensor
    pairs: Tensor


class RouteTotals:
    """Context manager summing the routing of every `RouteTap` of `model` (module docstring); read `layers` and
    `summary(layer)` after the `with` block."""

    fast_path_safe = True
    span = "real positions of scoring passes"

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._totals: dict[str, _Totals] = {}
        self._handles: list[RemovableHandle] = []
        self._closed = False

    def __enter__(self) -> "RouteTotals":
        taps = [m for m in self.model.modules() if isinstance(m, RouteTap)]
        if not taps:
            raise ModelError(f"{type(self.model).__name__} has no RouteTap to record")
        self._handles = [tap.register_forward_hook(self._on_tap) for tap in taps]
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._closed = True

    def _on_tap(self, tap: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        """weights [B, L, E], chosen [B, L, k], lengths [B] | None → added to the tap's layer totals."""
        if in_generation():
            return
        weights, chosen = args[0].detach(), args[1].detach()
        lengths = args[2] if len(args) > 2 else None
        batch, length, arms = weights.shape
        if lengths is None:
            real = torch.ones(batch, length, dtype=torch.float64, device=weights.device)
        else:
            real = (torch.arange(length, device=weights.device)[None, :] < lengths.to(weights.device)[:, None])
            real = real.to(torch.float64)
        w = weights.to(torch.float64)
        totals = self._totals.get(tap.layer)
        if totals is None:
            zeros = torch.zeros((), dtype=torch.float64, device=weights.device)
            totals = _Totals(zeros.clone(), w.new_zeros(arms), zeros.clone(), w.new_zeros(arms * arms))
            self._totals[tap.layer] = totals
        totals.n += real.sum()
        totals.weight_sum += (w * real[..., None]).sum(dim=(0, 1))
        totals.entropy_sum += (-torch.special.xlogy(w, w).sum(dim=-1) * real).sum()
        if chosen.shape[-1] >= 2:
            top2 = chosen[..., :2].sort(dim=-1).values.to(torch.long)
            totals.pairs.scatter_add_(0, (top2[..., 0] * arms + top2[..., 1]).reshape(-1), real.reshape(-1))

    @property
    def layers(self) -> list[str]:
        """The routing layers that fired, in first-firing order."""
        self._require_closed()
        return list(self._totals)

    def summary(self, layer: str) -> RouteSummary:
        """The layer's `RouteSummary` over every counted position (`UsageError` for a layer that never fired)."""
        self._require_closed()
        if layer not in self._totals:
            raise UsageError(f"no routing recorded for layer {layer!r}; recorded: {', '.join(self._totals) or 'none'}")
        t = self._totals[layer]
        n = int(round(float(t.n)))
        if n == 0:
            return RouteSummary(layer, self.span, 0, ())
        arms = t.weight_sum.shape[0]
        mean = (t.weight_sum / n).cpu()
        counts = t.pairs.cpu().tolist()
        pairs = [(counts[i * arms + j], i, j) for i in range(arms) for j in range(i + 1, arms) if counts[i * arms + j]]
        pairs.sort(key=lambda p: -p[0])  # stable: equal counts keep (i, j) order, as `routing.pair_frequencies`
        return RouteSummary(layer, self.span, n, tuple(mean.tolist()), {f"{i}-{j}": c / n for c, i, j in pairs},
                            entropy_of_mean(mean[None, :]), float(t.entropy_sum) / n)

    def _require_closed(self) -> None:
        if not self._closed:
            raise UsageError("read a recorder's results after its `with` block has exited")
