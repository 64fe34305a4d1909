"""Routing telemetry rides the fast paths: `RouteTotals` equals the whole-forward `RouteRecorder` summary, leaves
Titan's prefix cache and cached decoding on, skips padding and generation steps, and `titan-eval run` uses both
fast paths while still writing the routing summary."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

import titan_eval
from cli_helpers import invoke
from titan_eval.engine import GenerationConfig, generate
from titan_eval.engine.scoring import ScoreRequest, score
from titan_eval.models.titan import TitanLM
from titan_eval.telemetry.route_totals import RouteTotals
from titan_eval.telemetry.routing import RouteRecorder, RouteSummary
from titan_eval.tokenizers import ByteTokenizer

TOK = ByteTokenizer(["<|endoftext|>", "<think>", "</think>"], "<|endoftext|>")
ROUTER_IN_CACHE = {"vocab_size": 320, "d_model": 64, "n_layers": 6, "mimo_paths": 8}  # titan-tiny's layout
ROUTER_AFTER_CACHE = {"vocab_size": 320, "d_model": 32, "n_layers": 12, "mimo_paths": 8}  # SFT20's layout


def _requests(seed: int) -> list[ScoreRequest]:
    """Documents of 2-4 choices sharing a context of 3-20 tokens; continuations of 1-6 tokens."""
    rng = random.Random(seed)
    reqs = []
    for _ in range(6):
        ctx = tuple(rng.randrange(1, 256) for _ in range(rng.randint(3, 20)))
        reqs += [ScoreRequest(ctx, tuple(rng.randrange(1, 256) for _ in range(rng.randint(1, 6))))
                 for _ in range(rng.randint(2, 4))]
    rng.shuffle(reqs)
    return reqs


def _assert_same(a: RouteSummary, b: RouteSummary, tol: float = 1e-6) -> None:
    assert a.n_positions == b.n_positions
    assert a.mean_weight == pytest.approx(b.mean_weight, abs=tol)
    assert list(a.top2_pairs) == list(b.top2_pairs)
    assert list(a.top2_pairs.values()) == pytest.approx(list(b.top2_pairs.values()), abs=1e-12)
    assert a.entropy_of_mean == pytest.approx(b.entropy_of_mean, abs=tol)
    assert a.mean_token_entropy == pytest.approx(b.mean_token_entropy, abs=tol)


def _spy(model: TitanLM, name: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    calls = {"n": 0}
    original = getattr(model, name)

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(model, name, counted)
    return calls


def test_totals_equal_the_recorder_on_padded_whole_forwards() -> None:
    model = TitanLM.from_config(ROUTER_IN_CACHE)
    ids = torch.randint(0, 256, (3, 15))
    lengths = torch.tensor([15, 7, 2])
    with torch.no_grad():
        with RouteRecorder(model) as recorder:
            model(ids, lengths)
        with RouteTotals(model) as totals:
            model(ids, lengths)
    assert totals.layers == recorder.layers == ["domain_router"]
    _assert_same(totals.summary("domain_router"), recorder.summary("domain_router"))
    assert totals.summary("domain_router").n_positions == 24  # padding never counts
    assert sum(totals.summary("domain_router").mean_weight) == pytest.approx(1.0, abs=1e-6)


def test_prefix_cache_scoring_with_totals_equals_whole_rows_with_the_recorder(monkeypatch: pytest.MonkeyPatch) -> None:
    """SFT20's layout: the router runs after the cached blocks, on every whole row, so the prefix-cache path
    routes exactly the positions the whole-row path does."""
    model = TitanLM.from_config(ROUTER_AFTER_CACHE)
    requests = _requests(1)
    with RouteRecorder(model) as recorder:
        whole = score(model, requests, batch_size=3, reuse_prefix=True)  # hooks attached: whole rows
    cached_calls = _spy(model, "prefix_cache", monkeypatch)
    with RouteTotals(model) as totals:
        fast = score(model, requests, batch_size=3, reuse_prefix=True)
    assert cached_calls["n"] > 0  # the prefix cache ran with the totals attached
    assert [r.logprob for r in fast] == pytest.approx([r.logprob for r in whole], abs=1e-4)
    _assert_same(totals.summary("domain_router"), recorder.summary("domain_router"), tol=1e-5)


def test_a_router_inside_the_cache_counts_each_shared_context_once(monkeypatch: pytest.MonkeyPatch) -> None:
    model = TitanLM.from_config(ROUTER_IN_CACHE)
    requests = _requests(2)
    cached_calls = _spy(model, "prefix_cache", monkeypatch)
    with RouteTotals(model) as totals:
        score(model, requests, batch_size=4, reuse_prefix=True)
    assert cached_calls["n"] > 0
    contexts = {r.context for r in requests}
    expected = sum(map(len, contexts)) + sum(len(r.continuation) - 1 for r in requests)
    assert totals.summary("domain_router").n_positions == expected


@pytest.mark.parametrize("config", [ROUTER_IN_CACHE, ROUTER_AFTER_CACHE])
def test_cached_decoding_stays_on_and_generation_steps_are_not_counted(config: dict,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    model = TitanLM.from_config(config)
    steps = _spy(model, "continue_decode", monkeypatch)
    prompts = [TOK.encode("User: 2+2?\nAssistant:"), TOK.encode("Hi")]
    with RouteTotals(model) as totals:
        out = generate(model, TOK, prompts, GenerationConfig(max_new_tokens=6, mask_vocab_from=259), batch_size=2)
    assert steps["n"] > 0 and all(len(g.ids) > 0 for g in out)
    assert totals.layers == []


def test_h64lm_prefill_counts_real_positions_only() -> None:
    model = titan_eval.load_model("h64lm-tiny")
    ids = torch.randint(0, 256, (2, 9))
    with torch.no_grad(), RouteTotals(model) as totals:
        model.prefill(ids, torch.tensor([9, 4]))
    assert totals.layers
    assert {totals.summary(layer).n_positions for layer in totals.layers} == {13}


def test_cli_run_uses_the_prefix_cache_and_cached_decoding_and_writes_routing(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"prefix_cache": 0, "continue_decode": 0, "forward": 0}
    for name in calls:
        original = getattr(TitanLM, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(TitanLM, name, counted)
    out = tmp_path / "run"
    proc = invoke("run", "titan_sample", "--model", "titan-tiny", "--mode", "ll,cot", "--limit", "4",
                  "--think-budget", "6", "--output", str(out))
    assert proc.returncode == 0 and proc.exception is None, proc.stderr
    assert calls["prefix_cache"] > 0 and calls["continue_decode"] > 0
    assert calls["forward"] == 0  # no whole-row forward anywhere in scoring or decoding
    run = json.loads((out / "run.json").read_text())
    for key in ("titan_sample", "titan_sample_cot"):
        routing = run["titan_eval"]["tasks"][key]["routing"]
        layer = routing["layers"]["domain_router"]
        assert layer["n_positions"] > 0
        assert sum(layer["mean_weight"]) == pytest.approx(1.0, abs=1e-6)
        assert "generation steps excluded" in routing["span"]
