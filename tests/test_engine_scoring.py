"""Scoring engine: prefix reuse is exact and saves work; batch size never changes a result."""

import pytest
import torch

import titan_eval
from titan_eval.engine import ScoreRequest, TokenCounter, score
from titan_eval.errors import UsageError
from titan_eval.tokenizers import ByteTokenizer

TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")


def _requests() -> list[ScoreRequest]:
    docs = [("Question: Which gas do plants take in?\nAnswer:", [" carbon dioxide", " oxygen", " helium", " x"]),
            ("A man walks into a bar. He", [" orders a drink.", " sits down.", " leaves"]),
            ("Q:", [" a", " bb"])]
    return [ScoreRequest(tuple(TOK.encode(c)), tuple(TOK.encode(x))) for c, xs in docs for x in xs]


@pytest.fixture(scope="module")
def model():
    return titan_eval.load_model("mamba-tiny")


def test_prefix_reuse_equals_full_rows_and_runs_each_context_once(model) -> None:
    reqs = _requests()
    reuse, full = TokenCounter(), TokenCounter()
    a = score(model, reqs, batch_size=4, reuse_prefix=True, counter=reuse)
    b = score(model, reqs, batch_size=4, reuse_prefix=False, counter=full)
    for x, y in zip(a, b):
        assert abs(x.logprob - y.logprob) < 1e-5
        assert x.is_greedy == y.is_greedy and x.n_tokens == y.n_tokens
    contexts = {r.context for r in reqs}
    context_tokens = sum(len(c) for c in contexts)
    continuation_tails = sum(len(r.continuation) - 1 for r in reqs)
    assert reuse.tokens == context_tokens + continuation_tails  # every context ran exactly once
    assert full.tokens == sum(len(r.context) + len(r.continuation) - 1 for r in reqs)
    assert reuse.tokens < full.tokens


def test_results_do_not_depend_on_batch_size_or_order(model) -> None:
    reqs = _requests()
    base = score(model, reqs, batch_size=8)
    for bs in (1, 3):
        other = score(model, reqs, batch_size=bs)
        assert all(abs(x.logprob - y.logprob) < 1e-5 for x, y in zip(base, other))
    shuffled = list(reversed(reqs))
    back = list(reversed(score(model, shuffled, batch_size=2)))
    assert all(abs(x.logprob - y.logprob) < 1e-5 for x, y in zip(base, back))


def test_sum_equals_hand_computed_logprob(model) -> None:
    req = ScoreRequest(tuple(TOK.encode("Hello")), tuple(TOK.encode(" wo")))
    (res,) = score(model, [req])
    ids = torch.tensor([req.context + req.continuation])
    with torch.no_grad():
        lp = model(ids)[0].float().log_softmax(-1)
    expected = sum(float(lp[len(req.context) - 1 + i, t]) for i, t in enumerate(req.continuation))
    assert abs(res.logprob - expected) < 1e-5
    assert res.n_tokens == 3


def test_empty_request_is_refused(model) -> None:
    with pytest.raises(UsageError):
        score(model, [ScoreRequest((), (1,))])
