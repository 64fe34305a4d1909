"""H64LM's tokenizers: Mistral-7B `tokenizer.model` (SentencePiece) and the `tokenizer.json` H64LM trained with.

Facts pinned (spec §6, tokenizers/README.md): "Hello world" → [1, 22557, 1526] with both, BOS prepended, no EOS;
they differ on text that begins with whitespace (" Paris": SentencePiece [1, 28705, 5465], tokenizer.json
[1, 5465]) and tokenizer.json maps literal special strings to their ids.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from titan_eval.cards import load_card
from titan_eval.tokenizers import HFTokenizer, SentencePieceTokenizer, build_tokenizer


def mistral(shared: Path, name: str) -> Path:
    path = shared / "tokenizers" / "mistral-7b" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="module")
def sentencepiece(shared: Path) -> SentencePieceTokenizer:
    return SentencePieceTokenizer(str(mistral(shared, "tokenizer.model")), eos="</s>", add_bos=True)


@pytest.fixture(scope="module")
def training(shared: Path) -> HFTokenizer:
    return HFTokenizer(str(mistral(shared, "tokenizer.json")), eos="</s>", add_bos=True)


def test_hello_world_with_the_sentencepiece_model(sentencepiece: SentencePieceTokenizer) -> None:
    assert sentencepiece.encode("Hello world") == [1, 22557, 1526]
    assert sentencepiece.size == 32000
    assert (sentencepiece.token_id("<unk>"), sentencepiece.bos_id, sentencepiece.eos_id) == (0, 1, 2)


def test_hello_world_with_the_training_tokenizer_json(training: HFTokenizer) -> None:
    assert training.encode("Hello world") == [1, 22557, 1526]
    assert training.size == 32000
    assert (training.token_id("<unk>"), training.bos_id, training.eos_id) == (0, 1, 2)


def test_the_two_agree_on_ordinary_text(sentencepiece: SentencePieceTokenizer, training: HFTokenizer) -> None:
    text = "= Robert Boulter =\nRobert Boulter is an English film, television and theatre actor."
    assert sentencepiece.encode(text) == training.encode(text)
    assert sentencepiece.decode(sentencepiece.encode(text)[1:]) == text


def test_leading_whitespace_is_where_they_differ(sentencepiece: SentencePieceTokenizer, training: HFTokenizer) -> None:
    assert sentencepiece.encode(" Paris") == [1, 28705, 5465]  # dummy prefix "▁" plus the text's own space
    assert training.encode(" Paris") == [1, 5465]  # Metaspace prepend_scheme "first": no second "▁"
    assert sentencepiece.encode("Paris") == training.encode("Paris") == [1, 5465]


def test_training_tokenizer_maps_literal_special_strings(training: HFTokenizer) -> None:
    assert training.encode("end</s>")[-1] == 2


def test_the_249m_card_uses_the_training_tokenizer(shared: Path) -> None:
    card = load_card("h64lm-249m")
    tok = build_tokenizer(card.tokenizer)
    assert Path(card.tokenizer.path).resolve() == mistral(shared, "tokenizer.json").resolve()
    assert tok.fingerprint == hashlib.sha256(mistral(shared, "tokenizer.json").read_bytes()).hexdigest()
    assert tok.encode("Hello world") == [1, 22557, 1526] and tok.encode(" Paris") == [1, 5465]
    assert tok.eos_id == 2 and tok.size <= card.config["vocab_size"]
