"""Routing anatomy, arm collapse and termination-vault statistics against hand computations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from titan_eval.errors import UsageError
from titan_eval.loading import load
from titan_eval.telemetry import anatomy, vault
from titan_eval.telemetry.activations import ActivationRecord
from titan_eval.telemetry.routing import RouteRecorder, Span
from titan_eval.models.taps import RouteTap


class FixedRouter(nn.Module):
    """A 'model' whose RouteTap emits the given route weights [B, L, E] and top-2 choices, whatever the ids."""

    def __init__(self, weights: Tensor) -> None:
        super().__init__()
        self.weights = weights
        self.tap = RouteTap("router")

    def forward(self, ids: Tensor, lengths: Tensor | None = None) -> Tensor:
        return self.tap(self.weights, self.weights.topk(2, dim=-1).indices)


def h(p: list[float]) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


def test_entropies_weights_and_pairs_of_a_known_route_distribution() -> None:
    w = torch.tensor([[[0.5, 0.5, 0.0, 0.0], [0.75, 0.0, 0.25, 0.0], [0.0, 0.0, 0.9, 0.1]]])
    with RouteRecorder(FixedRouter(w), span=Span(start=0, stop=2, label="prompt")) as rec_a:
        rec_a.model(torch.zeros(1, 3, dtype=torch.long))
    with RouteRecorder(FixedRouter(w)) as rec_b:
        rec_b.model(torch.zeros(1, 3, dtype=torch.long))
    table = anatomy.category_anatomy({"a": rec_a, "b": rec_b})
    a, b = table["a"]["router"], table["b"]["router"]
    assert a["n_positions"] == 2 and a["span"] == "prompt" and b["n_positions"] == 3
    assert a["mean_weight"] == pytest.approx([0.625, 0.25, 0.125, 0.0])
    assert a["mean_token_entropy"] == pytest.approx((h([0.5, 0.5]) + h([0.75, 0.25])) / 2, abs=1e-12)
    assert a["entropy_of_mean"] == pytest.approx(h([0.625, 0.25, 0.125]), abs=1e-7)
    assert b["entropy_of_mean"] == pytest.approx(h([1.25 / 3, 0.5 / 3, 1.15 / 3, 0.1 / 3]), abs=1e-7)
    assert a["top2_pairs"] == pytest.approx({"0-1": 0.5, "0-2": 0.5})
    # pooled over categories, weighted by positions: 0-1 twice, 0-2 twice, 2-3 once out of 5
    assert anatomy.pooled_pairs(table, "router") == pytest.approx({"0-1": 0.4, "0-2": 0.4, "2-3": 0.2})
    cats, weights = anatomy.weight_table(table, "router")
    assert cats == ["a", "b"] and weights.shape == (2, 4)
    assert weights[1].tolist() == pytest.approx([1.25 / 3, 0.5 / 3, 1.15 / 3, 0.1 / 3])


def _record(k: int, vectors: Tensor) -> ActivationRecord:
    """An arm_k record holding the rows of `vectors` [n, d] as its recorded positions."""
    n = vectors.shape[0]
    return ActivationRecord(f"arm_{k}", 0, "prompt", vectors.norm(dim=-1)[None], torch.ones(1, n, dtype=torch.bool),
                            vectors.sum(0), n)


def test_arm_cosine_matrix_of_constructed_arm_outputs() -> None:
    # arm 0 points along x, arm 1 along y, arm 2 along x+y, arm 3 along −x (as means over two positions each)
    arms = [torch.tensor([[2.0, 1.0], [0.0, -1.0]]), torch.tensor([[0.0, 3.0], [0.0, 1.0]]),
            torch.tensor([[1.0, 1.0], [1.0, 1.0]]), torch.tensor([[-5.0, 0.0], [-1.0, 0.0]])]
    records = [_record(k, v) for k, v in enumerate(arms)] + [_record(0, torch.tensor([[1.0, 0.0]]))]
    means = anatomy.arm_mean_vectors(records)
    torch.testing.assert_close(means, torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-3.0, 0.0]], dtype=torch.float64))
    cos = anatomy.arm_cosine_matrix(means)
    r = 1 / math.sqrt(2)
    expected = [[1, 0, r, -1], [0, 1, r, 0], [r, r, 1, -r], [-1, 0, -r, 1]]
    torch.testing.assert_close(cos, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)
    off = [0, r, -1, 0, r, 0, r, r, -r, -1, 0, -r]
    metric = anatomy.collapse_metric(cos)
    assert metric["mean_off_diagonal"] == pytest.approx(sum(off) / 12)
    assert metric["max_off_diagonal"] == pytest.approx(r)
    with pytest.raises(UsageError):
        anatomy.arm_mean_vectors([_record(1, arms[1])])  # arm 0 missing


def test_vault_percentile_of_a_planted_small_norm_row() -> None:
    loaded = load("titan-tiny")
    model, tok = loaded.model, loaded.tokenizer
    close = tok.special_ids["</think>"]
    with torch.no_grad():
        model.lm_head.weight[close] = 1e-3 * model.lm_head.weight[close] / model.lm_head.weight[close].norm()
    tokens = vault.stop_tokens(tok, "</think>")
    assert tokens == {"</think>": close, "<|endoftext|>": tok.eos_id}
    out = vault.termination_vault(model, tokens, used_rows=259)
    entry = out["tokens"]["</think>"]
    assert entry["norm"] == pytest.approx(1e-3)
    assert entry["percentile"] == 0.0 and entry["rank"] == 1 and entry["percentile_used"] == 0.0
    norms = model.lm_head.weight.double().norm(dim=-1)
    eos = out["tokens"]["<|endoftext|>"]
    below = int((norms < norms[tok.eos_id]).sum())
    assert eos["rank"] == below + 1 and eos["percentile"] == pytest.approx(100 * below / (model.vocab_size - 1))
    assert out["n_rows"] == model.vocab_size and out["norm_quantiles"]["min"] == pytest.approx(1e-3)


def test_row_percentile_on_rows_of_known_norms_and_a_tied_head() -> None:
    norms = torch.tensor([3.0, 1.0, 2.0, 2.0, 5.0], dtype=torch.float64)
    assert vault.row_percentile(norms, 4) == {"norm": 5.0, "percentile": 100.0, "rank": 5}
    assert vault.row_percentile(norms, 1)["percentile"] == 0.0
    assert vault.row_percentile(norms, 2) == {"norm": 2.0, "percentile": 100 * 1.5 / 4, "rank": 2}  # one tie
    mamba = load("mamba-tiny").model  # tied head: the embedding is the head
    weight, embedding = vault.head_weight(mamba), mamba.backbone.embedding.weight
    assert weight.shape == embedding.shape and weight.shape[0] == mamba.vocab_size
    assert weight.data_ptr() == embedding.data_ptr() and torch.equal(weight, embedding)  # the same rows, not a copy
