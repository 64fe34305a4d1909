"""Helix v2 model config, read in the original `configs/model/*.yaml` layout (spec §1.2, §1.3).

Accepted layouts (both may carry titan-eval's own options `gla_decay`, `mamba_layout`, `init_seed`):
    nested   the original YAML: `tokenizer.vocab_size`, `model.{d_model, n_layers, n_heads, d_head, d_ffn,
             activation, norm_type, norm_eps}`, `layers`, `ffn`, `moe`, `mtp`, `position_encoding.theta`,
             `advanced.tie_embeddings`, ... (a card may instead say `yaml: path/to/that.yaml`)
    flat     `dataclasses.asdict(AuralisConfig)` as stored in the reference vectors: the `model.*` fields at the
             top level, plus `vocab_size`, `tokenizer_path`, `layout_details`.
`layers` is a list whose entries are a per-layer dict or `{repeat: N, config: {...}}`.

Defaults that the original applies to unset layer fields (spec §1.4, vectors README): `window_size` 1024,
`global_tokens` 32 (an explicit 0 is honoured), `use_rope` true, `qk_norm` false; Mamba `d_conv` 4 and
`expand_factor` 2 (the mamba_ssm defaults the kernel layout is built with), `dt_min` 1e-3, `dt_max` 0.1.

titan-eval options (recorded in `config_dict()`):
    gla_decay     "key" (default; the fla `chunk_gla` kernel semantics real checkpoints were trained with) or
                  "value" (the published pure-PyTorch scan on `main`), see the spec's correction 1.
    mamba_layout  "native" (`_impl.*`, Mamba-1-style scan) or "kernel" (`_impl.inner.*`, mamba_ssm Mamba2);
                  unset = detected from the checkpoint's keys (`kernel` for a seeded random init).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from titan_eval.errors import ModelError
from titan_eval.textfiles import load_yaml

LAYER_TYPES = ("mamba", "gla", "sparse_attention")
LAYER_KEYS = ("type", "d_state", "d_conv", "expand_factor", "dt_min", "dt_max", "window_size", "global_tokens",
              "use_rope", "qk_norm")
GLA_DECAYS = ("key", "value")
MAMBA_LAYOUTS = ("native", "kernel")
OPTION_KEYS = ("gla_decay", "mamba_layout", "init_seed", "yaml")
NESTED_KEYS = ("name", "version", "tokenizer", "model", "layers", "ffn", "moe", "mtp", "position_encoding", "init",
               "dropout", "advanced")
MODEL_KEYS = ("vocab_size", "d_model", "n_layers", "n_heads", "d_head", "d_ffn", "activation", "norm_type", "norm_eps")
FLAT_EXTRA_KEYS = ("tokenizer_path", "layout_details")
# mamba_ssm.Mamba2 defaults that the kernel layout of Helix uses (spec §1.4); a config claiming others is refused.
KERNEL_LAYOUT_FACTS = {"headdim": 64, "ngroups": 1, "gated_norm_eps": 1e-5, "norm_before_gate": False}


@dataclass(frozen=True)
class HelixLayerConfig:
    """One block's mixer. Only the fields of its `type` matter; defaults are the original's (module docstring)."""

    type: str
    d_state: int | None = None  # Mamba N (ignored by GLA, as in the original)
    d_conv: int = 4  # Mamba conv kernel K
    expand_factor: int = 2  # Mamba E: d_inner = E · d_model
    dt_min: float = 1e-3  # Mamba Δ init range (random init only)
    dt_max: float = 0.1
    window_size: int = 1024  # attention: a query sees the last `window_size` positions, itself included
    global_tokens: int = 32  # attention: ... plus the first `global_tokens` positions of the sequence
    use_rope: bool = True
    qk_norm: bool = False  # RMSNorm(d_head, eps 1e-6) on q and k before RoPE

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> "HelixLayerConfig":
        """A per-layer dict (None = unset → default); `ModelError` on unknown keys, types or missing d_state."""
        if not isinstance(raw, Mapping):
            raise ModelError(f"helix config {where}: a layer must be a mapping, got {type(raw).__name__}")
        unknown = sorted(set(raw) - set(LAYER_KEYS))
        if unknown:
            raise ModelError(f"helix config {where}: unknown layer key(s) {', '.join(unknown)}")
        kind = raw.get("type")
        if kind not in LAYER_TYPES:
            raise ModelError(f"helix config {where}: layer type {kind!r} is not supported; "
                             f"use one of {', '.join(LAYER_TYPES)}")
        given = {k: v for k, v in raw.items() if v is not None}
        if kind == "mamba" and "d_state" not in given:
            raise ModelError(f"helix config {where}: a mamba layer needs d_state")
        try:
            layer = cls(**given)
        except TypeError as err:
            raise ModelError(f"helix config {where}: {err}") from err
        if layer.window_size < 1 or layer.global_tokens < 0:
            raise ModelError(f"helix config {where}: window_size must be ≥ 1 and global_tokens ≥ 0")
        return layer


@dataclass(frozen=True)
class HelixConfig:
    """The whole model; `layers` is expanded (one entry per block)."""

    vocab_size: int
    d_model: int
    n_layers: int
    n_heads: int
    d_head: int
    d_ffn: int
    norm_eps: float
    layers: tuple[HelixLayerConfig, ...]
    rope_theta: float = 10000.0
    tie_embeddings: bool = True
    gla_decay: str = "key"
    mamba_layout: str | None = None
    init_seed: int = 0
    name: str = ""

    @property
    def layout(self) -> str:
        """The Mamba layout to build: the configured one, else `kernel` (that of kernel-trained checkpoints)."""
        return self.mamba_layout or "kernel"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "HelixConfig":
        """Parse and validate either layout (module docstring); `ModelError` names the offending field."""
        raw = _with_yaml(raw)
        nested = isinstance(raw.get("model"), Mapping)
        allowed = set(NESTED_KEYS) | set(OPTION_KEYS)
        if not nested:
            allowed |= set(MODEL_KEYS) | set(FLAT_EXTRA_KEYS)
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ModelError(f"helix config: unknown key(s) {', '.join(unknown)}")
        model = dict(raw["model"]) if nested else dict(raw)
        if nested and "vocab_size" not in model:
            model["vocab_size"] = (raw.get("tokenizer") or {}).get("vocab_size")
        required = ("vocab_size", "d_model", "n_layers", "n_heads", "d_head", "d_ffn")
        missing = [k for k in required if model.get(k) is None]
        if missing:
            raise ModelError(f"helix config: missing {', '.join(missing)}")
        _check_supported(raw, model)
        layers = _expand_layers(raw.get("layers"))
        pos = dict(raw.get("position_encoding") or {})
        adv = dict(raw.get("advanced") or {})
        cfg = cls(
            vocab_size=int(model["vocab_size"]), d_model=int(model["d_model"]), n_layers=int(model["n_layers"]),
            n_heads=int(model["n_heads"]), d_head=int(model["d_head"]), d_ffn=int(model["d_ffn"]),
            norm_eps=float(model.get("norm_eps") or 1e-6), layers=layers,
            rope_theta=float(pos.get("theta") or 10000.0), tie_embeddings=bool(adv.get("tie_embeddings", True)),
            gla_decay=str(raw.get("gla_decay") or "key"), mamba_layout=raw.get("mamba_layout"),
            init_seed=int(raw.get("init_seed") or 0), name=str(raw.get("name") or ""),
        )
        cfg.validate()
        if raw.get("layout_details"):
            _check_layout_details(raw["layout_details"])
        return cfg

    def to_mapping(self) -> dict[str, Any]:
        """This config in the flat original layout (with `mamba_layout` resolved); `from_mapping` reads it back."""
        return {
            "name": self.name, "vocab_size": self.vocab_size, "d_model": self.d_model, "n_layers": self.n_layers,
            "n_heads": self.n_heads, "d_head": self.d_head, "d_ffn": self.d_ffn, "norm_eps": self.norm_eps,
            "layers": [asdict(layer) for layer in self.layers],
            "position_encoding": {"type": "rope", "theta": self.rope_theta},
            "advanced": {"tie_embeddings": self.tie_embeddings},
            "gla_decay": self.gla_decay, "mamba_layout": self.layout, "init_seed": self.init_seed,
        }

    def validate(self) -> None:
        """The original loader's checks (spec §1.2) plus titan-eval's options."""
        if len(self.layers) != self.n_layers:
            raise ModelError(f"helix config: layers expand to {len(self.layers)} entries "
                             f"but n_layers is {self.n_layers}")
        if self.n_heads * self.d_head != self.d_model:
            raise ModelError(f"helix config: n_heads·d_head = {self.n_heads * self.d_head} "
                             f"must equal d_model {self.d_model}")
        if self.gla_decay not in GLA_DECAYS:
            raise ModelError(f"helix config: gla_decay must be one of {', '.join(GLA_DECAYS)}, got {self.gla_decay!r}")
        if self.mamba_layout not in (None, *MAMBA_LAYOUTS):
            raise ModelError(f"helix config: mamba_layout must be one of {', '.join(MAMBA_LAYOUTS)}, "
                             f"got {self.mamba_layout!r}")
        for i, layer in enumerate(self.layers):
            if layer.type == "mamba" and self.layout == "kernel" and (layer.expand_factor * self.d_model) % 64:
                raise ModelError(f"helix config: layer {i}: d_inner = {layer.expand_factor * self.d_model} is not a "
                                 "multiple of the kernel layout's head size 64")
            if layer.type == "sparse_attention" and layer.use_rope and self.d_head % 2:
                raise ModelError("helix config: RoPE needs an even d_head")


def _with_yaml(raw: Mapping[str, Any]) -> dict[str, Any]:
    """`yaml: PATH` → that file's mapping, with the other keys of `raw` on top."""
    if "yaml" not in raw:
        return dict(raw)
    from titan_eval.paths import expand

    path = Path(expand(str(raw["yaml"])))
    base = load_yaml(path, "Helix model YAML")
    if not isinstance(base, Mapping):
        raise ModelError(f"helix config: {path} is not a YAML mapping")
    return {**base, **{k: v for k, v in raw.items() if k != "yaml"}}


def _check_supported(raw: Mapping[str, Any], model: Mapping[str, Any]) -> None:
    """Refuse features whose weights or math this implementation does not cover."""
    if model.get("norm_type") not in (None, "rmsnorm"):
        raise ModelError(f"helix config: norm_type {model['norm_type']!r} is not supported (rmsnorm only)")
    ffn = raw.get("ffn") or {}
    if ffn.get("type") not in (None, "dense") or ffn.get("activation") not in (None, "silu_gated"):
        raise ModelError("helix config: only the dense silu_gated (SwiGLU) FFN is supported")
    if (raw.get("moe") or {}).get("enabled"):
        raise ModelError("helix config: moe.enabled is not supported (the original's MoE is a placeholder)")
    if (raw.get("mtp") or {}).get("enabled"):
        raise ModelError("helix config: mtp.enabled is not supported; evaluation uses the main head only")
    if (raw.get("position_encoding") or {}).get("type") not in (None, "rope"):
        raise ModelError("helix config: position_encoding.type must be rope")


def _expand_layers(entries: Any) -> tuple[HelixLayerConfig, ...]:
    """The `layers` list with `{repeat, config}` entries unrolled."""
    if not isinstance(entries, list) or not entries:
        raise ModelError("helix config: `layers` must be a non-empty list")
    out: list[HelixLayerConfig] = []
    for n, entry in enumerate(entries):
        if isinstance(entry, Mapping) and "repeat" in entry:
            repeat = int(entry["repeat"])
            if repeat < 1 or set(entry) - {"repeat", "config"}:
                raise ModelError(f"helix config: layers[{n}]: a repeat entry is {{repeat: N ≥ 1, config: {{...}}}}")
            layer = HelixLayerConfig.from_mapping(entry.get("config") or {}, f"layers[{n}].config")
            out.extend([layer] * repeat)
        else:
            out.append(HelixLayerConfig.from_mapping(entry, f"layers[{n}]"))
    return tuple(out)


def _check_layout_details(details: Mapping[str, Any]) -> None:
    """Vector-style `layout_details`: the kernel layout's facts must be mamba_ssm's defaults."""
    for key, value in KERNEL_LAYOUT_FACTS.items():
        if key in details and details[key] != value:
            raise ModelError(f"helix config: layout_details.{key} = {details[key]!r}; only {value!r} is implemented")
