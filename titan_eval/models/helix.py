"""Helix v2 (AuraIis/Helix, "Auralis"): a hybrid of Mamba, gated linear attention and sliding-window attention.

Architecture (spec §1.1, vectors README "Forward pass"): x = E[ids] (no scaling) → n_layers × pre-norm block
[x = x + mixer(RMSNorm1(x)); x = x + SwiGLU(RMSNorm2(x))] → RMSNorm_out → logits = h Eᵀ (tied; or `lm_head`).
The mixer of block i is `blocks.i.attn`, one of
    mamba             `helix_mamba.py` (native `_impl.*` or kernel `_impl.inner.*` layout, from the keys)
    gla               `helix_gla.py` (decay axis `gla_decay`: key | value)
    sparse_attention  `helix_attention.py` (causal window + global prefix, RoPE, optional q/k norm)
Config: the original model YAML, see `helix_config.py`. Glossary: B batch, L length, V vocab, d = d_model.

Beyond the original (which always recomputes from position 0 and has no padding support): exact right-padded
batches and exact recurrent inference, `prefill`/`step` carrying every mixer's state (`HelixState`).
Deviations, stated: none in the math; Mamba and GLA scans are chunked (exact up to fp32 rounding); the fla GLA and
flash-attn kernels are not used (the mamba-ssm selective scan is, on CUDA, for fresh prefills).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError
from titan_eval.models.base import (Capabilities, LanguageModel, RecurrentState, full_lengths, padding_mask,
                                    prenorm_points)
from titan_eval.models.taps import StreamPoint
from titan_eval.models.ffn import SwiGLU
from titan_eval.models.helix_attention import HelixAttention, KVCache
from titan_eval.models.helix_checkpoint import TRAINING_GLOBALS, resolve_mamba_layout
from titan_eval.models.helix_config import HelixConfig, HelixLayerConfig
from titan_eval.models.helix_gla import DECAY_BIAS, HelixGLA
from titan_eval.models.helix_mamba import HelixMamba
from titan_eval.models.mamba_mixer import MixerState
from titan_eval.models.norms import RMSNorm


@dataclass(frozen=True)
class HelixState(RecurrentState):
    """Everything a row carries between calls, batch-first; tuples run over the layers of one kind, in order.

    length         [B] tokens consumed (the next token's absolute position)
    conv, ssm      per Mamba layer: conv window [B, C, K−1] (C = d_inner native, d_inner + 2N kernel) and
                   SSM state [B, d_inner, N] fp32
    gla            per GLA layer: S [B, H, D, D] fp32
    keys, values   per attention layer: [B, H, S, D]; key_positions [B, S] (absolute, −1 = empty slot)
    """

    length: Tensor
    conv: tuple[Tensor, ...] = ()
    ssm: tuple[Tensor, ...] = ()
    gla: tuple[Tensor, ...] = ()
    keys: tuple[Tensor, ...] = ()
    values: tuple[Tensor, ...] = ()
    key_positions: tuple[Tensor, ...] = ()


class HelixBlock(nn.Module):
    """Pre-norm residual block: x + attn(norm1(x)), then x + ffn(norm2(x))."""

    def __init__(self, cfg: HelixConfig, layer: HelixLayerConfig) -> None:
        super().__init__()
        self.kind = layer.type
        self.norm1 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.norm2 = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn: nn.Module
        if layer.type == "mamba":
            self.attn = HelixMamba(cfg.d_model, layer, cfg.layout)
        elif layer.type == "gla":
            self.attn = HelixGLA(cfg.d_model, cfg.n_heads, cfg.d_head, cfg.gla_decay)
        else:
            self.attn = HelixAttention(cfg.d_model, cfg.n_heads, cfg.d_head, layer.window_size, layer.global_tokens,
                                       layer.use_rope, layer.qk_norm, cfg.rope_theta)
        self.ffn = SwiGLU(cfg.d_model, cfg.d_ffn)

    def forward(self, x: Tensor, lengths: Tensor, mask: Tensor, start: Tensor,
                state: Any = None) -> tuple[Tensor, Any]:
        """x [B, L, d] (rows real up to lengths [B], mask [B, L], first position start [B]) → (x after the mixer
        and the SwiGLU, each pre-norm residual; the mixer's new state: MixerState (mamba), the GLA state (gla) or
        the windowed KVCache (sparse_attention)), continuing from the mixer's `state` when given."""
        h = self.norm1(x)
        if self.kind == "mamba":
            out, new = self.attn(h, lengths, mask, state)
        elif self.kind == "gla":
            out, new = self.attn(h, mask, state)
        else:
            out, new = self.attn(h, start, lengths, state)
        x = x + out
        return x + self.ffn(self.norm2(x)), new


class HelixLM(LanguageModel):
    """Helix v2 LM. forward/prefill: ids [B, L] (right-padded), lengths [B] → logits [B, L, vocab_size]."""

    arch = "helix"
    has_hidden = True
    safe_globals: ClassVar[tuple[Any, ...]] = TRAINING_GLOBALS

    def __init__(self, cfg: HelixConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config_source = cfg.to_mapping()
        self.vocab_size = cfg.vocab_size
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.blocks = nn.ModuleList(HelixBlock(cfg, layer) for layer in cfg.layers)
        self.norm_out = RMSNorm(cfg.d_model, cfg.norm_eps)
        if not cfg.tie_embeddings:
            self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.capabilities = Capabilities(recurrent_state=True)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "HelixLM":
        """Build from the original model-config layout (`helix_config.py`); seeded init when no checkpoint follows:
        N(0, 0.02) for Linear/Embedding weights, output projections × 0.5 (as the original's init), GLA decay
        bias log 9 (α ≈ 0.9), Mamba Δ/A as their mixers initialise them."""
        cfg = HelixConfig.from_mapping(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.init_seed)
            model = cls(cfg)
            model._init_weights()
        return model.eval()

    def _init_weights(self) -> None:
        with torch.no_grad():
            for name, module in self.named_modules():
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    std = 0.01 if name.endswith(("out_proj", "down_proj", "lm_head")) else 0.02
                    nn.init.normal_(module.weight, std=std)
                if isinstance(module, HelixGLA):
                    nn.init.constant_(module.alpha_proj.bias, DECAY_BIAS)

    @classmethod
    def config_for_checkpoint(cls, config: Mapping[str, Any], state_dict: Mapping[str, Tensor]) -> Mapping[str, Any]:
        """Set `mamba_layout` from the checkpoint's keys (refusing a config that names the other layout)."""
        return resolve_mamba_layout(config, state_dict)

    def set_kernel_policy(self, policy: str) -> None:
        """'auto' | 'torch' | 'kernel' for every Mamba mixer; recorded in `capabilities.kernels` when active."""
        from titan_eval.models.ops.kernels import active_scan_kernels

        mixers = [b.attn.mixer for b in self.blocks if isinstance(b.attn, HelixMamba)]
        for mixer in mixers:
            mixer.kernel_policy = policy
        on_cuda = next(self.parameters()).is_cuda
        self.capabilities = self.capabilities.with_kernels(active_scan_kernels(policy, on_cuda) if mixers else ())

    def head(self, hidden: Tensor, out: Tensor | None = None) -> Tensor:
        """Final norm and head, position-wise: [..., d] → logits [..., V] (into `out` when given)."""
        weight = self.embedding.weight if self.cfg.tie_embeddings else self.lm_head.weight
        return torch.matmul(self.norm_out(hidden), weight.t(), out=out)

    def stream_points(self) -> list[StreamPoint]:
        """embedding output; after block i = input of blocks[i+1].norm1; after the last = input of norm_out."""
        return prenorm_points(self.embedding, [b.norm1 for b in self.blocks], self.norm_out)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.prefill(ids, lengths)[0]

    def prefill(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, HelixState]:
        """ids [B, L] (row b real up to lengths[b]), continuing from `state` → (logits [B, L, V], state after
        each row's lengths[b] tokens)."""
        hidden, new_state = self.hidden(ids, lengths, state)
        return self.head(hidden), new_state

    def hidden(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, HelixState]:
        """As `prefill`, but returns the stream entering norm_out [B, L, d] instead of logits."""
        if state is not None and not isinstance(state, HelixState):
            raise ModelError(f"helix cannot continue from a {type(state).__name__}")
        lengths = full_lengths(ids, lengths)
        mask = padding_mask(lengths, ids.shape[1])
        start = torch.zeros_like(lengths) if state is None else state.length.to(lengths.device)
        new: dict[str, list[Tensor]] = {k: [] for k in ("conv", "ssm", "gla", "keys", "values", "key_positions")}
        seen = {"mamba": 0, "gla": 0, "sparse_attention": 0}
        x = self.embedding(ids)
        for block in self.blocks:
            n = seen[block.kind]
            seen[block.kind] += 1
            if block.kind == "mamba":
                x, mixed = block(x, lengths, mask, start, None if state is None else MixerState(state.conv[n], state.ssm[n]))
                new["conv"].append(mixed.conv)
                new["ssm"].append(mixed.ssm)
            elif block.kind == "gla":
                x, gla = block(x, lengths, mask, start, None if state is None else state.gla[n])
                new["gla"].append(gla)
            else:
                prev = None if state is None else KVCache(state.keys[n], state.values[n], state.key_positions[n])
                x, cache = block(x, lengths, mask, start, prev)
                new["keys"].append(cache.keys)
                new["values"].append(cache.values)
                new["key_positions"].append(cache.positions)
        fields = {k: tuple(v) for k, v in new.items()}
        return x, HelixState(length=start + lengths, **fields)
