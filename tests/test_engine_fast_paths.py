"""The engine's fast paths change no result: the hidden()/head() split equals forward for every architecture,
Titan's cached decoding (every block before the first CP injection advanced from its state) equals the full
recompute, Titan's prefix-cache scoring equals scoring whole rows, and the stop-string tail window never misses a
string the full text contains."""

import random

import pytest
import torch

import titan_eval
from titan_eval.engine import GenerationConfig, generate
from titan_eval.engine.scoring import ScoreRequest, TokenCounter, score
from titan_eval.engine.batching import log_softmax_, logits_at, pick_targets
from titan_eval.engine.generation import _StopStrings
from titan_eval.models.titan import TitanLM
from titan_eval.tokenizers import ByteTokenizer

TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")
PROMPTS = [TOK.encode(t) for t in ("User: 2+2?\nAssistant: <think>\n", "Hi", "The cat sat on the mat and")]


@pytest.mark.parametrize("card", ["mamba-tiny", "titan-tiny", "helix-tiny", "h64lm-tiny"])
def test_head_split_equals_forward(card: str) -> None:
    model = titan_eval.load_model(card)
    assert model.has_hidden
    ids = torch.randint(0, 256, (3, 17))
    lengths = torch.tensor([17, 9, 4])
    with torch.no_grad():
        full = model(ids, lengths)
        hidden, _ = model.hidden(ids, lengths)
        rows, cols = torch.tensor([0, 0, 1, 2]), torch.tensor([3, 16, 8, 3])
        picked, _ = logits_at(model, ids, lengths, rows, cols)
    assert torch.allclose(model.head(hidden), full, atol=1e-5)
    assert torch.allclose(picked, full[rows, cols], atol=1e-5)


@pytest.mark.parametrize("card", ["mamba-tiny", "titan-tiny", "helix-tiny", "h64lm-tiny"])
def test_head_into_a_reused_block_is_bitwise_the_head(card: str) -> None:
    from titan_eval.engine.batching import HEAD_POSITIONS, HeadBuffer

    model = titan_eval.load_model(card)
    buffer = HeadBuffer()
    with torch.no_grad():
        width = model.hidden(torch.zeros(1, 1, dtype=torch.long))[0].shape[-1]
        for n in (7, HEAD_POSITIONS, 3):  # the first call makes the block, later ones write into it
            hidden = torch.randn(n, width)
            expected = model.head(hidden)
            got = buffer.logits(model, hidden)
            assert torch.equal(got, expected)
    assert buffer.block is not None and buffer.block.shape[0] == HEAD_POSITIONS
    assert got.data_ptr() == buffer.block.data_ptr()  # written into the reused block, not a new tensor


TITAN_LAYOUTS = [
    {"vocab_size": 320, "d_model": 64, "n_layers": 6, "mimo_paths": 8},   # titan-tiny: arms inside the cached prefix
    {"vocab_size": 320, "d_model": 32, "n_layers": 12, "mimo_paths": 8},  # CP after layer 5 = mid - 1: arms recomputed
    {"vocab_size": 320, "d_model": 32, "n_layers": 4, "mimo_paths": 8},   # no CP injection: everything cached
]


@pytest.mark.parametrize("config", TITAN_LAYOUTS)
def test_titan_cached_decoding_equals_full_recompute(config: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    model = TitanLM.from_config(config)
    calls = {"n": 0}
    original = model.continue_decode

    def counting(ids, cache):
        calls["n"] += 1
        return original(ids, cache)

    monkeypatch.setattr(model, "continue_decode", counting)
    cfg = GenerationConfig(max_new_tokens=20, mask_vocab_from=259)
    cached = generate(model, TOK, PROMPTS, cfg, use_state=True, batch_size=2)
    full = generate(model, TOK, PROMPTS, cfg, use_state=False, batch_size=2)
    assert calls["n"] > 0  # the cached path ran
    for a, b in zip(cached, full):
        assert a.ids == b.ids and a.text == b.text
        assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-5


def _shared_context_requests(seed: int) -> list[ScoreRequest]:
    """Documents of 1-4 choices sharing a context of 1-20 tokens; continuations of 1-9 tokens (single-token ones
    feed no extension tokens), in shuffled order."""
    rng = random.Random(seed)
    reqs = []
    for _ in range(9):
        ctx = tuple(rng.randrange(1, 300) for _ in range(rng.randint(1, 20)))
        reqs += [ScoreRequest(ctx, tuple(rng.randrange(1, 300) for _ in range(rng.choice([1, 1, 2, 5, 9]))))
                 for _ in range(rng.randint(1, 4))]
    rng.shuffle(reqs)
    return reqs


@pytest.mark.parametrize("config", TITAN_LAYOUTS)
def test_titan_prefix_cache_scoring_equals_whole_rows(config: dict) -> None:
    model = TitanLM.from_config(config)
    reqs = _shared_context_requests(len(config) + config["n_layers"])
    cached_count, full_count = TokenCounter(), TokenCounter()
    cached = score(model, reqs, batch_size=3, counter=cached_count)
    full = score(model, reqs, batch_size=3, reuse_prefix=False, counter=full_count)
    assert cached_count.tokens < full_count.tokens  # the cached path ran: each context fed once
    for a, b in zip(cached, full):
        assert a.n_tokens == b.n_tokens and a.is_greedy == b.is_greedy
        assert max(abs(x - y) for x, y in zip(a.token_logprobs, b.token_logprobs)) < 1e-5


def test_titan_prefix_cache_extension_of_zero_tokens_keeps_the_cache() -> None:
    model = TitanLM.from_config(TITAN_LAYOUTS[0])
    ids = torch.tensor([PROMPTS[0][:12], PROMPTS[2][:12]])
    cache = model.prefix_cache(ids, torch.tensor([12, 7]))
    with torch.no_grad():
        extended = model.hidden_extended(cache, torch.tensor([[5, 6, 7], [0, 0, 0]]), torch.tensor([3, 0]))
        whole = model.hidden(torch.tensor([PROMPTS[0][:12] + [5, 6, 7], PROMPTS[2][:7] + [0] * 8]),
                             torch.tensor([15, 7]))[0]
    assert extended.shape == (2, 15, TITAN_LAYOUTS[0]["d_model"])
    assert torch.allclose(extended[0], whole[0], atol=1e-5)
    assert torch.allclose(extended[1, :7], whole[1, :7], atol=1e-5)


def test_titan_scoring_runs_whole_rows_while_telemetry_hooks_are_attached(monkeypatch: pytest.MonkeyPatch) -> None:
    model = titan_eval.load_model("titan-tiny")
    monkeypatch.setattr(model, "prefix_cache", lambda *a, **k: pytest.fail("prefix cache used under telemetry"))
    handle = model.taps["final"].register_forward_hook(lambda *args: None)
    try:
        assert len(score(model, _shared_context_requests(1), batch_size=4)) > 0
    finally:
        handle.remove()


def test_titan_cached_decoding_steps_back_while_telemetry_hooks_are_attached() -> None:
    model = titan_eval.load_model("titan-tiny")
    handle = model.taps["final"].register_forward_hook(lambda *args: None)
    try:
        assert model.begin_decode(torch.tensor([PROMPTS[1]])) is None
    finally:
        handle.remove()
    ids = torch.tensor([PROMPTS[1]])
    with torch.no_grad():
        logits, cache = model.begin_decode(ids)  # hooks gone: the cached path is back, and exact
        full = model(ids)
    assert cache.lengths.tolist() == [len(PROMPTS[1])]
    assert torch.allclose(logits, full[:, -1], atol=1e-5)


def test_stop_string_window_never_misses(shared) -> None:
    from titan_eval.tokenizers import TokenizerSpec, build_tokenizer

    tok = build_tokenizer(TokenizerSpec("hf", str(shared / "tokenizers" / "gpt-neox-20b" / "tokenizer.json"),
                                        eos="<|endoftext|>"))
    rng = random.Random(0)
    text = "Question: what is 2+2?\n\nAnswer: four. Café naïve – done.\nQuestion: next"
    base = tok.encode(text)
    for strings in (("\n\n",), ("Answer:",), (" four.",), ("é n", "– d"), ("Question: next",)):
        stops = _StopStrings(strings)
        for _ in range(5):
            ids = [rng.randrange(0, 50000) for _ in range(rng.randrange(0, 30))] + base
            for end in range(1, len(ids) + 1):
                if any(s in tok.decode(ids[:end]) for s in strings):
                    assert stops.hint(tok, ids[:end]), (strings, end)
                    break


def test_in_place_log_softmax_is_bitwise_log_softmax() -> None:
    logits = torch.randn(7, 1000) * 5
    expected = logits.log_softmax(-1)
    out = log_softmax_(logits.clone())
    assert torch.equal(out, expected)


def test_pick_targets_matches_argmax_including_ties_and_nan() -> None:
    lp = torch.randn(6, 50).log_softmax(-1)
    lp[1, 3] = lp[1, 9] = lp[1].max() + 1.0  # a tie: argmax is the first index (3), as lm-eval's argmax says
    lp[4] = float("nan")
    rows = torch.tensor([0, 0, 1, 1, 2, 3, 4, 5, 5])
    targets = torch.cat([lp.argmax(-1)[rows[:2]][:1], torch.tensor([7, 3, 9, 1]), lp.argmax(-1)[[3]],
                         torch.tensor([2]), lp.argmax(-1)[[5]], torch.tensor([0])])
    picked, greedy = pick_targets(lp, rows, targets)
    assert torch.equal(picked[~picked.isnan()], lp[rows, targets][~picked.isnan()])
    reference = (lp.argmax(-1)[rows] == targets) & ~lp[rows, targets].isnan()
    assert greedy.tolist() == reference.tolist()
    assert greedy[2].item() and not greedy[3].item()  # the tie goes to the first index only
    assert picked[6].isnan() and not greedy[6].item()
