"""Mamba-Titan's configuration: the original constructor's four arguments and every size derived from them
(spec ../shared/specs/titan.md §1), plus the Titan config a Mamba-1 backbone implies (for conversion).

Kept apart from `titan.py` so that the conversion code (`titan_convert.py`) and the model both depend on it and
not on each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from torch import Tensor

from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.titan_arms import BLACKBOARD_THRESHOLD, BRIDGE_RANK, BUS_DIM, TOP_K
from titan_eval.models.titan_concept import CP_CHUNK, CP_SLOTS

VOCAB_MULTIPLE = 64  # Titan rows: 50280 (mamba-1.4b) → 50304

D_STATE, D_CONV, EXPAND = 16, 4, 2
NORM_EPS = 1e-5
PRIMER_SCALE = 0.1
CP_EVERY = 6
CONSTRUCTOR_KEYS = ("vocab_size", "d_model", "n_layers", "mimo_paths")
IGNORED_KEYS = ("use_gradient_checkpointing",)  # a constructor argument with no effect in eval


@dataclass(frozen=True)
class TitanConfig:
    """The original constructor's arguments (`Mamba3Titan(vocab_size, d_model, n_layers, mimo_paths)`); every
    other size derives from them (properties below)."""

    vocab_size: int = 50304
    d_model: int = 2048
    n_layers: int = 48
    mimo_paths: int = 8
    init_seed: int = 0  # seed of the random init (used when no checkpoint is loaded, and for converted new parts)

    @property
    def d_inner(self) -> int:
        return EXPAND * self.d_model

    @property
    def dt_rank(self) -> int:
        return math.ceil(self.d_model / 16)

    @property
    def mid(self) -> int:
        """Index of the first layer after the arms' injection; the router reads the stream after layer mid−1."""
        return self.n_layers // 2

    @property
    def cp_after(self) -> tuple[int, ...]:
        """Layers followed by a ConceptPerceptron injection: j with (j+1) % 6 == 0."""
        return tuple(j for j in range(self.n_layers) if (j + 1) % CP_EVERY == 0)

    def derived(self) -> dict[str, Any]:
        """Every derived size, for provenance records."""
        return {"d_state": D_STATE, "d_conv": D_CONV, "expand": EXPAND, "d_inner": self.d_inner,
                "dt_rank": self.dt_rank, "mid": self.mid, "cp_after": list(self.cp_after), "cp_slots": CP_SLOTS,
                "cp_chunk": CP_CHUNK, "bridge_rank": BRIDGE_RANK, "bus_dim": BUS_DIM, "top_k": TOP_K,
                "blackboard_threshold": BLACKBOARD_THRESHOLD, "primer_scale": PRIMER_SCALE, "norm_eps": NORM_EPS}

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "TitanConfig":
        """Constructor keys (plus `init_seed`, and `use_gradient_checkpointing`, ignored); a Mamba-1 config
        (transformers `hidden_size, num_hidden_layers` or state-spaces `d_model, n_layer`) is also accepted and
        describes the Titan built on that backbone (vocab rounded up to a multiple of 64, 8 arms)."""
        if "hidden_size" in raw or "n_layer" in raw:
            return config_from_mamba(raw)
        unknown = sorted(set(raw) - set(CONSTRUCTOR_KEYS) - set(IGNORED_KEYS) - {"init_seed"})
        if unknown:
            raise ModelError(f"titan config: unknown key(s) {', '.join(unknown)}; known: {', '.join(CONSTRUCTOR_KEYS)}")
        values = {k: raw[k] for k in (*CONSTRUCTOR_KEYS, "init_seed") if k in raw}
        for key, value in values.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelError(f"titan config: {key} must be an integer, got {value!r}")
        cfg = cls(**values)
        if min(cfg.vocab_size, cfg.d_model) < 1 or cfg.n_layers < 2 or cfg.mimo_paths < TOP_K:
            raise ModelError(f"titan config: need vocab_size, d_model >= 1, n_layers >= 2, mimo_paths >= {TOP_K}; got {cfg}")
        return cfg


def expected_parameter_count(cfg: TitanConfig) -> int:
    """Parameters of the architecture for `cfg` (spec §1: 1,724,110,860 at 50304/2048/48/8)."""
    d, di, r = cfg.d_model, cfg.d_inner, cfg.dt_rank
    block = 2 * d + 2 * di * d + di * D_CONV + di + (r + 2 * D_STATE) * di + di * r + di + di * D_STATE + di + d * di
    blocks = (1 + cfg.n_layers + cfg.mimo_paths) * block
    others = 2 * cfg.vocab_size * d + 2 * d + (2 * d * d + d) + 2 * BRIDGE_RANK * d + (cfg.mimo_paths * d + cfg.mimo_paths)
    return blocks + others + 2 * BUS_DIM * d + 4


def normalise_mamba_keys(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in state_dict.items()}


def _titan_vocab(rows: int) -> int:
    return int(math.ceil(rows / VOCAB_MULTIPLE) * VOCAB_MULTIPLE)


def config_from_mamba_state_dict(state_dict: Mapping[str, Tensor], mimo_paths: int = 8, init_seed: int = 0) -> TitanConfig:
    """The Titan config a Mamba-1 state dict implies: d and n from its tensors, vocab = embedding rows rounded up
    to a multiple of 64."""
    sd = normalise_mamba_keys(state_dict)
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
