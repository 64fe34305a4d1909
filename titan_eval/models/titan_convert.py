"""Building a Mamba-Titan state dict from a state-spaces / Hugging Face Mamba-1 checkpoint (spec §1, "Mapping").

Mapping (Titan key ← Mamba-1 key; the -hf `backbone.embeddings.` spelling is accepted too):
    embedding.weight[:V_m]     ← backbone.embedding.weight [V_m, d]   (rows ≥ V_m keep the seeded init)
    layers.{i}.ssm.<X>         ← backbone.layers.{i}.mixer.<X>         (the nine mixer tensors, same names/shapes)
    layers.{i}.norm.weight     ← backbone.layers.{i}.norm.weight       (RMSNorm weight into a LayerNorm; bias 0)
    norm_f.weight              ← backbone.norm_f.weight                (same swap; norm_f.bias 0)
    lm_head.weight[:V_m]       ← lm_head.weight, or a copy of the embedding when the head is tied/absent
Everything else (thalamic_primer, cp, bridge, mimo_reasoning_blocks, domain_router, bb_*, the four scalars) is the
seeded init of `TitanLM.from_config(cfg)` (`cfg.init_seed`). With `arms_from_layers=True`, arm k instead copies
backbone layer n − E + k (the author seeded arms from mamba-1.4b layers 40–47, plus noise that is not public).

The result is *not* numerically mamba-1.4b: LayerNorm subtracts the mean where RMSNorm does not (spec §1).
Memory: the seeded Titan is materialised once (fp32) to provide the new parts.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any, Mapping

from torch import Tensor

from titan_eval.checkpoints import compare_keys
from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.titan import D_CONV, D_STATE, EXPAND, TitanConfig

VOCAB_MULTIPLE = 64  # Titan rows: 50280 (mamba-1.4b) → 50304
MIXER_KEYS = ("A_log", "D", "in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
              "dt_proj.bias", "out_proj.weight")


def _titan_vocab(rows: int) -> int:
    return int(math.ceil(rows / VOCAB_MULTIPLE) * VOCAB_MULTIPLE)


def is_mamba1_state_dict(state_dict: Mapping[str, Tensor]) -> bool:
    """True when the keys are state-spaces / HF Mamba-1's (`backbone.layers.N.mixer.*`)."""
    return any(k.startswith("backbone.layers.") and ".mixer." in k for k in state_dict)


def _normalise(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in state_dict.items()}


def config_from_mamba_state_dict(state_dict: Mapping[str, Tensor], mimo_paths: int = 8, init_seed: int = 0) -> TitanConfig:
    """The Titan config a Mamba-1 state dict implies: d and n from its tensors, vocab = embedding rows rounded up
    to a multiple of 64."""
    sd = _normalise(state_dict)
    if "backbone.embedding.weight" not in sd:
        raise CheckpointError("Mamba-1 checkpoint has no backbone.embedding(s).weight")
    rows, d_model = sd["backbone.embedding.weight"].shape
    n_layers = len({k.split(".")[2] for k in sd if k.startswith("backbone.layers.")})
    return TitanConfig(vocab_size=_titan_vocab(rows), d_model=d_model, n_layers=n_layers,
                       mimo_paths=mimo_paths, init_seed=init_seed)


def config_from_mamba(raw: Mapping[str, Any], mimo_paths: int = 8) -> TitanConfig:
    """A transformers `MambaConfig` or state-spaces `config.json` mapping → the Titan config on that backbone.
    `ModelError` when the mixer sizes differ from Titan's fixed d_state 16, d_conv 4, expand 2, dt_rank ceil(d/16)."""
    from titan_eval.models.mamba import MambaConfig

    mamba = MambaConfig.from_mapping(raw)
    fixed = (mamba.d_state, mamba.d_conv, mamba.expand)
    if fixed != (D_STATE, D_CONV, EXPAND) or (mamba.dt_rank not in (None, math.ceil(mamba.d_model / 16))):
        raise ModelError(f"Mamba-1 config has d_state/d_conv/expand {fixed}, dt_rank {mamba.dt_rank}; "
                         f"Titan blocks need {(D_STATE, D_CONV, EXPAND)} and ceil(d/16)")
    return TitanConfig(vocab_size=_titan_vocab(mamba.padded_vocab), d_model=mamba.d_model, n_layers=mamba.n_layer,
                       mimo_paths=mimo_paths, init_seed=int(raw.get("init_seed", 0)))


def titan_state_dict_from_mamba(
    mamba_state_dict: Mapping[str, Tensor], cfg: TitanConfig, arms_from_layers: bool = False
) -> dict[str, Tensor]:
    """Mamba-1 state dict (state-spaces or -hf keys) → a complete Titan state dict for `cfg` (module docstring).
    `CheckpointError` names missing, unexpected and mis-shaped Mamba-1 keys."""
    from titan_eval.models.titan import TitanLM

    sd = _normalise(mamba_state_dict)
    emb = sd.pop("backbone.embedding.weight", None)
    head = sd.pop("lm_head.weight", None)
    if emb is None or emb.ndim != 2 or emb.shape[1] != cfg.d_model or emb.shape[0] > cfg.vocab_size:
        shape = None if emb is None else list(emb.shape)
        raise CheckpointError(f"Mamba-1 embedding {shape} does not fit a Titan with d_model {cfg.d_model}, "
                              f"vocab {cfg.vocab_size}")
    titan = {k: v.detach().clone() for k, v in TitanLM.from_config(asdict(cfg)).state_dict().items()}
    pairs = {"norm_f.weight": "backbone.norm_f.weight"}
    for i in range(cfg.n_layers):
        pairs[f"layers.{i}.norm.weight"] = f"backbone.layers.{i}.norm.weight"
        pairs.update({f"layers.{i}.ssm.{x}": f"backbone.layers.{i}.mixer.{x}" for x in MIXER_KEYS})
    report = compare_keys({src: titan[dst] for dst, src in pairs.items()}, sd)
    if not report.ok:
        raise CheckpointError(f"Mamba-1 checkpoint does not fit the Titan backbone {cfg}: {report.summary()}")
    for dst, src in pairs.items():
        titan[dst] = sd[src].to(titan[dst].dtype)
    rows = emb.shape[0]
    titan["embedding.weight"][:rows] = emb.to(titan["embedding.weight"].dtype)
    source_head = emb if head is None else head
    if tuple(source_head.shape) != tuple(emb.shape):
        raise CheckpointError(
            f"Mamba-1 lm_head.weight {list(source_head.shape)} differs from its embedding {list(emb.shape)}"
        )
    titan["lm_head.weight"][:rows] = source_head.to(titan["lm_head.weight"].dtype)
    if arms_from_layers:
        if cfg.mimo_paths > cfg.n_layers:
            raise ModelError(f"arms_from_layers needs n_layers >= mimo_paths, got {cfg.n_layers} < {cfg.mimo_paths}")
        for k in range(cfg.mimo_paths):
            layer = cfg.n_layers - cfg.mimo_paths + k
            for suffix in ("norm.weight", *(f"ssm.{x}" for x in MIXER_KEYS)):
                titan[f"mimo_reasoning_blocks.{k}.{suffix}"] = titan[f"layers.{layer}.{suffix}"].clone()
    return titan
