"""Routing telemetry: per-position route weights and chosen experts/arms, captured by forward hooks on `RouteTap`s.

Usage (any model with RouteTaps, e.g. titan's "domain_router"):

    with RouteRecorder(model, span=Span(start=-1)) as rec:   # record each row's last real position only
        model(ids, lengths)
    trace = rec.trace()            # RouteTrace: weights [N, E], chosen [N, k], call/row/position [N]
    summary = rec.summary()        # RouteSummary: mean weight per arm, top-2 pair frequencies, two entropies

Glossary: B rows, L padded length, E experts/arms, k chosen per token, N recorded positions (all calls, all rows).
A *span* picks, in every row's own coordinates, the positions [start, stop) to record (negative = from the row's
real end, as in Python slicing); only real positions (< lengths[b]) are ever recorded. The row lengths come from
the model's own `forward(ids, lengths)` call (a pre-hook on the model); when a tap fires outside `forward` (e.g. in
`prefill`), every position the tap sees counts as real.

Cost: nothing while no recorder is attached (the taps are identities). While attached, each forward keeps a device
copy of weights [B, L, E], chosen [B, L, k] and the span mask [B, L]; nothing is synchronised or copied to the host
until the `with` block exits, when everything moves to the CPU at once. Attach the recorder only around the
forward calls whose routing you want (not around every step of a full-recompute generation).

Entropies (nats), reported under distinct names (spec §6.5):
    entropy_of_mean      H(mean_n w_n): the author's `entropy` telemetry (−Σ p log max(p, 1e-9)); max ln E
    mean_token_entropy   mean_n H(w_n): per-token routing sharpness (≤ ln k under top-k routing)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from titan_eval.errors import ModelError, UsageError
from titan_eval.models.taps import RouteTap

Bound = int | Sequence[int] | Tensor


@dataclass(frozen=True)
class Span:
    """Positions [start, stop) of each row to record, in that row's coordinates. `start`/`stop` are one int for all
    rows or one per row ([B] sequence/tensor); negative values count back from the row's real length; stop None =
    the row's end. Clipped to the real positions. `label` names the span in results ("prompt", "think", ...)."""

    start: Bound = 0
    stop: Bound | None = None
    label: str = "all"

    def mask(self, lengths: Tensor, max_len: int) -> Tensor:
        """lengths [B] → [B, max_len] bool, True at recorded positions (computed on lengths' device, no sync)."""
        n = lengths.to(torch.long)

        def resolve(bound: Bound | None, default: Tensor) -> Tensor:
            if bound is None:
                return default
            value = torch.as_tensor(bound, dtype=torch.long, device=n.device).reshape(-1)
            if value.numel() not in (1, n.numel()):
                raise UsageError(f"span {self.label!r}: {value.numel()} per-row bounds for {n.numel()} rows")
            value = value.expand_as(n)
            return torch.where(value < 0, value + n, value).clamp(min=torch.zeros_like(n), max=n)

        start, stop = resolve(self.start, torch.zeros_like(n)), resolve(self.stop, n)
        t = torch.arange(max_len, device=n.device)[None, :]
        return (t >= start[:, None]) & (t < stop[:, None])


class TapRecorder:
    """Base of the recorders: attaches `_on_tap` as a forward hook to every tap of `tap_type` that `select` accepts,
    tracks the row lengths of the model's current forward call, and detaches everything on exit (also on errors)."""

    tap_type: type[nn.Module] = nn.Module

    def __init__(self, model: nn.Module, span: Span | None = None) -> None:
        self.model = model
        self.span = span or Span()
        """May be reassigned between forward calls inside the `with` block; applies to later calls."""
        self._handles: list[RemovableHandle] = []
        self._lengths: Tensor | None = None
        self._length = 0
        self._calls = 0
        self._closed = False

    def select(self, tap: nn.Module) -> bool:
        return True

    def _on_tap(self, tap: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        """Move what was collected to the CPU (called once, on exit)."""

    def _mask(self, batch: int, length: int, device: torch.device, tap_lengths: Tensor | None = None) -> Tensor:
        """The current call's span mask [batch, length]: row lengths from the model's `forward` call, else the ones
        the tap was given (`tap_lengths` [batch]), else every row full length. A tensor whose axis 1 is not the
        call's positions (a [B, 1, d] injection, [B, 16, d] slots) is recorded whole for every row that has at
        least one position in the span."""
        lengths, call_len = self._lengths, self._length
        if (lengths is None or call_len == 0) and tap_lengths is not None and tap_lengths.shape[0] == batch:
            lengths, call_len = tap_lengths, length
        if lengths is None or lengths.shape[0] != batch or call_len == 0:
            lengths, call_len = torch.full((batch,), length, dtype=torch.long, device=device), length
        mask = self.span.mask(lengths.to(device), call_len)
        return mask if call_len == length else mask.any(dim=1, keepdim=True).expand(batch, length)

    def _pre_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        ids = args[0] if args else kwargs.get("ids")
        lengths = args[1] if len(args) > 1 else kwargs.get("lengths")
        if lengths is None and isinstance(ids, Tensor):
            lengths = torch.full((ids.shape[0],), ids.shape[1], dtype=torch.long, device=ids.device)
        self._lengths = lengths if isinstance(lengths, Tensor) else None
        self._length = ids.shape[1] if isinstance(ids, Tensor) and ids.ndim == 2 else 0

    def _post_forward(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        self._lengths = None
        self._calls += 1

    def __enter__(self) -> "TapRecorder":
        taps = [m for m in self.model.modules() if isinstance(m, self.tap_type) and self.select(m)]
        if not taps:
            raise ModelError(f"{type(self.model).__name__} has no {self.tap_type.__name__} to record")
        self._handles = [tap.register_forward_hook(self._on_tap) for tap in taps]
        self._handles.append(self.model.register_forward_pre_hook(self._pre_forward, with_kwargs=True))
        self._handles.append(self.model.register_forward_hook(self._post_forward, with_kwargs=True, always_call=True))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._lengths = None
        self._finish()
        self._closed = True

    def _require_closed(self) -> None:
        if not self._closed:
            raise UsageError("read a recorder's results after its `with` block has exited")


@dataclass(frozen=True)
class RouteCall:
    """One tap firing: the dense routing of one forward call, on the CPU after exit."""

    layer: str
    call: int
    span: str
    weights: Tensor  # [B, L, E] fp32, the applied route weights (0 for arms not chosen)
    chosen: Tensor  # [B, L, k] long, chosen ids, best first
    mask: Tensor  # [B, L] bool, the recorded positions


@dataclass(frozen=True)
class RouteTrace:
    """Routing at the recorded positions of one layer, flattened over calls and rows (in that order)."""

    layer: str
    span: str
    weights: Tensor  # [N, E] fp32
    chosen: Tensor  # [N, k] long, best first
    call: Tensor  # [N] long, forward-call index within the recording
    row: Tensor  # [N] long, row within that call's batch
    position: Tensor  # [N] long, position within that row


@dataclass(frozen=True)
class RouteSummary:
    """Summary of a RouteTrace (see the module docstring for the entropies)."""

    layer: str
    span: str
    n_positions: int
    mean_weight: tuple[float, ...]  # [E], mean route weight per arm
    top2_pairs: dict[str, float] = field(default_factory=dict)  # "i-j" (i < j) → fraction of positions
    entropy_of_mean: float | None = None
    mean_token_entropy: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (for run.json)."""
        return {"layer": self.layer, "span": self.span, "n_positions": self.n_positions,
                "mean_weight": list(self.mean_weight), "top2_pairs": dict(self.top2_pairs),
                "entropy_of_mean": self.entropy_of_mean, "mean_token_entropy": self.mean_token_entropy}


def mean_route_weight(weights: Tensor) -> Tensor:
    """weights [N, E] → [E], the mean route weight per arm."""
    return weights.float().mean(dim=0)


def pair_frequencies(chosen: Tensor) -> dict[tuple[int, int], float]:
    """chosen [N, k ≥ 2] → {(i, j) with i < j: fraction of positions whose top-2 are {i, j}}, most frequent first."""
    if chosen.shape[0] == 0:
        return {}
    pairs = chosen[:, :2].sort(dim=-1).values
    unique, counts = pairs.unique(dim=0, return_counts=True)
    order = counts.argsort(descending=True, stable=True)
    total = chosen.shape[0]
    return {(int(unique[i, 0]), int(unique[i, 1])): int(counts[i]) / total for i in order.tolist()}


def mean_token_entropy(weights: Tensor) -> float:
    """weights [N, E] → mean over positions of −Σ_e w log w (0·log 0 = 0), in nats."""
    w = weights.double()
    return float((-torch.special.xlogy(w, w).sum(dim=-1)).mean())


def entropy_of_mean(weights: Tensor, clamp: float = 1e-9) -> float:
    """weights [N, E] → −Σ_e p log max(p, clamp) with p the mean weight vector (the author's `entropy`)."""
    p = weights.double().mean(dim=0)
    return float(-(p * p.clamp(min=clamp).log()).sum())


def summarize(trace: RouteTrace) -> RouteSummary:
    """The RouteSummary of one layer's trace."""
    n = trace.weights.shape[0]
    if n == 0:
        return RouteSummary(trace.layer, trace.span, 0, ())
    pairs = {f"{i}-{j}": freq for (i, j), freq in pair_frequencies(trace.chosen).items()}
    return RouteSummary(trace.layer, trace.span, n, tuple(mean_route_weight(trace.weights).tolist()), pairs,
                        entropy_of_mean(trace.weights), mean_token_entropy(trace.weights))


class RouteRecorder(TapRecorder):
    """Context manager recording every RouteTap of `model` over `span` (module docstring)."""

    tap_type = RouteTap

    def __init__(self, model: nn.Module, span: Span | None = None) -> None:
        super().__init__(model, span)
        self._pending: list[tuple[str, int, str, Tensor, Tensor, Tensor]] = []
        self.calls: list[RouteCall] = []
        """Every tap firing, in order (filled on exit)."""

    def _on_tap(self, tap: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        weights, chosen = args[0], args[1]
        mask = self._mask(weights.shape[0], weights.shape[1], weights.device, args[2] if len(args) > 2 else None)
        self._pending.append((tap.layer, self._calls, self.span.label, weights.detach().clone(),
                              chosen.detach().clone(), mask))

    def _finish(self) -> None:
        self.calls = [RouteCall(layer, call, label, w.float().cpu(), c.long().cpu(), m.cpu())
                      for layer, call, label, w, c, m in self._pending]
        self._pending = []

    @property
    def layers(self) -> list[str]:
        """Names of the RouteTaps that fired, in first-firing order."""
        self._require_closed()
        return list(dict.fromkeys(c.layer for c in self.calls))

    def trace(self, layer: str | None = None) -> RouteTrace:
        """The recorded positions of `layer` (default: the only layer that fired)."""
        layer = self._resolve(layer)
        parts = [c for c in self.calls if c.layer == layer]
        where = [c.mask.nonzero() for c in parts]  # [n_c, 2] (row, position)
        span = parts[0].span if len({c.span for c in parts}) == 1 else "mixed"
        return RouteTrace(
            layer=layer, span=span,
            weights=torch.cat([c.weights[c.mask] for c in parts]),
            chosen=torch.cat([c.chosen[c.mask] for c in parts]),
            call=torch.cat([torch.full((w.shape[0],), c.call, dtype=torch.long) for c, w in zip(parts, where)]),
            row=torch.cat([w[:, 0] for w in where]),
            position=torch.cat([w[:, 1] for w in where]),
        )

    def summary(self, layer: str | None = None) -> RouteSummary:
        """`summarize(self.trace(layer))`."""
        return summarize(self.trace(layer))

    def _resolve(self, layer: str | None) -> str:
        layers = self.layers
        if layer is None:
            if len(layers) != 1:
                raise UsageError(f"recorded {len(layers)} routing layers ({', '.join(layers) or 'none fired'}); name one")
            return layers[0]
        if layer not in layers:
            raise UsageError(f"no routing recorded for layer {layer!r}; recorded: {', '.join(layers) or 'none'}")
        return layer
