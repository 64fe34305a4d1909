"""Generation engine: recurrent decoding equals full recompute; seeded sampling ignores batch composition;
the repetition penalty is sign-aware; stop ids/strings and minimum length behave."""

import pytest
import torch

import titan_eval
from titan_eval.engine import GenerationConfig, generate
from titan_eval.engine.logits_processing import repetition_penalty
from titan_eval.tokenizers import ByteTokenizer

TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")
PROMPTS = [TOK.encode(t) for t in ("User: 2+2?\nAssistant: <think>\n", "Hi", "The cat sat on the")]


@pytest.fixture(scope="module")
def model():
    return titan_eval.load_model("mamba-tiny")


def test_recurrent_decoding_equals_full_recompute(model) -> None:
    cfg = GenerationConfig(max_new_tokens=24, mask_vocab_from=259)
    fast = generate(model, TOK, PROMPTS, cfg, use_state=True)
    slow = generate(model, TOK, PROMPTS, cfg, use_state=False)
    for a, b in zip(fast, slow):
        assert a.ids == b.ids
        assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-4


def test_sampling_is_seeded_per_prompt_not_per_batch(model) -> None:
    cfg = GenerationConfig(max_new_tokens=16, temperature=0.9, top_p=0.95, top_k=50, mask_vocab_from=259)
    one = generate(model, TOK, PROMPTS, cfg, seeds=[7, 8, 9], batch_size=1)
    many = generate(model, TOK, PROMPTS, cfg, seeds=[7, 8, 9], batch_size=8)
    alone = generate(model, TOK, PROMPTS[1:2], cfg, seeds=[8])
    assert [g.ids for g in one] == [g.ids for g in many]
    assert alone[0].ids == one[1].ids
    other_seed = generate(model, TOK, PROMPTS, cfg, seeds=[1, 2, 3])
    assert [g.ids for g in other_seed] != [g.ids for g in one]


def test_repetition_penalty_is_sign_aware() -> None:
    logits = torch.tensor([[2.0, -2.0, 1.0, -0.5]])
    out = repetition_penalty(logits, [[0, 1, 1]], penalty=1.25, window=20)
    assert out[0, 0] < logits[0, 0] and out[0, 1] < logits[0, 1]  # positive lowered, negative not raised
    assert out[0, 0] == pytest.approx(1.6) and out[0, 1] == pytest.approx(-2.5)
    assert torch.equal(out[0, 2:], logits[0, 2:])  # tokens outside the window history untouched
    windowed = repetition_penalty(logits, [[0, 2, 3]], penalty=2.0, window=1)  # only the last token (3)
    assert torch.equal(windowed[0, :3], logits[0, :3]) and windowed[0, 3] == pytest.approx(-1.0)


def test_stop_id_min_length_and_masking(model) -> None:
    with torch.no_grad():
        first = model(torch.tensor([PROMPTS[1]]))[0, -1, :259].argmax().item()
    stop_now = GenerationConfig(max_new_tokens=10, stop_ids=(first,))
    (g,) = generate(model, TOK, [PROMPTS[1]], stop_now)
    assert g.stop_reason == "stop_id" and g.ids == (first,) and 0 < g.p_stop <= 1
    delayed = GenerationConfig(max_new_tokens=10, stop_ids=(first,), min_new_tokens=5)
    (g2,) = generate(model, TOK, [PROMPTS[1]], delayed)
    assert first not in g2.ids[:5]
    masked = GenerationConfig(max_new_tokens=30, mask_vocab_from=100)
    for gen in generate(model, TOK, PROMPTS, masked):
        assert all(i < 100 for i in gen.ids) and gen.stop_reason == "max_tokens" and len(gen.ids) == 30


def test_stop_string_cuts_text(model) -> None:
    (g,) = generate(model, TOK, [PROMPTS[2]], GenerationConfig(max_new_tokens=40))
    cut_at = g.text[5:8]
    (h,) = generate(model, TOK, [PROMPTS[2]], GenerationConfig(max_new_tokens=40, stop_strings=(cut_at,)))
    assert h.stop_reason == "stop_string" and h.text == g.text[: g.text.find(cut_at)]


@pytest.mark.parametrize("card", ["helix-tiny", "h64lm-tiny"])
def test_recurrent_decoding_equals_recompute_for_hybrids(card: str) -> None:
    loaded = titan_eval.load(card, device="cpu")
    cfg = GenerationConfig(max_new_tokens=20, mask_vocab_from=259)
    prompts = [loaded.tokenizer.encode(t) for t in ("User: hi\nAssistant: <think>\n", "Once upon a time")]
    fast = generate(loaded.model, loaded.tokenizer, prompts, cfg, use_state=True)
    slow = generate(loaded.model, loaded.tokenizer, prompts, cfg, use_state=False)
    for a, b in zip(fast, slow):
        assert a.ids == b.ids
        assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-4


@pytest.mark.parametrize("card", ["mamba-tiny", "titan-tiny", "helix-tiny", "h64lm-tiny"])
def test_k_samples_share_one_prefill_and_equal_independent_requests(card: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """K copies of a prompt in one batch are prefilled once (state copied to the K rows); their sampled tokens equal
    those of K independent one-prompt requests with the same seeds."""
    from titan_eval.engine import generation

    model = titan_eval.load_model(card)
    tok = ByteTokenizer()
    prompts = [tuple(tok.encode("The river bends"))] * 4 + [tuple(tok.encode("A stone"))] * 4
    seeds = list(range(100, 108))
    config = GenerationConfig(max_new_tokens=12, temperature=0.9, top_k=40)
    prefilled: list[int] = []
    pad = generation.pad_right

    def counting(rows, device):  # the prompts each prefill pads into one batch
        prefilled.append(len(rows))
        return pad(rows, device)

    monkeypatch.setattr(generation, "pad_right", counting)
    shared = generate(model, tok, prompts, config, seeds, batch_size=8)
    assert prefilled == [2]  # two distinct prompts, not eight rows
    alone = [generate(model, tok, [p], config, [s], batch_size=1)[0] for p, s in zip(prompts, seeds)]
    assert [g.ids for g in shared] == [g.ids for g in alone]
    assert len({g.ids for g in shared[:4]}) > 1  # the samples differ from each other
