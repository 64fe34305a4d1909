"""Activation telemetry: norms and mean vectors of `ActivationTap` outputs, captured by forward hooks.

Usage (titan tap names: "embedding", "primer", "layer_{j}", "mid_hidden", "bridge", "arm_{k}", "moe_injection",
"cp_injection", "final", ...; see the model's docstring):

    with ActivationRecorder(model, names=("arm_*",), span=Span(label="prompt")) as rec:
        model(ids, lengths)
    rec.mean_norms()     # {"arm_0": mean ‖a_0‖₂ over the recorded positions, ...}
    rec.mean_vectors()   # {"arm_0": mean a_0 [d], ...}  (the author's per-arm `_arm_snapshot` columns)

Glossary: x [B, L', d] a tap's tensor; ‖x‖₂ its L2 norm over d at each position; N the recorded positions. Spans
and lengths work as in `titan_eval.telemetry.routing` (the same `Span`); a tensor whose axis 1 is not the token
positions (injections [B, 1, d], slots [B, 16, d]) counts whole for every row with a position in the span.
Per call and tap only the norms [B, L'] and a masked sum [d] stay on the device; they move to the CPU on exit.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch
from typing import Any, Sequence

import torch
from torch import Tensor, nn

from titan_eval.errors import UsageError
from titan_eval.telemetry.routing import Span, TapRecorder
from titan_eval.models.taps import ActivationTap


@dataclass(frozen=True)
class ActivationRecord:
    """One tap firing, on the CPU after exit."""

    name: str
    call: int
    span: str
    norms: Tensor  # [B, L'] fp32, ‖x‖₂ at every position
    mask: Tensor  # [B, L'] bool, the recorded positions
    total: Tensor  # [d] fp32, Σ of x over the recorded positions
    count: int  # number of recorded positions


class ActivationRecorder(TapRecorder):
    """Context manager recording the ActivationTaps whose names match any of `names` (fnmatch patterns)."""

    tap_type = ActivationTap

    def __init__(self, model: nn.Module, names: Sequence[str] = ("*",), span: Span | None = None) -> None:
        super().__init__(model, span)
        self.patterns = tuple(names)
        self._pending: list[tuple[str, int, str, Tensor, Tensor, Tensor, Tensor]] = []
        self.records: list[ActivationRecord] = []
        """Every tap firing, in order (filled on exit)."""

    def select(self, tap: nn.Module) -> bool:
        return any(fnmatch(getattr(tap, "name", ""), p) for p in self.patterns)

    def _on_tap(self, tap: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        x = args[0].detach().float()
        mask = self._mask(x.shape[0], x.shape[1], x.device)
        total = (x * mask[..., None]).sum(dim=(0, 1))
        self._pending.append((tap.name, self._calls, self.span.label, x.norm(dim=-1), mask, total, mask.sum()))

    def _finish(self) -> None:
        self.records = [ActivationRecord(name, call, label, n.cpu(), m.cpu(), t.cpu(), int(c))
                        for name, call, label, n, m, t, c in self._pending]
        self._pending = []

    def names(self) -> list[str]:
        """Tap names that fired, in first-firing order."""
        self._require_closed()
        return list(dict.fromkeys(r.name for r in self.records))

    def norms(self, name: str) -> Tensor:
        """[N] the L2 norms of tap `name` at its recorded positions (calls, rows, positions in order)."""
        parts = [r.norms[r.mask] for r in self.records if r.name == name]
        if not parts:
            raise UsageError(f"tap {name!r} was not recorded; recorded: {', '.join(self.names()) or 'none'}")
        return torch.cat(parts)

    def mean_norms(self) -> dict[str, float]:
        """{tap name: mean L2 norm over its recorded positions} (NaN when it recorded none)."""
        return {name: float(self.norms(name).mean()) for name in self.names()}

    def mean_vectors(self) -> dict[str, Tensor]:
        """{tap name: mean activation [d] over its recorded positions} (NaN when it recorded none)."""
        out = {}
        for name in self.names():
            records = [r for r in self.records if r.name == name]
            out[name] = torch.stack([r.total for r in records]).sum(0) / sum(r.count for r in records)
        return out
