"""Mamba-1 language model (state-spaces `MambaLMHeadModel` / transformers `MambaForCausalLM`).

Architecture: token embedding → n_layer × [x = x + mixer(RMSNorm(x))] (residual kept in fp32) → RMSNorm →
head tied to the embedding. See `mamba_mixer.py` for the mixer and `ops/selective_scan.py` for the scan.

Checkpoint layouts recognised from their keys:
    original  backbone.embedding.weight, backbone.layers.N.{norm,mixer.*}, backbone.norm_f.weight[, lm_head.weight]
    -hf       backbone.embeddings.weight, ... (same otherwise; lm_head.weight tied or absent)
Config: either state-spaces `config.json` (`d_model, n_layer, vocab_size, ssm_cfg, pad_vocab_size_multiple, ...`)
or transformers `MambaConfig` (`hidden_size, num_hidden_layers, state_size, expand, conv_kernel, ...`).

Deviation from the originals, stated: none in the math; the scan is chunked (exact up to fp32 rounding).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from titan_eval.errors import ModelError
from titan_eval.models.base import (Capabilities, LanguageModel, RecurrentState, full_lengths, padding_mask,
                                    prenorm_points)
from titan_eval.models.taps import StreamPoint
from titan_eval.models.mamba_mixer import MambaMixer, MixerState
from titan_eval.models.norms import RMSNorm


@dataclass(frozen=True)
class MambaConfig:
    """Mamba-1 hyper-parameters (state-spaces names)."""

    d_model: int = 768
    n_layer: int = 24
    vocab_size: int = 50277  # padded up to a multiple of pad_vocab_size_multiple
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    dt_rank: int | None = None  # None/"auto" → ceil(d_model / 16)
    norm_eps: float = 1e-5
    conv_bias: bool = True
    bias: bool = False
    pad_vocab_size_multiple: int = 8
    tie_embeddings: bool = True
    init_seed: int = 0

    @property
    def padded_vocab(self) -> int:
        m = self.pad_vocab_size_multiple
        return self.vocab_size if m <= 1 else int(math.ceil(self.vocab_size / m) * m)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "MambaConfig":
        """Accept state-spaces or transformers config keys; unknown keys are ignored only if they are known
        training-time knobs of those configs."""
        if "hidden_size" in raw:  # transformers MambaConfig
            rank = raw.get("time_step_rank", "auto")
            return cls(
                d_model=raw["hidden_size"], n_layer=raw["num_hidden_layers"], vocab_size=raw["vocab_size"],
                d_state=raw.get("state_size", 16), d_conv=raw.get("conv_kernel", 4), expand=raw.get("expand", 2),
                dt_rank=None if rank == "auto" else int(rank), norm_eps=raw.get("layer_norm_epsilon", 1e-5),
                conv_bias=raw.get("use_conv_bias", True), bias=raw.get("use_bias", False),
                pad_vocab_size_multiple=1, tie_embeddings=raw.get("tie_word_embeddings", True),
                init_seed=raw.get("init_seed", 0),
            )
        ssm = dict(raw.get("ssm_cfg") or {})
        if ssm.get("layer", "Mamba1") not in ("Mamba1", "mamba1"):
            raise ModelError(f"mamba architecture supports Mamba-1 mixers only, config asks for {ssm['layer']!r}")
        rank = ssm.get("dt_rank", raw.get("dt_rank", "auto"))
        return cls(
            d_model=raw["d_model"], n_layer=raw["n_layer"], vocab_size=raw["vocab_size"],
            d_state=ssm.get("d_state", raw.get("d_state", 16)), d_conv=ssm.get("d_conv", raw.get("d_conv", 4)),
            expand=ssm.get("expand", raw.get("expand", 2)), dt_rank=None if rank in (None, "auto") else int(rank),
            norm_eps=raw.get("norm_epsilon", raw.get("norm_eps", 1e-5)), conv_bias=ssm.get("conv_bias", True),
            bias=ssm.get("bias", False), pad_vocab_size_multiple=raw.get("pad_vocab_size_multiple", 8),
            tie_embeddings=raw.get("tie_embeddings", True), init_seed=raw.get("init_seed", 0),
        )


@dataclass(frozen=True)
class MambaState(RecurrentState):
    """Per-layer conv windows [B, d_inner, K-1] and SSM states [B, d_inner, N]."""

    conv: tuple[Tensor, ...] = field(default=())
    ssm: tuple[Tensor, ...] = field(default=())


class MambaBlock(nn.Module):
    """Pre-norm residual block: x + mixer(RMSNorm(x))."""

    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mixer = MambaMixer(cfg.d_model, cfg.d_state, cfg.d_conv, cfg.expand, cfg.dt_rank, cfg.conv_bias, cfg.bias)

    def forward(self, x: Tensor, lengths: Tensor, mask: Tensor,
                state: MixerState | None = None) -> tuple[Tensor, MixerState]:
        """fp32 residual stream x [B, L, d] (rows real up to lengths [B], mask [B, L]) → (x + mixer(norm(x)),
        the mixer's state after each row's real tokens), continuing from `state` when given."""
        out, new = self.mixer(self.norm(x).to(self.norm.weight.dtype), lengths, mask, state)
        return x + out.float(), new


class MambaBackbone(nn.Module):
    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.embedding = nn.Embedding(cfg.padded_vocab, cfg.d_model)
        self.layers = nn.ModuleList(MambaBlock(cfg) for _ in range(cfg.n_layer))
        self.norm_f = RMSNorm(cfg.d_model, cfg.norm_eps)


class MambaLM(LanguageModel):
    """Mamba-1 LM. forward/prefill: ids [B, L] (right-padded), lengths [B] → logits [B, L, V] (V = padded vocab)."""

    arch = "mamba"
    has_hidden = True

    def __init__(self, cfg: MambaConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config_source = asdict(cfg)
        self.vocab_size = cfg.padded_vocab
        self.backbone = MambaBackbone(cfg)
        if not cfg.tie_embeddings:
            self.lm_head = nn.Linear(cfg.d_model, cfg.padded_vocab, bias=False)
        self.capabilities = Capabilities(recurrent_state=True)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "MambaLM":
        cfg = MambaConfig.from_mapping(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.init_seed)
            model = cls(cfg)
            nn.init.normal_(model.backbone.embedding.weight, std=0.02)
        return model.eval()

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """-hf `backbone.embeddings` → `backbone.embedding`; a tied `lm_head.weight` is dropped (it must equal
        the embedding; an untied head is kept)."""
        out = {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in state_dict.items()}
        head, emb = out.get("lm_head.weight"), out.get("backbone.embedding.weight")
        if head is not None and emb is not None and head.shape == emb.shape and torch.equal(head, emb):
            del out["lm_head.weight"]
        return out

    def set_kernel_policy(self, policy: str) -> None:
        """'auto' | 'torch' | 'kernel' for every mixer; recorded in `capabilities.kernels` when active."""
        for layer in self.backbone.layers:
            layer.mixer.kernel_policy = policy
        on_cuda = next(self.parameters()).is_cuda
        from titan_eval.models.ops.kernels import active_scan_kernels

        self.capabilities = self.capabilities.with_kernels(active_scan_kernels(policy, on_cuda))

    def head(self, hidden: Tensor, out: Tensor | None = None) -> Tensor:
        """Final norm and (tied) head, position-wise: [..., d_model] → logits [..., V] (into `out` when given)."""
        h = self.backbone.norm_f(hidden)
        weight = self.lm_head.weight if not self.cfg.tie_embeddings else self.backbone.embedding.weight
        return torch.matmul(h, weight.t(), out=out)

    def stream_points(self) -> list[StreamPoint]:
        """embedding output; after layer i = input of layers[i+1].norm; after the last = input of norm_f."""
        bb = self.backbone
        return prenorm_points(bb.embedding, [layer.norm for layer in bb.layers], bb.norm_f)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.prefill(ids, lengths)[0]

    def prefill(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, MambaState]:
        hidden, new_state = self.hidden(ids, lengths, state)
        return self.head(hidden), new_state

    def hidden(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, MambaState]:
        """ids [B, L] → (the stream entering norm_f [B, L, d_model] in the norm's dtype, state after lengths)."""
        if state is not None and not isinstance(state, MambaState):
            raise ModelError(f"mamba cannot continue from a {type(state).__name__}")
        lengths = full_lengths(ids, lengths)
        mask = padding_mask(lengths, ids.shape[1])
        x = self.backbone.embedding(ids).float()  # residual stream in fp32 (residual_in_fp32)
        convs, ssms = [], []
        for i, layer in enumerate(self.backbone.layers):
            x, new = layer(x, lengths, mask, None if state is None else MixerState(state.conv[i], state.ssm[i]))
            convs.append(new.conv)
            ssms.append(new.ssm)
        return x.to(self.backbone.norm_f.weight.dtype), MambaState(conv=tuple(convs), ssm=tuple(ssms))
