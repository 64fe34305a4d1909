"""H64LM hyper-parameters: the original `H64LMConfig` dataclass fields, validated, plus titan-eval's own.

Field names and defaults are the original's (spec §2, in its order). Glossary of the symbols used elsewhere:
V = vocab_size, D = hidden_size, N_layers = num_layers, H = num_attention_heads, KV = kv heads (1 under "mqa"),
hd = D / H, E = num_experts, k = num_experts_per_token, F = expert_hidden_size, W = sliding_window_size,
θ = rope_theta, T = moe_temperature.

Fields that have no effect at evaluation (dropouts, loss coefficients, `capacity_factor`, `kv_block_size`,
`initializer_type`, `use_attention_sinks`, `gradient_checkpointing`, `use_cache`, `max_samples`, `kv_cache_fp16`,
`use_flash_attention`) are accepted and recorded unchanged; the harness always runs the standard masked path.
The original's non-field class attributes (`num_epochs`, `batch_size`, ...) and the derived `head_dim` may also
appear in a user's config: they are recorded (and `head_dim` checked), anything else is a `ModelError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping

from titan_eval.errors import ModelError

ATTENTION_TYPES = ("rope", "alibi", "mqa")
"""What the original's code acts on: "alibi" adds the ALiBi bias on top of RoPE, "mqa" forces one kv head."""

TRAINING_ATTRIBUTES = frozenset({
    "num_epochs", "batch_size", "grad_accum_steps", "val_interval", "save_interval", "log_interval", "use_fp16",
    "use_tensorboard", "checkpoint_dir", "resume_from", "use_ddp", "use_pretrained_tokenizer", "streaming",
    "dataset", "dataset_dir",
})
"""The original's un-annotated class attributes (training-loop settings): accepted and recorded, never used."""


@dataclass(frozen=True)
class H64LMConfig:
    """The original `H64LMConfig` (33 fields, same order and defaults) and titan-eval's additions at the end."""

    vocab_size: int = 32000
    hidden_size: int = 768
    num_layers: int = 6
    num_attention_heads: int = 12
    num_kv_heads: int = 4
    max_position_embeddings: int = 1024  # trained length; longer inputs are refused unless allowed below
    num_experts: int = 8
    num_experts_per_token: int = 2
    expert_hidden_size: int = 3072  # a constant in the original (768·4), not 4·hidden_size
    use_flash_attention: bool = False  # never emulated (spec §4.3.12)
    kv_block_size: int = 256  # unused
    layer_norm_eps: float = 1e-5
    dropout: float = 0.1  # training only
    expert_dropout: float = 0.05  # training only
    capacity_factor: float = 1.25  # unused
    load_balance_loss_coeff: float = 0.01
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    rope_theta: float = 10000.0
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False
    moe_temperature: float = 2.0
    diversity_loss_coeff: float = 0.002
    z_loss_coeff: float = 1e-3
    initializer_type: str = "scaled"  # unused
    attention_type: str = "rope"
    sliding_window_size: int = 2048  # inclusive: W + 1 visible keys
    use_attention_sinks: bool = True  # a no-op in the original
    kv_cache_fp16: bool = False  # the original's cache option; titan-eval keeps the cache in the model dtype
    gradient_checkpointing: bool = True  # never takes effect in the original
    use_cache: bool = True
    max_samples: int = 100
    # -- titan-eval's own ------------------------------------------------------------------------------------
    init_seed: int = 0
    """Seed of the random init used when no checkpoint is loaded."""
    allow_beyond_max_positions: bool = False
    """Run positions ≥ max_position_embeddings (the original silently would); refused by default."""
    training_attributes: dict[str, Any] = field(default_factory=dict)
    """Recorded, unused: the original's training-loop attributes found in the given config."""
    decided_from_checkpoint: tuple[str, ...] = ()
    """Notes on fields the checkpoint's keys decided (e.g. attention_type from `alibi_slopes`)."""

    def __post_init__(self) -> None:
        problems = []
        if self.attention_type not in ATTENTION_TYPES:
            problems.append(f"attention_type {self.attention_type!r} is not one of {', '.join(ATTENTION_TYPES)}")
        if self.hidden_size % self.num_attention_heads:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                            f"{self.num_attention_heads}")
        elif self.head_dim % 2:
            problems.append(f"head_dim {self.head_dim} must be even for rotate-half RoPE")
        if self.num_attention_heads % self.kv_heads:
            problems.append(f"num_attention_heads {self.num_attention_heads} is not a multiple of the kv heads "
                            f"{self.kv_heads}")
        if not 1 <= self.num_experts_per_token <= self.num_experts:
            problems.append(f"num_experts_per_token {self.num_experts_per_token} must be in 1..num_experts "
                            f"{self.num_experts}")
        if self.moe_temperature <= 0:
            problems.append(f"moe_temperature must be positive, got {self.moe_temperature}")
        if self.sliding_window_size < 0:
            problems.append(f"sliding_window_size must be ≥ 0, got {self.sliding_window_size}")
        if min(self.vocab_size, self.num_layers, self.expert_hidden_size, self.max_position_embeddings) < 1:
            problems.append("vocab_size, num_layers, expert_hidden_size and max_position_embeddings must be ≥ 1")
        if problems:
            raise ModelError("h64lm config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        """hd = hidden_size // num_attention_heads (derived, as in the original's __post_init__)."""
        return self.hidden_size // self.num_attention_heads

    @property
    def kv_heads(self) -> int:
        """KV: num_kv_heads, or 1 when attention_type is "mqa"."""
        return 1 if self.attention_type == "mqa" else self.num_kv_heads

    @property
    def alibi(self) -> bool:
        """Whether the ALiBi bias (and its `alibi_slopes` buffers) is part of the model."""
        return self.attention_type == "alibi"

    def is_moe_layer(self, index: int) -> bool:
        """Layer `index` is an MoE layer iff it is odd (dense SwiGLU on even layers)."""
        return index % 2 == 1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "H64LMConfig":
        """Build from a mapping of original field names (e.g. `dataclasses.asdict` of the original config).

        `head_dim`, if given, must equal hidden_size // num_attention_heads; the original's training attributes
        are recorded; any other unknown key is a `ModelError` (it is most likely a typo)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        training = {k: raw[k] for k in raw if k in TRAINING_ATTRIBUTES}
        unknown = sorted(set(raw) - known - TRAINING_ATTRIBUTES - {"head_dim"})
        if unknown:
            raise ModelError(f"h64lm config: unknown field(s) {', '.join(unknown)}")
        if training:
            values["training_attributes"] = {**dict(values.get("training_attributes") or {}), **training}
        values["decided_from_checkpoint"] = tuple(values.get("decided_from_checkpoint") or ())
        cfg = cls(**values)
        if "head_dim" in raw and raw["head_dim"] != cfg.head_dim:
            raise ModelError(f"h64lm config: head_dim {raw['head_dim']} ≠ hidden_size // num_attention_heads = "
                             f"{cfg.head_dim}")
        return cfg

    def with_attention_type(self, attention_type: str, note: str) -> "H64LMConfig":
        """A copy with `attention_type` replaced and the reason recorded in `decided_from_checkpoint`."""
        notes = (*self.decided_from_checkpoint, note)
        return replace(self, attention_type=attention_type, decided_from_checkpoint=notes)
