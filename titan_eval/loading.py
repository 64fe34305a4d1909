"""Card → ready model: build the architecture, load the checkpoint strictly, build the tokenizer, place it.

`load_model` is the small public API; `load` returns everything a run records (tokenizer, provenance).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping

import torch

from titan_eval.cards import ModelCard, load_card
from titan_eval.checkpoints import check_fits, locate, read_file
from titan_eval.mapped_weights import assign_weights, meta_leftovers, meta_skeleton
from titan_eval.errors import CheckpointError, ModelError, TokenizerError, UsageError
from titan_eval.models.base import LanguageModel
from titan_eval.models.registry import get_architecture
from titan_eval.tokenizer_discovery import discover_tokenizer
from titan_eval.textfiles import one_line
from titan_eval.tokenizers import Tokenizer, TokenizerSpec, build_tokenizer

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class LoadedModel:
    """A model ready to evaluate, with what produced it."""

    model: LanguageModel
    tokenizer: Tokenizer
    card: ModelCard
    checkpoint_sha256: str | None
    device: torch.device
    dtype: torch.dtype

    def provenance(self) -> dict[str, Any]:
        """Model-side provenance for run.json."""
        return {
            "card": self.card.to_dict(),
            "arch": self.card.arch,
            "config": self.model.config_dict(),
            "checkpoint": self.card.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "tokenizer": {"name": self.tokenizer.name, "fingerprint": self.tokenizer.fingerprint,
                          "size": self.tokenizer.size, "eos_id": self.tokenizer.eos_id},
            "dtype": str(self.dtype).replace("torch.", ""),
            "device": str(self.device),
            "backend": self.model.backend,
            "capabilities": {**asdict(self.model.capabilities), "kernels": list(self.model.capabilities.kernels),
                             "blackboard": list(self.model.capabilities.blackboard)},
            "n_parameters": sum(p.numel() for p in self.model.parameters()),
        }


def tokenizer_override(spec: TokenizerSpec, ref: str) -> TokenizerSpec:
    """`--tokenizer REF`: 'byte', a SentencePiece .model, a tokenizer.json / directory, or a hub id."""
    if ref == "byte":
        return replace(spec, kind="byte", path=None)
    kind = "sentencepiece" if ref.endswith(".model") else "hf"
    return replace(spec, kind=kind, path=ref)


def resolve_card(
    card: str | Mapping[str, Any] | ModelCard, checkpoint: str | Path | None, tokenizer: str | None
) -> ModelCard:
    """The card `card` names, with `--checkpoint` / `--tokenizer` overrides applied and the tokenizer completed
    from the checkpoint directory (`titan_eval.tokenizer_discovery`)."""
    card = load_card(card)
    if checkpoint is not None:
        card = replace(card, checkpoint=str(checkpoint))
    if tokenizer is not None:
        card = replace(card, tokenizer=tokenizer_override(card.tokenizer, tokenizer))
    return replace(card, tokenizer=discover_tokenizer(card.tokenizer, card.checkpoint))


def _construct(cls: type[LanguageModel], config: Mapping[str, Any], card: ModelCard) -> LanguageModel:
    """`cls.from_config(config)`; a config whose values do not build the model (wrong types, impossible sizes) is a
    `ModelError` naming the card, not a traceback from deep inside torch."""
    try:
        return cls.from_config(config)
    except (TypeError, ValueError, OverflowError, RuntimeError) as err:
        raise ModelError(f"{card.source}: config does not build a {card.arch} model "
                         f"({type(err).__name__}: {one_line(err)})") from err


def _build(card: ModelCard, trust: bool, dtype: torch.dtype = torch.float32) -> tuple[LanguageModel, str | None]:
    """The card's model on the CPU and its checkpoint's sha256 (None without one): a checkpoint's tensors go
    straight into a model built on the meta device, each converted to `dtype` on its own (`mapped_weights`);
    without a checkpoint, the seeded random init in float32."""
    cls = get_architecture(card.arch)
    if not card.checkpoint:
        if not card.config:
            raise UsageError(f"card {card.name}: no config and no checkpoint to take one from")
        return _construct(cls, {**card.config, "init_seed": card.init_seed}, card), None
    files = locate(card.checkpoint)
    objects = [read_file(w, trust=trust, safe_globals=cls.safe_globals) for w in files.weights]  # refusals first
    config = card.config or files.config
    if not config:
        raise CheckpointError(f"{card.checkpoint}: carries no config; give one in the card")
    raw: Any = objects[0]
    if len(objects) > 1:  # sharded safetensors
        raw = {k: v for part in objects for k, v in part.items()}
    state_dict = cls.state_dict_from_checkpoint(raw)
    config = cls.config_for_checkpoint(config, state_dict)
    with meta_skeleton():  # no throw-away random init: the checkpoint's tensors become the parameters
        model = _construct(cls, config, card)
    check_fits(model, state_dict, source=str(card.checkpoint))
    assign_weights(model, state_dict, dtype)
    _init_buffers(model, card)
    return model.eval(), files.sha256


def _init_buffers(model: LanguageModel, card: ModelCard) -> None:
    """Compute the buffers a checkpoint does not hold (non-persistent ones, e.g. RoPE frequencies) by each
    module's `init_buffers()`; `ModelError` naming any tensor left without a value."""
    for module in model.modules():
        if any(b.is_meta for b in module.buffers(recurse=False)) and hasattr(module, "init_buffers"):
            module.init_buffers()
    left = meta_leftovers(model)
    if left:
        raise ModelError(f"{card.source}: {card.arch} has tensors neither the checkpoint nor the model computes: "
                         f"{', '.join(left[:3])}{' …' if len(left) > 3 else ''}")


def load(
    card: str | Mapping[str, Any] | ModelCard,
    checkpoint: str | Path | None = None,
    tokenizer: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    trust_checkpoint: bool = False,
    kernels: str = "auto",
) -> LoadedModel:
    """Build, load and place a model. `device` defaults to CUDA when available; `dtype` to the card's."""
    card = resolve_card(card, checkpoint, tokenizer)
    dtype_name = dtype or card.dtype
    if dtype_name not in DTYPES:
        raise UsageError(f"unknown dtype {dtype_name!r}; choose one of {', '.join(DTYPES)}")
    place = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if place.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was asked for but CUDA is not available")
    model, sha = _build(card, trust_checkpoint, DTYPES[dtype_name])
    tok = build_tokenizer(card.tokenizer)
    if tok.size > model.vocab_size:
        raise TokenizerError(
            f"tokenizer {tok.name} emits {tok.size} ids but the model has {model.vocab_size} logit rows: wrong tokenizer?"
        )
    model = model.to(device=place, dtype=DTYPES[dtype_name]).eval()
    model.set_kernel_policy(kernels)
    return LoadedModel(model=model, tokenizer=tok, card=card, checkpoint_sha256=sha, device=place, dtype=DTYPES[dtype_name])


def load_model(
    card: str | Mapping[str, Any] | ModelCard, checkpoint: str | Path | None = None, tokenizer: str | None = None
) -> LanguageModel:
    """Public API: the model a card (name, YAML path, or {"arch": ..., "config": {...}}) describes, with
    `checkpoint` loaded strictly when given. `model.forward(ids, lengths=None)` → logits [B, L, V].

    Tokenizer problems are ignored here (a dict card needs none); use `load` for a full evaluation setup."""
    card = resolve_card(card, checkpoint, tokenizer)
    model, _ = _build(card, trust=False)
    return model
