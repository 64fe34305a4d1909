"""Reading H64LM checkpoints (spec §3, §9.1): what the keys decide and what they must satisfy.

Layouts accepted: a bare state_dict (the released `best_model_state_dict.pt`) or the training script's
`{"epoch", "step", "model_state_dict", ...}`; other entries are ignored. A DataParallel `module.` prefix is
stripped only when **every** key carries it. Keys are the original's (`model.layers.{i}.self_attn.q_proj.weight`,
…, `lm_head.weight`), so no renaming is needed; the persistent buffers `self_attn.rotary_emb.inv_freq` and
(ALiBi only) `self_attn.alibi_slopes` are loaded after being checked against θ and H.

Decided from the keys, never from a README:
- ALiBi is on iff `alibi_slopes` buffers are present (all layers or none); a config whose `attention_type`
  disagrees is overridden and the decision recorded in `decided_from_checkpoint` (an "mqa" config with ALiBi
  keys is an error: the original cannot produce that).
- Dense vs MoE per layer from `mlp.gate.weight`: it must follow the even/odd pattern.
- `fastermoe` layouts (`mlp.moe_layer…`) are rejected with a clear message.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch
from torch import Tensor

from titan_eval.checkpoints import STATE_DICT_ENTRIES
from titan_eval.errors import CheckpointError
from titan_eval.models.h64lm_attention import alibi_slopes
from titan_eval.models.h64lm_config import H64LMConfig
from titan_eval.models.rope import rope_inv_freq

DATA_PARALLEL_PREFIX = "module."
BUFFER_TOLERANCE = 1e-6
"""Max |Δ| allowed between a checkpoint's inv_freq / alibi_slopes and the values θ and H give."""

_LAYER = re.compile(r"^model\.layers\.(\d+)\.")


def tensor_mapping(obj: Any) -> Mapping[str, Any]:
    """The raw key → tensor mapping inside a loaded checkpoint object (before any prefix handling)."""
    if isinstance(obj, Mapping):
        for entry in STATE_DICT_ENTRIES:
            if isinstance(obj.get(entry), Mapping):
                return obj[entry]
        return obj
    raise CheckpointError(f"h64lm checkpoint: expected a state dict or a dict with 'model_state_dict', got "
                          f"{type(obj).__name__}")


def check_data_parallel_prefix(keys: list[str]) -> None:
    """`module.` must prefix all keys or none; `CheckpointError` for a mixture (two models merged?)."""
    prefixed = [k for k in keys if k.startswith(DATA_PARALLEL_PREFIX)]
    if prefixed and len(prefixed) != len(keys):
        plain = [k for k in keys if not k.startswith(DATA_PARALLEL_PREFIX)]
        raise CheckpointError(f"h64lm checkpoint: {len(prefixed)} keys carry 'module.' and {len(plain)} do not "
                              f"(e.g. {plain[0]}); refusing to guess which belong to the model")


def check_layout(state_dict: Mapping[str, Tensor]) -> bool:
    """Validate the layer pattern; return whether ALiBi buffers are present (in every layer)."""
    fastermoe = sorted(k for k in state_dict if ".mlp.moe_layer" in k)
    if fastermoe:
        raise CheckpointError(f"h64lm checkpoint uses the fastermoe MoE layout ({fastermoe[0]}, …), whose keys and "
                              "maths differ from the standard CustomMoELayer; it is not supported")
    layers = sorted({int(m.group(1)) for k in state_dict if (m := _LAYER.match(k))})
    with_alibi = [i for i in layers if f"model.layers.{i}.self_attn.alibi_slopes" in state_dict]
    if with_alibi and len(with_alibi) != len(layers):
        raise CheckpointError(f"h64lm checkpoint: alibi_slopes in layers {with_alibi} but not in all of {layers}")
    moe = [i for i in layers if f"model.layers.{i}.mlp.gate.weight" in state_dict]
    expected = [i for i in layers if i % 2 == 1]
    if moe != expected:
        raise CheckpointError(f"h64lm checkpoint: MoE routers (mlp.gate.weight) in layers {moe}; the architecture "
                              f"has them exactly on the odd layers {expected}")
    return bool(with_alibi)


def max_buffer_deviation(state_dict: Mapping[str, Tensor], suffix: str, expected: Tensor) -> tuple[float, str]:
    """Largest |checkpoint − expected| over every key ending in `suffix` (shape mismatches are left to the
    strict loader's report) and the key where it occurs."""
    worst, where = 0.0, ""
    for key, value in state_dict.items():
        if key.endswith(suffix) and tuple(value.shape) == tuple(expected.shape):
            dev = float((value.double() - expected.double()).abs().max()) if value.numel() else 0.0
            if dev > worst or not where:
                worst, where = dev, key
    return worst, where


def resolve_config(config: Mapping[str, Any], state_dict: Mapping[str, Tensor]) -> H64LMConfig:
    """The config to build with: the given one, with `attention_type` decided by the keys, and the buffers
    checked against θ (inv_freq) and H (alibi_slopes). `CheckpointError` on a wrong buffer."""
    cfg = H64LMConfig.from_mapping(config)
    has_alibi = check_layout(state_dict)
    if has_alibi and not cfg.alibi:
        if cfg.attention_type == "mqa":
            raise CheckpointError("h64lm checkpoint carries alibi_slopes but the config says attention_type 'mqa'; "
                                  "the original cannot combine them")
        cfg = cfg.with_attention_type("alibi", f"attention_type 'alibi' from the checkpoint's alibi_slopes buffers "
                                               f"(config said {cfg.attention_type!r})")
    elif cfg.alibi and not has_alibi:
        cfg = cfg.with_attention_type("rope", "attention_type 'rope': the checkpoint has no alibi_slopes buffers "
                                              "(config said 'alibi')")
    checks = [("self_attn.rotary_emb.inv_freq", rope_inv_freq(cfg.head_dim, cfg.rope_theta), f"θ={cfg.rope_theta}")]
    if cfg.alibi:
        checks.append(("self_attn.alibi_slopes", alibi_slopes(cfg.num_attention_heads),
                       f"2^(-8(h+1)/H), H={cfg.num_attention_heads}"))
    for suffix, expected, source in checks:
        worst, where = max_buffer_deviation(state_dict, suffix, expected.to(torch.float64))
        if worst > BUFFER_TOLERANCE:
            raise CheckpointError(f"h64lm checkpoint: {where} deviates from {source} by {worst:.3g} "
                                  f"(> {BUFFER_TOLERANCE:g}); wrong config or a modified buffer")
    return cfg
