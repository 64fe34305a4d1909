"""The model contract every architecture implements, so the engine never special-cases one.

Shapes: B = batch rows, L = padded sequence length, V = vocabulary (logit rows), n = branches per row.

- `forward(ids[B, L], lengths[B] | None) -> logits[B, L, V]`. Rows are right-padded; a row's logits at its
  real positions (< lengths[b]) depend only on its own first lengths[b] tokens. Logits at padded positions are
  unspecified.
- Recurrent models (`capabilities.recurrent_state`) also implement
  `prefill(ids[B, L], lengths[B] | None, state | None) -> (logits[B, L, V], state)`: run each row's first
  lengths[b] tokens (continuing from `state` when given) and return the state *after exactly those tokens*.
  `step(ids[B], state) -> (logits[B, V], state)` advances every row by one token.
- Optional split of the head (`has_hidden = True`; mamba, titan, helix and h64lm implement it):
  `hidden(ids[B, L], lengths[B] | None, state | None) -> (h[B, L, d], state | None)` is the stream the head reads
  and `head(h[..., d]) -> logits[..., V]` applies the final norm and the LM head position by position, so
  `head(hidden(ids, lengths)[0]) == forward(ids, lengths)` (up to matmul rounding) and `head(h[rows, cols])` gives
  the logits of just those positions. The engine uses it to compute the vocabulary projection and its fp32
  log-softmax only where a score or the next token is read. `state` is only accepted by recurrent models
  (the returned state is then `prefill`'s); others return None.
- Optional exact incremental decoding for models without a recurrent state (`begin_decode` / `continue_decode`,
  Titan): the model caches what is exactly reusable between steps and recomputes the rest. `begin_decode`
  returns None when the model cannot (or should not, e.g. while telemetry hooks are attached) decode that way.
- Optional shared-context scoring for the same models (`capabilities.prefix_cache`, Titan):
  `prefix_cache(ids[B, L], lengths[B] | None) -> cache` runs the exactly reusable part of the forward over the
  contexts once; `hidden_extended(cache, ids[B, L'], lengths[B]) -> h[B, W, d]` appends each row's first
  lengths[b] tokens (L' may be 0) and returns the stream the head reads over the whole concatenated rows
  (W = the longest), equal to `hidden` of those rows up to float rounding. The engine branches one context batch's
  cache (`select`) into its continuations.
- A `RecurrentState` is batch-first: `expand(n)` repeats row b as rows b*n .. b*n+n-1 (one context branching into
  n continuations), `select(idx)` keeps the given rows in the given order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError, UsageError
from titan_eval.models.taps import ActivationTap, StreamPoint


@dataclass(frozen=True)
class Capabilities:
    """What a built model can do; recorded in every run."""

    recurrent_state: bool
    """Exact prefix reuse and O(1)-per-token decoding through `prefill`/`step`."""
    routing: bool = False
    """Has `RouteTap`s (models/taps.py) that routing telemetry can hook (MoE models)."""
    kernels: tuple[str, ...] = ()
    """Optional fast paths that are active (e.g. "mamba-ssm:selective_scan"); empty = pure PyTorch."""
    arms: int = 0
    """Parallel reasoning arms with `arm_{k}` ActivationTaps (Titan: 8); 0 = none."""
    blackboard: tuple[str, ...] = ()
    """Parameter names whose zeroing ablates the model's blackboard bus (Titan: bb_read.weight); () = none."""
    prefix_cache: bool = False
    """Non-recurrent models that can still share a context's exactly reusable blocks between its continuations
    when scoring (`prefix_cache` / `hidden_extended`; Titan: every block before the first CP injection)."""

    def with_kernels(self, kernels: tuple[str, ...]) -> "Capabilities":
        return dataclasses.replace(self, kernels=kernels)


def _map_tensors(value: Any, fn: Any) -> Any:
    if isinstance(value, Tensor):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_map_tensors(v, fn) for v in value)
    if isinstance(value, list):
        return [_map_tensors(v, fn) for v in value]
    return value


@dataclass(frozen=True)
class RecurrentState:
    """Base for batch-first recurrent states: every tensor field (or tuple/list of tensors) has batch at dim 0.

    Subclasses are frozen dataclasses that add their fields; `expand` and `select` map over all of them.
    Non-tensor fields are carried unchanged.
    """

    def _map(self, fn: Any) -> "RecurrentState":
        changes = {f.name: _map_tensors(getattr(self, f.name), fn) for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **changes)

    def expand(self, n: int) -> "RecurrentState":
        """Row b → rows b*n .. b*n+n-1 (copies)."""
        return self._map(lambda t: t.repeat_interleave(n, dim=0))

    def select(self, idx: Tensor) -> "RecurrentState":
        """Keep rows `idx` ([k] long) in that order."""
        return self._map(lambda t: t.index_select(0, idx.to(t.device)))


def full_lengths(ids: Tensor, lengths: Tensor | None) -> Tensor:
    """`lengths` as a [B] long tensor on ids' device; None means every row uses all L positions."""
    if lengths is None:
        return torch.full((ids.shape[0],), ids.shape[1], dtype=torch.long, device=ids.device)
    return lengths.to(device=ids.device, dtype=torch.long)


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """[B, L] bool, True at real positions (< lengths[b])."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class LanguageModel(nn.Module):
    """Base of every architecture. Subclasses set `arch`, build themselves from a config dict and implement
    `forward` (and `prefill` when recurrent)."""

    arch: ClassVar[str] = ""
    has_hidden: ClassVar[bool] = False
    """Implements `hidden` + `head` (see the module docstring)."""
    vocab_size: int
    capabilities: Capabilities

    @property
    def max_positions(self) -> int | None:
        """Longest sequence the model accepts (None = no limit); scoring left-truncates to fit."""
        return None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "LanguageModel":
        """Build from the card's / checkpoint's config mapping; raise `ModelError` on bad fields."""
        raise NotImplementedError

    safe_globals: ClassVar[tuple[Any, ...]] = ()
    """Extra globals the weights-only unpickler may admit for this architecture's real checkpoint files."""

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """Map a checkpoint's keys (any recognised layout) onto this module's keys. Default: identity."""
        return state_dict

    @classmethod
    def state_dict_from_checkpoint(cls, obj: Any) -> dict[str, Tensor]:
        """The loaded checkpoint object → this module's state dict: find the tensor mapping (`model` /
        `model_state_dict` / `state_dict` entry or the object itself), strip `_orig_mod.`/`module.`, then
        `convert_state_dict`. Override for formats that need more."""
        from titan_eval.checkpoints import extract_state_dict

        return cls.convert_state_dict(extract_state_dict(obj))

    @classmethod
    def config_for_checkpoint(cls, config: Mapping[str, Any], state_dict: Mapping[str, Tensor]) -> Mapping[str, Any]:
        """The config to build with, given the checkpoint's converted tensors: lets an architecture take facts
        from the keys (e.g. which optional buffers exist) and check buffers against the config before loading.
        Default: `config` unchanged."""
        return config

    def config_dict(self) -> dict[str, Any]:
        """The config this model was built from (recorded in results)."""
        return dict(getattr(self, "config_source", {}))

    def prefill(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, RecurrentState]:
        """ids [B, L] → (logits [B, L, V], state after each row's lengths[b] tokens)."""
        raise ModelError(f"architecture {self.arch!r} has no recurrent state; use forward()")

    def hidden(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, RecurrentState | None]:
        """ids [B, L] → (the stream the head reads [B, L, d], state or None); only when `has_hidden`."""
        raise ModelError(f"architecture {self.arch!r} does not split its head; use forward()")

    def head(self, hidden: Tensor, out: Tensor | None = None) -> Tensor:
        """Final norm and LM head, position-wise: [..., d] → logits [..., V]; only when `has_hidden`. With `out`
        (2-D hidden [T, d], out [T, V] of the head's dtype) the logits are written there: the engine reuses one
        buffer per scoring call instead of allocating (and page-faulting) a [T, V] block per batch."""
        raise ModelError(f"architecture {self.arch!r} does not split its head; use forward()")

    def begin_decode(self, ids: Tensor, lengths: Tensor | None = None) -> tuple[Tensor, RecurrentState] | None:
        """Optional exact incremental decoding (non-recurrent models): prompts ids [B, L] → (logits at each row's
        last real position [B, V], decode cache), or None when unavailable (the default)."""
        return None

    def continue_decode(self, ids: Tensor, cache: RecurrentState) -> tuple[Tensor, RecurrentState]:
        """Append one token per row (ids [B]) to a `begin_decode` cache → (next-token logits [B, V], cache)."""
        raise ModelError(f"architecture {self.arch!r} has no incremental decoding")

    def prefix_cache(self, ids: Tensor, lengths: Tensor | None = None) -> RecurrentState:
        """Contexts ids [B, L] → cache of their exactly reusable blocks; only when `capabilities.prefix_cache`."""
        raise ModelError(f"architecture {self.arch!r} has no prefix cache")

    def hidden_extended(self, cache: RecurrentState, ids: Tensor, lengths: Tensor) -> Tensor:
        """Cached rows + each row's first lengths[b] tokens of ids [B, L'] → the stream the head reads over the
        whole rows [B, W, d]; only when `capabilities.prefix_cache`."""
        raise ModelError(f"architecture {self.arch!r} has no prefix cache")

    def step(self, ids: Tensor, state: RecurrentState) -> tuple[Tensor, RecurrentState]:
        """ids [B] → (logits [B, V], advanced state). Default: a one-token prefill."""
        logits, new_state = self.prefill(ids[:, None], None, state)
        return logits[:, 0], new_state

    def set_kernel_policy(self, policy: str) -> None:
        """'auto' | 'torch' | 'kernel' (kernels required). Architectures with optional kernels override this and
        record the active ones in `capabilities.kernels`; the default has none, so 'kernel' is refused."""
        from titan_eval.models.ops.kernels import POLICIES

        if policy not in POLICIES:
            raise UsageError(f"unknown kernel policy {policy!r}; choose one of {', '.join(POLICIES)}")
        if policy == "kernel":
            raise ModelError(f"architecture {self.arch!r} has no optional kernels to force")

    def stream_points(self) -> list[StreamPoint]:
        """Where the residual stream is read for signal-growth telemetry: "embedding", then "layer_{i}" after each
        layer. Default: the model's ActivationTaps of those names; pre-norm architectures without taps override
        this with `prenorm_points`."""
        taps = {m.name: m for m in self.modules() if isinstance(m, ActivationTap)}
        if "embedding" not in taps or "layer_0" not in taps:
            raise ModelError(f"no residual-stream read points are known for architecture {self.arch!r}")
        n = sum(1 for name in taps if name.startswith("layer_") and name[6:].isdigit())
        return [StreamPoint(name, taps[name], "output") for name in ["embedding"] + [f"layer_{j}" for j in range(n)]]

    def hooks_attached(self) -> bool:
        """True while forward hooks (telemetry recorders) are attached to the model or any submodule: fast paths
        that skip positions or blocks (head-at-scored-positions, Titan's decode cache) are then off, so recorders
        see the full forward they expect. Hooks of a recorder that declares `fast_path_safe = True` (it reads only
        what every path reports, e.g. `telemetry.route_totals.RouteTotals`) do not count."""
        hooks = [*nn.modules.module._global_forward_hooks.values(), *nn.modules.module._global_forward_pre_hooks.values()]
        for m in self.modules():
            hooks += [*m._forward_hooks.values(), *m._forward_pre_hooks.values()]
        return any(_blocks_fast_paths(hook) for hook in hooks)

    @property
    def backend(self) -> str:
        """'torch' for the pure-PyTorch reference path, else the active kernels joined by '+'."""
        kernels = self.capabilities.kernels
        return "+".join(kernels) if kernels else "torch"


def prenorm_points(embedding: nn.Module, norms: list[nn.Module], final: nn.Module) -> list[StreamPoint]:
    """Pre-norm read points: the embedding's output; after layer i = the input of layer i+1's first norm; after the
    last layer = the final norm's input (in a pre-norm network that input *is* the residual stream)."""
    points = [StreamPoint("embedding", embedding, "output")]
    after = norms[1:] + [final]
    return points + [StreamPoint(f"layer_{i}", m, "input") for i, m in enumerate(after)]


def _blocks_fast_paths(hook: object) -> bool:
    """A forward hook turns the fast paths off unless it is a method of an object with `fast_path_safe = True`."""
    return not getattr(getattr(hook, "__self__", None), "fast_path_safe", False)
