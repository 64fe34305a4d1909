"""Tokenizers behind one small interface: a byte tokenizer (embedded tiny models), Hugging Face
`tokenizer.json` files / hub ids, and SentencePiece models.

Every tokenizer encodes text *without* adding BOS/EOS (lm-eval's causal contract) unless `add_bos` is set, maps
special-token strings in the text to their ids, and exposes a fingerprint (sha256 of the file, or a version tag).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from titan_eval.errors import TokenizerError
from titan_eval.hashing import sha256_file


@dataclass(frozen=True)
class TokenizerSpec:
    """How a card names its tokenizer."""

    kind: str = "byte"  # byte | hf | sentencepiece | auto (resolved by titan_eval.tokenizer_discovery; else byte)
    path: str | None = None  # file path (hf: tokenizer.json or a hub id; sentencepiece: .model file)
    added_tokens: tuple[str, ...] = ()  # appended as special tokens in order (ids follow the base vocab)
    eos: str | None = None  # the end-of-sequence piece
    add_bos: bool = False  # prepend the BOS id to every encoded text


class Tokenizer:
    """Base class: subclasses implement `_encode_plain`, `decode`, `piece_to_id`, `size`."""

    name: str = ""
    fingerprint: str = ""
    bos_id: int | None = None
    add_bos: bool = False

    def __init__(self, specials: dict[str, int], eos: str | None) -> None:
        self.special_ids = dict(specials)
        if eos is not None and eos not in self.special_ids:
            eos_id = self.piece_to_id(eos)
            if eos_id is None:
                raise TokenizerError(f"tokenizer {self.name}: EOS piece {eos!r} is not in its vocabulary")
            self.special_ids[eos] = eos_id
        self.eos_id: int | None = None if eos is None else self.special_ids[eos]
        alternation = "|".join(re.escape(s) for s in sorted(self.special_ids, key=len, reverse=True))
        self._split = re.compile(f"({alternation})") if alternation else None

    # -- to implement ------------------------------------------------------------------------------------
    def _encode_plain(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def piece_to_id(self, piece: str) -> int | None:
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Number of ids the tokenizer can emit (base vocabulary plus added tokens)."""
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Text → ids; special-token strings become their ids; BOS only if `add_bos`."""
        ids: list[int] = [self.bos_id] if (self.add_bos and self.bos_id is not None) else []
        parts = self._split.split(text) if self._split else [text]
        for part in parts:
            if not part:
                continue
            if part in self.special_ids:
                ids.append(self.special_ids[part])
            else:
                ids.extend(self._encode_plain(part))
        return ids

    def token_id(self, piece: str) -> int:
        """Id of a special/added piece; `TokenizerError` if the tokenizer lacks it."""
        if piece in self.special_ids:
            return self.special_ids[piece]
        found = self.piece_to_id(piece)
        if found is None:
            raise TokenizerError(f"tokenizer {self.name} has no token {piece!r}")
        return found


class ByteTokenizer(Tokenizer):
    """UTF-8 bytes are ids 0..255; added tokens follow from 256 in order."""

    def __init__(self, added_tokens: Sequence[str] = (), eos: str | None = None) -> None:
        self.name = "byte"
        self._added = list(added_tokens)
        specials = {tok: 256 + i for i, tok in enumerate(self._added)}
        self.fingerprint = "byte-v1:" + hashlib.sha256("\x00".join(self._added).encode()).hexdigest()[:16]
        super().__init__(specials, eos)

    def _encode_plain(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: Sequence[int]) -> str:
        out, buf = [], bytearray()
        for i in ids:
            if i < 256:
                buf.append(i)
                continue
            out.append(buf.decode("utf-8", errors="replace"))
            buf = bytearray()
            out.append(self._added[i - 256] if i - 256 < len(self._added) else "")
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)

    def piece_to_id(self, piece: str) -> int | None:
        return 256 + self._added.index(piece) if piece in self._added else None

    @property
    def size(self) -> int:
        return 256 + len(self._added)


class HFTokenizer(Tokenizer):
    """A Hugging Face `tokenizers` JSON file (or hub id, fetched through transformers when online)."""

    def __init__(self, path: str, added_tokens: Sequence[str] = (), eos: str | None = None, add_bos: bool = False) -> None:
        from tokenizers import AddedToken
        from tokenizers import Tokenizer as RustTokenizer

        file = Path(path).expanduser()
        if file.is_dir():
            file = file / "tokenizer.json"
        if file.exists():
            try:
                self._tok = RustTokenizer.from_file(str(file))
            except Exception as err:
                raise TokenizerError(f"{file}: not a tokenizers JSON file ({err})") from err
            self.fingerprint = sha256_file(file)
        else:
            if "/" not in path or path.startswith((".", "/")):
                raise TokenizerError(f"tokenizer file not found: {file}")
            try:
                self._tok = RustTokenizer.from_pretrained(path)
            except Exception as err:
                raise TokenizerError(f"tokenizer {path!r} is neither a file nor a reachable hub id ({err})") from err
            self.fingerprint = "sha256:" + hashlib.sha256(self._tok.to_str().encode()).hexdigest()
        self.name = str(path)
        if added_tokens:
            self._tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in added_tokens])
        specials = {t: self._tok.token_to_id(t) for t in added_tokens}
        self.add_bos = add_bos
        super().__init__(specials, eos)
        if add_bos:
            self.bos_id = self._tok.token_to_id("<s>")

    def _encode_plain(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def piece_to_id(self, piece: str) -> int | None:
        return self._tok.token_to_id(piece)

    @property
    def size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)


class SentencePieceTokenizer(Tokenizer):
    """A SentencePiece `.model` file; control pieces named in `added_tokens` are matched in text."""

    def __init__(self, path: str, added_tokens: Sequence[str] = (), eos: str | None = None, add_bos: bool = False) -> None:
        import sentencepiece as spm

        file = Path(path).expanduser()
        if not file.exists():
            raise TokenizerError(f"SentencePiece model not found: {file}")
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(file))
        except Exception as err:
            raise TokenizerError(f"{file}: not a SentencePiece model ({err})") from err
        self.name = str(path)
        self.fingerprint = sha256_file(file)
        specials = {}
        for tok in added_tokens:
            pid = self._sp.piece_to_id(tok)
            if pid == self._sp.unk_id() and tok != self._sp.id_to_piece(self._sp.unk_id()):
                raise TokenizerError(f"{file}: piece {tok!r} is not in the SentencePiece vocabulary")
            specials[tok] = pid
        self.add_bos = add_bos
        self.bos_id = self._sp.bos_id() if self._sp.bos_id() >= 0 else None
        super().__init__(specials, eos)
        # Pieces SentencePiece itself matches in text (user-defined symbols such as "<|end|>") are left to it:
        # cutting them out first would drop the dummy-prefix "▁" it emits before them, so ids would differ
        # from a plain `encode(text)`. `token_id` still finds them through `piece_to_id`.
        for piece in [p for p, i in self.special_ids.items() if self._sp.encode(p)[-1:] == [i]]:
            del self.special_ids[piece]
        cut = "|".join(re.escape(p) for p in sorted(self.special_ids, key=len, reverse=True))
        self._split = re.compile(f"({cut})") if cut else None

    def _encode_plain(self, text: str) -> list[int]:
        return list(self._sp.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))

    def piece_to_id(self, piece: str) -> int | None:
        pid = self._sp.piece_to_id(piece)
        return None if pid == self._sp.unk_id() and piece != self._sp.id_to_piece(pid) else pid

    @property
    def size(self) -> int:
        return self._sp.get_piece_size()


def build_tokenizer(spec: TokenizerSpec) -> Tokenizer:
    """Construct the tokenizer a card describes; `TokenizerError` on unknown kinds or unreadable files."""
    if spec.kind in ("byte", "auto"):
        return ByteTokenizer(spec.added_tokens, spec.eos)
    if spec.path is None:
        raise TokenizerError(f"tokenizer kind {spec.kind!r} needs a path (use --tokenizer)")
    if spec.kind == "hf":
        return HFTokenizer(spec.path, spec.added_tokens, spec.eos, spec.add_bos)
    if spec.kind == "sentencepiece":
        return SentencePieceTokenizer(spec.path, spec.added_tokens, spec.eos, spec.add_bos)
    raise TokenizerError(f"unknown tokenizer kind {spec.kind!r}; use byte, hf, sentencepiece or auto")
