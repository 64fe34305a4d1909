"""Model cards: YAML files in `model/` that say how to build, load, tokenise and prompt a model.

Schema (every key but `name` and `arch` optional):

    name: titan-tiny                  # card name (the file stem)
    description: one line
    arch: titan                       # a registered architecture (titan_eval.models.registry)
    config: {...}                     # the architecture's constructor config (original field names)
    checkpoint: null                  # null = seeded random init; a path; hf://org/repo/file
    init_seed: 0                      # seed for random init (when checkpoint is null)
    tokenizer: {kind: byte|hf|sentencepiece, path: ..., added_tokens: [...], eos: ..., add_bos: false}
                                      # absent: the checkpoint directory's tokenizer.json, else byte
                                      # (titan_eval.tokenizer_discovery; also fills a missing hf eos)
    prompt:                           # think-then-answer / chat formatting
      template: "User: {question}\\nAssistant:"
      think_open: " <think>\\n"       # appended to the template to open a think block (null: no think block)
      think_close: "</think>"         # the closer token/string generation stops on
      answer_cue: "\\n"               # after the closer, before the scored answer
    generation: {mask_vocab_from: 50279}   # logit rows >= this id are never generated
    dtype: float32                    # float32 | bfloat16 | float16
    literature: {task: {metric: value, source: "..."}}
    notes: free text
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from titan_eval.errors import DataError, UsageError
from titan_eval.paths import CARDS_DIR, expand
from titan_eval.tokenizers import TokenizerSpec


@dataclass(frozen=True)
class PromptFormat:
    """How a question becomes a prompt, and how a think block opens and closes."""

    template: str = "{question}"
    think_open: str | None = None
    think_close: str | None = None
    answer_cue: str = ""


@dataclass(frozen=True)
class ModelCard:
    """A parsed model card (see module docstring for the YAML schema)."""

    name: str
    arch: str
    config: dict[str, Any] = field(default_factory=dict)
    checkpoint: str | None = None
    init_seed: int = 0
    tokenizer: TokenizerSpec = field(default_factory=TokenizerSpec)
    prompt: PromptFormat = field(default_factory=PromptFormat)
    generation: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float32"
    literature: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    notes: str = ""
    source: str = "<dict>"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "<dict>", base: Path | None = None) -> "ModelCard":
        """Validate a card mapping; `UsageError` names the file and the offending key."""
        known = {f.name for f in fields(cls)} - {"source"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise UsageError(f"{source}: unknown card key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "arch" not in raw:
            raise UsageError(f"{source}: a model card needs an 'arch'")
        data = dict(raw)
        data.setdefault("name", Path(source).stem if source != "<dict>" else str(data["arch"]))
        tok = dict(data.get("tokenizer") or {"kind": "auto"})  # none named: from the checkpoint dir, else byte
        bad = sorted(set(tok) - {f.name for f in fields(TokenizerSpec)})
        if bad:
            raise UsageError(f"{source}: unknown tokenizer key(s) {', '.join(bad)}")
        if tok.get("path"):
            tok["path"] = expand(str(tok["path"]), base)
        tok["added_tokens"] = tuple(tok.get("added_tokens") or ())
        data["tokenizer"] = TokenizerSpec(**tok)
        prompt = dict(data.get("prompt") or {})
        bad = sorted(set(prompt) - {f.name for f in fields(PromptFormat)})
        if bad:
            raise UsageError(f"{source}: unknown prompt key(s) {', '.join(bad)}")
        data["prompt"] = PromptFormat(**prompt)
        if data.get("checkpoint"):
            data["checkpoint"] = expand(str(data["checkpoint"]), base)
        data["config"] = dict(data.get("config") or {})
        if data.get("dtype", "float32") not in ("float32", "bfloat16", "float16"):
            raise UsageError(f"{source}: dtype must be float32, bfloat16 or float16")
        return cls(source=source, **data)

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping for provenance records."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.__dict__.copy() if hasattr(value, "__dataclass_fields__") else value
        out["tokenizer"]["added_tokens"] = list(self.tokenizer.added_tokens)
        return out


def list_cards() -> list[str]:
    """Names of the cards shipped in `model/`."""
    return sorted(p.stem for p in CARDS_DIR.glob("*.yaml"))


def load_card(ref: str | Mapping[str, Any] | ModelCard) -> ModelCard:
    """A card by name (model/NAME.yaml), by YAML path, or from a mapping such as {"arch": ..., "config": {...}}."""
    if isinstance(ref, ModelCard):
        return ref
    if isinstance(ref, Mapping):
        return ModelCard.from_mapping(ref)
    path = Path(ref)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        path = CARDS_DIR / f"{ref}.yaml"
        if not path.exists():
            from titan_eval.models.registry import ARCHITECTURES

            if ref in ARCHITECTURES:
                return ModelCard.from_mapping({"arch": ref, "name": ref})
            raise UsageError(f"unknown model {ref!r}; cards: {', '.join(list_cards())} (or a card .yaml path, or an architecture name)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{where}: malformed YAML ({getattr(err, 'problem', err)})") from err
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: a model card must be a YAML mapping")
    return ModelCard.from_mapping(raw, source=str(path), base=path.parent)
