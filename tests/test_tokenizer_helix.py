"""Helix v2 tokenizer and chat template against the cases made with the real tokenizer and the original
template builder (`helix_tokenizer_cases.json`): ids, decoding, rendered templates, the stop id, no BOS."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from titan_eval.cards import load_card
from titan_eval.chat_templates import chat_prompt, prompt_template, render
from titan_eval.tokenizers import Tokenizer, build_tokenizer

TOKENIZER = "tokenizers/helix-v2/helix_v2_tokenizer.model"


@pytest.fixture(scope="module")
def cases(shared: Path) -> dict:
    path = shared / "vectors" / "helix_tokenizer_cases.json"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def tok(shared: Path) -> Tokenizer:
    """The tokenizer exactly as the helix-v2-1b card builds it (file taken from this shared folder)."""
    if not (shared / TOKENIZER).exists():
        pytest.skip(f"{shared / TOKENIZER} is absent")
    spec = load_card("helix-v2-1b").tokenizer
    return build_tokenizer(replace(spec, path=str(shared / TOKENIZER)))


def test_every_case_encodes_and_decodes_exactly(tok: Tokenizer, cases: dict) -> None:
    assert len(cases["cases"]) == 13
    for case in cases["cases"]:
        assert tok.encode(case["text"]) == case["ids"], case["name"]
        assert tok.decode(case["ids"]) == case["decode"] == case["text"], case["name"]


def test_chat_templates_render_exactly(tok: Tokenizer, cases: dict) -> None:
    templates = [c for c in cases["cases"] if c["kind"] == "chat_template"]
    assert len(templates) == 3
    for case in templates:
        if "messages" in case:
            generation = case["messages"][-1]["role"] == "user"
            text = render("helix-v2", case["messages"], add_generation_prompt=generation)
        else:
            text = chat_prompt("helix-v2", " " + case["user"] + "\n", system=case["system"])  # user is stripped
            assert text == chat_prompt("helix-v2-probe", case["user"])
        assert text == case["text"], case["name"]
        assert tok.encode(text) == case["ids"], case["name"]


def test_card_prompt_is_the_chat_template(cases: dict) -> None:
    card = load_card("helix-v2-1b")
    assert card.prompt.template == prompt_template("helix-v2")
    case = next(c for c in cases["cases"] if c["name"] == "chat_default_system_generation_prompt")
    assert card.prompt.template.format(question=case["messages"][0]["content"]) == case["text"]
    assert prompt_template("plain-qa-de").format(question="Wie alt?") == "Frage: Wie alt?\nAntwort:"


def test_stop_id_no_bos_and_provenance(tok: Tokenizer, cases: dict, shared: Path) -> None:
    facts = cases["tokenizer"]
    assert tok.eos_id == facts["stop_id_last_of_encode_end"] == tok.encode("<|end|>")[-1]
    assert tok.encode("<|end|>") == facts["encode_end_tag"]
    assert tok.size == facts["piece_size"] == load_card("helix-v2-1b").config["vocab_size"]
    assert tok.encode("Hallo Welt!")[0] != facts["bos_id"]
    assert {piece: tok.token_id(piece) for piece in facts["special_tag_ids"]} == facts["special_tag_ids"]
    card = load_card("helix-v2-1b")
    assert (card.prompt.think_open or "").strip() == "<think>" and card.prompt.think_close == "</think>"
    digest = hashlib.sha256((shared / TOKENIZER).read_bytes()).hexdigest()
    assert digest[:16] == facts["sha16"] and tok.fingerprint == digest


def test_prompt_continuation_split(tok: Tokenizer, cases: dict) -> None:
    split = cases["split_continuation"]
    prompt = tok.encode(split["prompt"])
    full = tok.encode(split["prompt"] + split["continuation"])
    common = next((i for i, (a, b) in enumerate(zip(prompt, full)) if a != b), min(len(prompt), len(full)))
    assert prompt == split["prompt_ids"]
    assert full[common:] == split["continuation_ids"]
