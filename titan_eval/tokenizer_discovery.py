"""Finding a tokenizer and its EOS from the files beside a checkpoint, as `lm_eval --model hf` does for a
transformers directory.

Rules, in order:
- A card that names no tokenizer (`kind: auto`, e.g. `--model mamba`) takes `<checkpoint dir>/tokenizer.json`
  when the checkpoint is a local directory holding one; otherwise the byte tokenizer.
- An HF tokenizer without an `eos` takes it from, first found: `tokenizer_config.json` / `special_tokens_map.json`
  `eos_token` beside the tokenizer file or in the checkpoint directory; `config.json` `eos_token_id` in the
  checkpoint directory (mapped to its piece through the tokenizer file); else the tokenizer file's special tokens,
  when exactly one of them is not a padding / unknown / BOS / mask / separator token.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from titan_eval.tokenizers import TokenizerSpec

NOT_EOS = re.compile(r"pad|unk|mask|cls|sep|bos|^<s>$|start", re.IGNORECASE)


def discover_tokenizer(spec: TokenizerSpec, checkpoint: str | None) -> TokenizerSpec:
    """`spec` completed from the checkpoint's directory (module docstring); unchanged when nothing applies."""
    ckpt_dir = Path(checkpoint) if checkpoint and Path(checkpoint).is_dir() else None
    if spec.kind == "auto":
        found = ckpt_dir / "tokenizer.json" if ckpt_dir is not None else None
        spec = replace(spec, kind="hf", path=str(found)) if found is not None and found.is_file() else replace(spec, kind="byte")
    if spec.kind != "hf" or spec.eos is not None or not spec.path:
        return spec
    file = Path(spec.path)
    file = file / "tokenizer.json" if file.is_dir() else file
    if not file.is_file():
        return spec
    eos = eos_piece(file, ckpt_dir)
    return replace(spec, eos=eos) if eos is not None else spec


def eos_piece(tokenizer_file: Path, ckpt_dir: Path | None) -> str | None:
    """The EOS piece the files around `tokenizer_file` (and the checkpoint directory) name, or None."""
    dirs = [tokenizer_file.parent] + ([ckpt_dir] if ckpt_dir is not None and ckpt_dir != tokenizer_file.parent else [])
    for d in dirs:
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            piece = _token_text(_read_json(d / name).get("eos_token"))
            if piece:
                return piece
    pieces = _pieces(tokenizer_file)
    for d in dirs:
        eos_id = _read_json(d / "config.json").get("eos_token_id")
        if isinstance(eos_id, list) and len(eos_id) == 1:
            eos_id = eos_id[0]
        if isinstance(eos_id, int) and not isinstance(eos_id, bool) and eos_id in pieces:
            return pieces[eos_id]
    specials = [t.get("content") for t in _read_json(tokenizer_file).get("added_tokens") or []
                if isinstance(t, dict) and t.get("special") and isinstance(t.get("content"), str)]
    candidates = [s for s in specials if not NOT_EOS.search(s)]
    return candidates[0] if len(candidates) == 1 else None


def _token_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"] or None
    return None


def _pieces(tokenizer_file: Path) -> dict[int, str]:
    """id → piece for the added tokens and the base vocabulary of a tokenizers JSON file."""
    raw = _read_json(tokenizer_file)
    vocab = (raw.get("model") or {}).get("vocab")
    out = {i: p for p, i in vocab.items() if isinstance(i, int)} if isinstance(vocab, dict) else {}
    for t in raw.get("added_tokens") or []:
        if isinstance(t, dict) and isinstance(t.get("id"), int) and isinstance(t.get("content"), str):
            out[t["id"]] = t["content"]
    return out


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or {} when it is absent or not an object (these files are optional hints)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}
