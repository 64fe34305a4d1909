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
Memory: the caller materialises the seeded Titan once (fp32) to provide the new parts.
"""

from __future__ import annotations

from typing import Mapping

from torch import Tensor

from titan_eval.checkpoints import compare_keys
from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.titan_config import TitanConfig, normalise_mamba_keys

MIXER_KEYS = ("A_log", "D", "in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight",
              "dt_proj.bias", "out_proj.weight")




def is_mamba1_state_dict(state_dict: Mapping[str, Tensor]) -> bool:
    """True when the keys are state-spaces / HF Mamba-1's (`backbone.layers.N.mixer.*`)."""
    return any(k.startswith("backbone.layers.") and ".mixer." in k for k in state_dict)




def titan_state_dict_from_mamba(
    mamba_state_dict: Mapping[str, Tensor], cfg: TitanConfig, seeded: Mapping[str, Tensor],
    arms_from_layers: bool = False,
) -> dict[str, Tensor]:
    """Mamba-1 state dict (state-spaces or -hf keys) → a complete Titan state dict for `cfg` (module docstring).
    `seeded` is the state dict of `TitanLM.from_config(cfg)`, which provides every part Mamba-1 lacks.
    `CheckpointError` names missing, unexpected and mis-shaped Mamba-1 keys."""
    sd = normalise_mamba_keys(mamba_state_dict)
    emb = sd.pop("backbone.embedding.weight", None)
    head = sd.pop("lm_head.weight", None)
    if emb is None or emb.ndim != 2 or emb.shape[1] != cfg.d_model or emb.shape[0] > cfg.vocab_size:
        shape = None if emb is None else list(emb.shape)
        raise CheckpointError(f"Mamba-1 embedding {shape} does not fit a Titan with d_model {cfg.d_model}, "
                              f"vocab {cfg.vocab_size}")
    titan = {k: v.detach().clone() for k, v in seeded.items()}
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
