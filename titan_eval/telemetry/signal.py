"""Signal growth: the residual-stream norm after the embedding and after each layer, for any architecture.

Usage:

    with StreamRecorder(model, span=Span(label="prompt")) as rec:
        model(ids, lengths)
    rec.growth()       # [{"point": "embedding", "mean": ..., "max": ..., "n": ...}, {"point": "layer_0", ...}, ...]
    rec.injections()   # Titan: {"moe_injection": {"norm_mean", "backbone_norm_mean", "ratio"}, "cp_injection": ...}

Where the stream is read is each model's own declaration (`LanguageModel.stream_points`; hooks are registered only
inside the `with` block and removed on exit):
    titan   its ActivationTaps: "embedding", "layer_{j}" (block j's output, before any ConceptPerceptron injection
            that follows it); injections "moe_injection" (moe_scale·c, added before layer mid) next to
            "mid_hidden" (the backbone stream it is added to) and "cp_injection" g [B, 1, d] next to the stream it
            is first added to ("layer_5")
    mamba   output of backbone.embedding; after layer i = the input of backbone.layers[i+1].norm (pre-norm), and
            after the last layer = the input of backbone.norm_f
    helix   output of embedding; blocks[i+1].norm1's input; norm_out's input
    h64lm   output of model.embed_tokens; model.layers[i+1].input_layernorm's input; model.norm's input
In pre-norm networks the input of the next block's first norm *is* the residual stream after the previous block.

Glossary: x_l [B, L, d] the residual stream after point l (l = embedding, layer_0 … layer_{n−1}); ‖x_l‖₂ its L2
norm over d at each position; mean / max over the span's recorded positions (all calls and rows pooled).
Per hook call only the norms [B, L] and the span mask stay on the device; they move to the CPU on exit.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError, UsageError
from titan_eval.telemetry.routing import Span, TapRecorder
from titan_eval.models.taps import ActivationTap, StreamPoint

TITAN_EXTRA_TAPS = ("mid_hidden", "moe_injection", "cp_injection")


def stream_points(model: nn.Module) -> list[StreamPoint]:
    """The model's read points (`LanguageModel.stream_points`), plus its injection taps (TITAN_EXTRA_TAPS) when it
    has them; `ModelError` for a model that declares none."""
    declared = getattr(model, "stream_points", None)
    if declared is None:
        raise ModelError(f"{type(model).__name__} declares no residual-stream read points")
    taps = {m.name: m for m in model.modules() if isinstance(m, ActivationTap)}
    return list(declared()) + [StreamPoint(t, taps[t], "output") for t in TITAN_EXTRA_TAPS if t in taps]


class StreamRecorder(TapRecorder):
    """Context manager recording ‖x_l‖₂ at every read point of `model` over `span`."""

    def __init__(self, model: nn.Module, span: Span | None = None) -> None:
        super().__init__(model, span)
        self.points = stream_points(model)
        self._pending: list[tuple[str, Tensor, Tensor]] = []
        self.norms_by_point: dict[str, Tensor] = {}
        """{point: [N] norms at the recorded positions} (filled on exit)."""

    def _hook(self, point: StreamPoint) -> Callable[..., None]:
        if point.where == "output":
            def output_hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
                self._add(point.label, output[0] if isinstance(output, tuple) else output)

            return output_hook

        def input_hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            self._add(point.label, args[0])

        return input_hook

    def _add(self, label: str, x: Tensor) -> None:
        if x.dim() != 3:  # the head applied at gathered scored positions ([T, d], engine.batching.logits_at): not a
            return        # [B, L, d] stream read; full forwards (what the probe runs) always are
        norms = x.detach().float().norm(dim=-1)
        self._pending.append((label, norms, self._mask(norms.shape[0], norms.shape[1], norms.device)))

    def __enter__(self) -> "StreamRecorder":
        for p in self.points:
            register = p.module.register_forward_hook if p.where == "output" else p.module.register_forward_pre_hook
            self._handles.append(register(self._hook(p)))
        self._handles.append(self.model.register_forward_pre_hook(self._pre_forward, with_kwargs=True))
        self._handles.append(self.model.register_forward_hook(self._post_forward, with_kwargs=True, always_call=True))
        return self

    def _finish(self) -> None:
        parts: dict[str, list[Tensor]] = {}
        for label, norms, mask in self._pending:
            parts.setdefault(label, []).append(norms.cpu()[mask.cpu()])
        self.norms_by_point = {label: torch.cat(v) for label, v in parts.items()}
        self._pending = []

    def _stats(self, label: str) -> dict[str, Any]:
        v = self.norms_by_point.get(label)
        if v is None:
            raise UsageError(f"stream point {label!r} was not recorded")
        n = int(v.numel())
        return {"point": label, "mean": float(v.double().mean()) if n else None,
                "max": float(v.max()) if n else None, "n": n}

    def growth(self) -> list[dict[str, Any]]:
        """[{point, mean, max, n}] for the embedding and every layer, in depth order."""
        self._require_closed()
        return [self._stats(p.label) for p in self.points if p.label not in TITAN_EXTRA_TAPS]

    def injections(self) -> dict[str, dict[str, Any]]:
        """Titan: each injection's mean norm next to the mean norm of the backbone stream it is added to
        (empty for other architectures)."""
        self._require_closed()
        pairs = {"moe_injection": "mid_hidden", "cp_injection": "layer_5"}
        out = {}
        for injected, backbone in pairs.items():
            if injected in self.norms_by_point and backbone in self.norms_by_point:
                inj, base = self._stats(injected)["mean"], self._stats(backbone)["mean"]
                ratio = inj / base if inj is not None and base else None
                out[injected] = {"backbone_point": backbone, "norm_mean": inj, "backbone_norm_mean": base,
                                 "ratio": ratio}
        return out
