"""H64LM (Haiderkhan64/H64LM, `H64LMForCausalLM`): a 249.7M-parameter mixture-of-experts transformer.

Architecture (spec ../shared/specs/h64lm.md §1, §4): token embedding (no scaling) → N_layers × pre-norm blocks
[x = x + Attn(RMSNorm_in(x)); x = x + FFN(RMSNorm_post(x))] → RMSNorm → untied `lm_head`. FFN = dense SwiGLU on
even layers, top-2 MoE of softmax(z / T) with unrenormalised weights on odd layers (`h64lm_moe.py`). Attention =
GQA with rotate-half RoPE, the inclusive sliding window and, when the checkpoint carries `alibi_slopes`, the
original's ALiBi bias with its sign (`h64lm_attention.py`). Checkpoint rules: `h64lm_checkpoint.py`; config
fields: `h64lm_config.py`; KV cache: `h64lm_cache.py`.

Glossary: B rows, L positions, V = vocab_size logit rows, D = hidden_size, W = sliding_window_size.

**Always causal.** The original is *bidirectional* when called without an attention_mask and the sequence fits
the window (always, for the real config: W = 2048 > 1024 trained positions); training and validation always
passed a mask, so titan-eval evaluates those causal semantics: query i sees key j iff 0 ≤ i − j ≤ W and j is a
real token. The mask-less behaviour is not reproduced.

Deviations from the original, stated: −inf masking with an fp32 softmax and fp32 router softmax (identical in
fp32); an exact KV cache with absolute positions instead of the original's broken one (spec §5); positions
≥ max_position_embeddings are refused unless `allow_beyond_max_positions` (the original runs past silently).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from titan_eval.checkpoints import extract_state_dict
from titan_eval.errors import ModelError
from titan_eval.models.base import Capabilities, LanguageModel, RecurrentState, full_lengths, prenorm_points
from titan_eval.models.taps import StreamPoint
from titan_eval.models.ffn import SwiGLU
from titan_eval.models.h64lm_attention import GQAAttention, KeyLayout
from titan_eval.models.h64lm_cache import H64LMState, key_layout, trimmed_state
from titan_eval.models.h64lm_checkpoint import check_data_parallel_prefix, check_layout, resolve_config, tensor_mapping
from titan_eval.models.h64lm_config import H64LMConfig
from titan_eval.models.h64lm_moe import H64LMMoE
from titan_eval.models.norms import RMSNorm

__all__ = ["H64LM", "H64LMConfig", "H64LMState"]


class H64LMLayer(nn.Module):
    """One pre-norm block (original key names: `self_attn`, `mlp`, `input_layernorm`, `post_attention_layernorm`)."""

    def __init__(self, cfg: H64LMConfig, index: int) -> None:
        super().__init__()
        self.self_attn = GQAAttention(cfg.hidden_size, cfg.num_attention_heads, cfg.kv_heads, cfg.rope_theta, cfg.alibi)
        self.mlp: nn.Module
        if cfg.is_moe_layer(index):
            self.mlp = H64LMMoE(cfg.hidden_size, cfg.expert_hidden_size, cfg.num_experts, cfg.num_experts_per_token,
                                cfg.moe_temperature, layer_name=f"layers.{index}")
        else:
            self.mlp = SwiGLU(cfg.hidden_size, cfg.expert_hidden_size)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.layer_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.layer_norm_eps)

    def forward(
        self, x: Tensor, layout: KeyLayout, past_k: Tensor | None, past_v: Tensor | None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """x [B, L, D], lengths [B] (real new positions per row) → (x [B, L, D], this layer's keys and values
        [B, KV, K, hd] including the cache)."""
        attn, k, v = self.self_attn(self.input_layernorm(x), layout, past_k, past_v)
        x = x + attn
        h = self.post_attention_layernorm(x)
        x = x + (self.mlp(h, lengths) if isinstance(self.mlp, H64LMMoE) else self.mlp(h))
        return x, k, v


class H64LMModel(nn.Module):
    """The original `H64LMModel`: `embed_tokens`, `layers`, final `norm`."""

    def __init__(self, cfg: H64LMConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(H64LMLayer(cfg, i) for i in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.layer_norm_eps)


class H64LM(LanguageModel):
    """H64LM for causal scoring and decoding. forward/prefill: ids [B, L] (right-padded), lengths [B] → logits
    [B, L, V]; prefill/step carry an exact, window-trimmed KV cache (`H64LMState`)."""

    arch = "h64lm"
    has_hidden = True

    @property
    def max_positions(self) -> int | None:
        """max_position_embeddings, unless the config allows running beyond it."""
        return None if self.cfg.allow_beyond_max_positions else self.cfg.max_position_embeddings

    def __init__(self, cfg: H64LMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.config_source = asdict(cfg)
        self.vocab_size = cfg.vocab_size
        self.model = H64LMModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.capabilities = Capabilities(recurrent_state=True, routing=True)

    # -- building and loading ------------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "H64LM":
        """Build from original `H64LMConfig` fields. Random init (seeded by `init_seed`; titan-eval's, at a scale
        where mistakes show, not the original's): embedding N(0, 1), Linear weights N(0, 1/fan_in), routers
        N(0, 9/fan_in) for clear routing margins, RMSNorm weights 1."""
        cfg = H64LMConfig.from_mapping(config)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.init_seed)
            model = cls(cfg)
            with torch.no_grad():
                nn.init.normal_(model.model.embed_tokens.weight, std=1.0)
                for name, module in model.named_modules():
                    if isinstance(module, nn.Linear) and not (cfg.tie_word_embeddings and name == "lm_head"):
                        gain = 3.0 if name.endswith("mlp.gate") else 1.0
                        nn.init.normal_(module.weight, std=gain / module.in_features ** 0.5)
        return model.eval()

    @classmethod
    def state_dict_from_checkpoint(cls, obj: Any) -> dict[str, Tensor]:
        """Bare state_dict or `{"model_state_dict": ...}`; `module.` stripped only if every key has it."""
        check_data_parallel_prefix([str(k) for k in tensor_mapping(obj)])
        return cls.convert_state_dict(extract_state_dict(obj))

    @classmethod
    def convert_state_dict(cls, state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
        """Keys are already the module's; validate the layer pattern (ALiBi all-or-none, MoE on odd layers,
        no fastermoe layout)."""
        check_layout(state_dict)
        return state_dict

    @classmethod
    def config_for_checkpoint(cls, config: Mapping[str, Any], state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
        """attention_type from the keys (`alibi_slopes` present ⇔ ALiBi), buffers checked against θ and H."""
        return asdict(resolve_config(config, state_dict))

    # -- running -----------------------------------------------------------------------------------------
    def stream_points(self) -> list[StreamPoint]:
        """embed_tokens output; after layer i = input of layers[i+1].input_layernorm; after the last = norm input."""
        inner = self.model
        return prenorm_points(inner.embed_tokens, [layer.input_layernorm for layer in inner.layers], inner.norm)

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        """ids [B, L] → logits [B, L, V]; real positions exact for right-padded rows."""
        return self.head(self._run(ids, full_lengths(ids, lengths), None)[0])

    def head(self, hidden: Tensor, out: Tensor | None = None) -> Tensor:
        """Final norm and head, position-wise: [..., hidden_size] → logits [..., V] (into `out` when given)."""
        return torch.matmul(self.model.norm(hidden), self.lm_head.weight.t(), out=out)

    def hidden(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, H64LMState]:
        """As `prefill`, but returns the stream entering the final norm [B, L, hidden_size] instead of logits."""
        if state is not None and not isinstance(state, H64LMState):
            raise ModelError(f"h64lm cannot continue from a {type(state).__name__}")
        lengths = full_lengths(ids, lengths)
        hidden, layout, keys, values, ends = self._run(ids, lengths, state)
        return hidden, trimmed_state(layout.key_pos, keys, values, ends, self.cfg.sliding_window_size)

    def prefill(
        self, ids: Tensor, lengths: Tensor | None = None, state: RecurrentState | None = None
    ) -> tuple[Tensor, H64LMState]:
        """ids [B, L] → (logits [B, L, V], cache after each row's lengths[b] tokens), continuing `state`."""
        hidden, new_state = self.hidden(ids, lengths, state)
        return self.head(hidden), new_state

    def _run(
        self, ids: Tensor, lengths: Tensor, state: H64LMState | None
    ) -> tuple[Tensor, KeyLayout, list[Tensor], list[Tensor], Tensor]:
        """ids [B, L], lengths [B] → (the stream entering the final norm [B, L, d], the call's key layout,
        per-layer keys/values [B, KV, K, hd] including the cache, tokens consumed per row afterwards [B])."""
        seen = torch.zeros_like(lengths) if state is None or state.seen is None else state.seen.to(lengths.device)
        self._check_positions(seen + lengths)
        layout = key_layout(state, lengths, ids.shape[1], self.cfg.sliding_window_size)
        x = self.model.embed_tokens(ids)
        keys, values = [], []
        for i, layer in enumerate(self.model.layers):
            past_k = None if state is None else state.keys[i]
            past_v = None if state is None else state.values[i]
            x, k, v = layer(x, layout, past_k, past_v, lengths)
            keys.append(k)
            values.append(v)
        return x, layout, keys, values, seen + lengths

    def _check_positions(self, ends: Tensor) -> None:
        """ends [B]: one past each row's last real position; refuse ≥ max_position_embeddings unless allowed."""
        limit = self.cfg.max_position_embeddings
        if not self.cfg.allow_beyond_max_positions and ends.numel() and int(ends.max()) > limit:
            raise ModelError(f"h64lm: a row reaches position {int(ends.max()) - 1}, beyond max_position_embeddings "
                             f"{limit} (the trained length); shorten the input or set "
                             f"allow_beyond_max_positions: true in the card's config")
