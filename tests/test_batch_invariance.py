"""Batch invariance (issue 23): with `deterministic` a request's log-likelihood bits do not depend on the batch
size, its batch companions or their order — on every tiny card, in ll and cot mode (`engine.invariance`).

Every test here fails on the batched path (the same tests with `deterministic=False`), measured once on this
project's 2-core CPU machine (torch 2.13.0, MKL, 1 thread):
- engine scoring, batch k ∈ {3, 8, 16} with shuffled random companions vs each request alone: fails on every card
  (a probe of the same request shapes: max |Δ| per token 4.8e-7 on mamba-tiny and helix-tiny, 9.5e-7 on
  titan-tiny, 1.4e-6 on h64lm-tiny); engine generation, batch 3 vs alone: fails on every card (same tokens, the
  log-probs differ in the last bits);
- in-process `titan-eval run arc_easy --limit 60 --mode ll,cot --think-budget 4` at --batch-size 3, 8 and 16 vs
  1: samples.jsonl differs on every card at every batch size; max |Δ| of a choice's summed log-prob (ll / cot):
  titan-tiny 2.9e-6 / 2.9e-6, mamba-tiny 9.5e-7 / 9.5e-7, helix-tiny 2.4e-6 / 1.9e-6, h64lm-tiny 1.1e-5 / 7.4e-6.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

import titan_eval
from titan_eval.engine import GenerationConfig, ScoreRequest, generate, score
from titan_eval.loading import load
from titan_eval.runner import RunOptions, run
from titan_eval.tokenizers import ByteTokenizer

CARDS = ("titan-tiny", "mamba-tiny", "helix-tiny", "h64lm-tiny")
BATCH_SIZES = (1, 3, 8, 16)
DOCS = 60
THINK_BUDGET = 4
TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")


def _random_requests(rng: random.Random, n_contexts: int) -> list[ScoreRequest]:
    """ARC-like shapes: contexts of 5-120 byte tokens, 1-4 continuations of 1-40 tokens sharing each context."""
    out = []
    for _ in range(n_contexts):
        ctx = tuple(rng.randrange(256) for _ in range(rng.randint(5, 120)))
        out += [ScoreRequest(ctx, tuple(rng.randrange(256) for _ in range(rng.randint(1, 40))))
                for _ in range(rng.randint(1, 4))]
    return out


@pytest.fixture(scope="module", params=CARDS)
def tiny(request: pytest.FixtureRequest):
    return titan_eval.load_model(request.param)


def test_deterministic_scoring_is_bitwise_independent_of_batch_and_companions(tiny) -> None:
    rng = random.Random(23)
    targets = _random_requests(rng, 6)
    alone = [score(tiny, [r], batch_size=1, deterministic=True)[0] for r in targets]
    want = torch.tensor([lp for res in alone for lp in res.token_logprobs])
    for k in (3, 8, 16):
        mixed = targets + _random_requests(rng, 8)  # other requests share the batches
        order = list(range(len(mixed)))
        rng.shuffle(order)
        got_shuffled = score(tiny, [mixed[i] for i in order], batch_size=k, deterministic=True)
        got = [got_shuffled[order.index(i)] for i in range(len(targets))]
        assert torch.equal(torch.tensor([lp for res in got for lp in res.token_logprobs]), want), f"batch {k}"
        assert [r.is_greedy for r in got] == [r.is_greedy for r in alone]
        assert [r.logprob for r in got] == [r.logprob for r in alone]


def test_deterministic_generation_is_bitwise_independent_of_batch(tiny) -> None:
    prompts = [TOK.encode(t) for t in ("User: 2+2?\nAssistant: <think>\n", "Hi", "The cat sat on the",
                                       "Question: Which gas do plants take in?\nAnswer: <think>\n")]
    cfg = GenerationConfig(max_new_tokens=12, mask_vocab_from=259)
    alone = [generate(tiny, TOK, [p], cfg, batch_size=1, deterministic=True)[0] for p in prompts]
    for k in (3, 8):
        got = generate(tiny, TOK, prompts[::-1], cfg, batch_size=k, deterministic=True)[::-1]
        assert [g.ids for g in got] == [g.ids for g in alone]
        assert [g.token_logprobs for g in got] == [g.token_logprobs for g in alone]


def _samples(loaded, data_dir: Path, out: Path, batch_size: int, modes: tuple[str, ...],
             deterministic: bool = True) -> bytes:
    """samples.jsonl of an in-process `titan-eval run arc_easy --limit 60 --mode ... --think-budget 4`."""
    options = RunOptions(tasks=("arc_easy",), modes=modes, data_dir=str(data_dir), limit=DOCS,
                         batch_size=batch_size, output_dir=str(out), think={"think_budget": THINK_BUDGET},
                         deterministic=deterministic)
    run(loaded, options)
    record = json.loads((out / "run.json").read_text())
    assert record["titan_eval"]["scoring"]["deterministic"] is deterministic
    assert record["titan_eval"]["options"]["deterministic"] is deterministic
    return (out / "samples.jsonl").read_bytes()


def _check_matrix(card: str, shared: Path, tmp_path: Path, modes: tuple[str, ...],
                  batch_sizes: tuple[int, ...]) -> bytes:
    """samples.jsonl of `--deterministic` runs at every batch size, asserted byte-identical; returns it."""
    loaded = load(card)
    runs = {b: _samples(loaded, shared / "data", tmp_path / f"b{b}", b, modes) for b in batch_sizes}
    lines = runs[batch_sizes[0]].decode().splitlines()
    assert len(lines) == DOCS * len(modes)
    assert {json.loads(ln)["mode"] for ln in lines} == set(modes)
    for b in batch_sizes[1:]:
        assert runs[b] == runs[batch_sizes[0]], f"{card}: samples.jsonl at --batch-size {b} differs from " \
                                                f"--batch-size {batch_sizes[0]}"
    return runs[batch_sizes[0]]


def test_run_samples_are_byte_identical_across_batch_sizes(shared: Path, tmp_path: Path) -> None:
    """The quick slice of the matrix below: mamba-tiny, ll and cot, batch sizes 1 and 16; and `--batch-size 1`
    without the flag takes the same path (the same bytes)."""
    deterministic = _check_matrix("mamba-tiny", shared, tmp_path, ("ll", "cot"), (1, 16))
    plain = _samples(load("mamba-tiny"), shared / "data", tmp_path / "plain", 1, ("ll", "cot"), deterministic=False)
    assert plain == deterministic


@pytest.mark.slow
@pytest.mark.parametrize("card", CARDS)
def test_run_samples_are_byte_identical_for_every_card_mode_and_batch_size(card: str, shared: Path,
                                                                          tmp_path: Path) -> None:
    _check_matrix(card, shared, tmp_path, ("ll", "cot"), BATCH_SIZES)


def test_lm_eval_model_args_take_deterministic() -> None:
    from titan_eval.adapter import TitanEvalLM

    lm = TitanEvalLM.create_from_arg_string("card=mamba-tiny,deterministic=true", {"batch_size": 16})
    assert lm.deterministic is True and lm.get_model_info()["deterministic"] is True
    assert TitanEvalLM.create_from_arg_string("card=mamba-tiny").deterministic is False
