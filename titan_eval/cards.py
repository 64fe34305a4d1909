"""Model cards: YAML files in `model/` that say how to build, load, tokenise and prompt a model.

Schema (every key but `name` and `arch` optional):

    name: titan-tiny                  # card name (default: the file stem); letters, digits and ._+- only
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
      chat_template: user-assistant   # multi-turn form for --apply-chat-template (titan_eval.chat_templates)
    generation: {mask_vocab_from: 50279}   # logit rows >= this id are never generated
    dtype: float32                    # float32 | bfloat16 | float16
    literature: {task: {metric: value, source: "..."}}
    notes: free text
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from titan_eval.architectures import ARCHITECTURES
from titan_eval.errors import DataError, UsageError
from titan_eval.output_dir import sanitise_name
from titan_eval.paths import CARDS_DIR, expand
from titan_eval.textfiles import load_yaml
from titan_eval.tokenizers import TokenizerSpec

_NAME = re.compile(r"[A-Za-z0-9._+-]{1,100}")
_MAPPING = (dict, type(None))
_CARD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "arch": (str,), "config": _MAPPING, "checkpoint": (str, type(None)), "init_seed": (int,),
    "tokenizer": _MAPPING, "prompt": _MAPPING, "generation": _MAPPING, "dtype": (str,), "literature": _MAPPING,
    "description": (str, type(None)), "notes": (str, type(None)),
}
_TOKENIZER_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,), "path": (str, type(None)), "eos": (str, type(None)), "add_bos": (bool,),
}
_PROMPT_TYPES: dict[str, tuple[type, ...]] = {
    "template": (str,), "think_open": (str, type(None)), "think_close": (str, type(None)), "answer_cue": (str,),
    "chat_template": (str, type(None)),
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "a mapping", type(None): "null"}


def _check_keys(raw: Mapping[Any, Any], known: set[str], what: str, source: str) -> None:
    unknown = sorted(repr(k) if not isinstance(k, str) else k for k in raw if k not in known)
    if unknown:
        raise UsageError(f"{source}: unknown {what}(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def _check_type(raw: Mapping[str, Any], key: str, kinds: tuple[type, ...], where: str) -> None:
    """`UsageError` unless `raw[key]` (when present) is one of `kinds` (a bool is not an integer here)."""
    if key not in raw:
        return
    value = raw[key]
    if any(type(value) is k or (k is dict and isinstance(value, Mapping)) for k in kinds):
        return
    raise UsageError(f"{where}: {key} must be {' or '.join(_TYPE_NAMES[k] for k in kinds)}, not {type(value).__name__}")


@dataclass(frozen=True)
class PromptFormat:
    """How a question becomes a prompt, and how a think block opens and closes."""

    template: str = "{question}"
    think_open: str | None = None
    think_close: str | None = None
    answer_cue: str = ""
    chat_template: str | None = None  # a `chat_templates.CHAT_TEMPLATES` name: what --apply-chat-template renders


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
        _check_keys(raw, known, "card key", source)
        if "arch" not in raw:
            raise UsageError(f"{source}: a model card needs an 'arch'")
        data = dict(raw)
        data.setdefault("name", sanitise_name(Path(source).stem if source != "<dict>" else str(data["arch"]))[:100])
        for key, kinds in _CARD_TYPES.items():
            _check_type(data, key, kinds, source)
        if not _NAME.fullmatch(data["name"]) or data["name"] in (".", ".."):
            raise UsageError(f"{source}: card name {data['name']!r} must be letters, digits and ._+- "
                             "(it names run folders)")
        tok = dict(data.get("tokenizer") or {"kind": "auto"})  # none named: from the checkpoint dir, else byte
        _check_keys(tok, {f.name for f in fields(TokenizerSpec)}, "tokenizer key", source)
        for key, kinds in _TOKENIZER_TYPES.items():
            _check_type(tok, key, kinds, f"{source}: tokenizer")
        if tok.get("path"):
            tok["path"] = expand(tok["path"], base)
        added = tok.get("added_tokens") or ()
        if not isinstance(added, (list, tuple)) or not all(isinstance(t, str) and t for t in added):
            raise UsageError(f"{source}: tokenizer.added_tokens must be a list of non-empty strings")
        tok["added_tokens"] = tuple(added)
        data["tokenizer"] = TokenizerSpec(**tok)
        prompt = dict(data.get("prompt") or {})
        _check_keys(prompt, {f.name for f in fields(PromptFormat)}, "prompt key", source)
        for key, kinds in _PROMPT_TYPES.items():
            _check_type(prompt, key, kinds, f"{source}: prompt")
        data["prompt"] = PromptFormat(**prompt)
        if data["prompt"].chat_template is not None:
            from titan_eval.chat_templates import get_template

            get_template(data["prompt"].chat_template)  # UsageError naming the known ones
        try:
            data["prompt"].template.format(question="")
        except (KeyError, IndexError, ValueError, AttributeError) as err:
            raise UsageError(f"{source}: prompt.template must be text with {{question}} and no other "
                             f"{{placeholders}} ({type(err).__name__}: {err})") from err
        if data.get("checkpoint"):
            data["checkpoint"] = expand(data["checkpoint"], base)
        for key in ("config", "generation", "literature"):
            data[key] = dict(data.get(key) or {})
        for key in ("description", "notes"):
            data[key] = data.get(key) or ""
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
            if ref in ARCHITECTURES:
                return ModelCard.from_mapping({"arch": ref, "name": ref})
            raise UsageError(f"unknown model {ref!r}; cards: {', '.join(list_cards())} (or a card .yaml path, or an architecture name)")
    raw = load_yaml(path, "model card")
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: a model card must be a YAML mapping")
    return ModelCard.from_mapping(raw, source=str(path), base=path.parent)
