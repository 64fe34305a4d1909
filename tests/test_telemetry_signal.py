"""Signal growth against a manual forward, and the blackboard KL of a probe."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from titan_eval.engine.batching import pad_right
from titan_eval.loading import load
from titan_eval.models.base import padding_mask
from titan_eval.telemetry.probe import ProbeOptions, ProbePrompt, run_probe
from titan_eval.telemetry.routing import Span
from titan_eval.telemetry.signal import StreamRecorder

ROWS = [[72, 101, 108, 108, 111, 44, 32, 119], [84, 105, 116, 97, 110]]


def stats(norms: list[Tensor]) -> list[tuple[float, float]]:
    return [(float(n.double().mean()), float(n.max())) for n in norms]


def recorded(model: torch.nn.Module, span: Span) -> tuple[StreamRecorder, Tensor, Tensor]:
    ids, lengths = pad_right(ROWS, torch.device("cpu"))
    with torch.no_grad(), StreamRecorder(model, span=span) as rec:
        model(ids, lengths)
    return rec, ids, lengths


def check(rec: StreamRecorder, expected: list[tuple[float, float]], n: int) -> None:
    growth = rec.growth()
    assert len(growth) == len(expected)
    for g, (mean, top) in zip(growth, expected):
        assert g["n"] == n
        assert g["mean"] == pytest.approx(mean, rel=1e-6) and g["max"] == pytest.approx(top, rel=1e-6)


@torch.no_grad()
def test_mamba_growth_equals_a_manual_forward_over_real_positions_only() -> None:
    model = load("mamba-tiny").model
    rec, ids, lengths = recorded(model, Span(label="all"))
    mask = padding_mask(lengths, ids.shape[1])
    x = model.backbone.embedding(ids).float()
    norms = [x.norm(dim=-1)[mask]]
    for layer in model.backbone.layers:
        x = x + layer.mixer(layer.norm(x), lengths, mask)[0].float()
        norms.append(x.norm(dim=-1)[mask])
    check(rec, stats(norms), n=len(ROWS[0]) + len(ROWS[1]))
    assert [g["point"] for g in rec.growth()] == ["embedding", "layer_0", "layer_1"]
    assert rec.injections() == {}


@torch.no_grad()
def test_titan_growth_and_injection_equal_a_manual_forward_on_a_span() -> None:
    model = load("titan-tiny").model
    span = Span(start=[1, 0], stop=[4, 2], label="prompt")  # positions 1..3 of row 0, 0..1 of row 1
    rec, ids, lengths = recorded(model, span)
    full = padding_mask(lengths, ids.shape[1])
    sel = span.mask(lengths, ids.shape[1])
    e = model.embedding(ids)
    x = e + 0.1 * model.thalamic_primer(e, lengths, full)
    slots = model.cp(x, lengths)
    g = model.cp_gate * torch.tanh(slots.mean(dim=1, keepdim=True))
    norms = [e.norm(dim=-1)[sel]]
    for j, layer in enumerate(model.layers):
        if j == model.cfg.mid:
            mid = x
            inj = model.moe_scale * model._arms(x, lengths, full)
            x = x + inj
        x = layer(x, lengths, full)
        norms.append(x.norm(dim=-1)[sel])
        if (j + 1) % 6 == 0:
            x = x + g
    check(rec, stats(norms), n=5)
    moe = rec.injections()["moe_injection"]
    assert moe["norm_mean"] == pytest.approx(float(inj.norm(dim=-1)[sel].double().mean()), rel=1e-6)
    assert moe["backbone_norm_mean"] == pytest.approx(float(mid.norm(dim=-1)[sel].double().mean()), rel=1e-6)
    cp = rec.injections()["cp_injection"]  # g [B, 1, d] counts once per row with a span position
    assert cp["norm_mean"] == pytest.approx(float(g.norm(dim=-1).double().mean()), rel=1e-6)


@torch.no_grad()
def test_h64lm_growth_has_the_embedding_and_every_layer() -> None:
    model = load("h64lm-tiny").model
    rec, ids, lengths = recorded(model, Span())
    growth = rec.growth()
    assert [g["point"] for g in growth] == ["embedding"] + [f"layer_{i}" for i in range(model.cfg.num_layers)]
    mask = padding_mask(lengths, ids.shape[1])
    emb = model.model.embed_tokens(ids).norm(dim=-1)[mask]
    assert growth[0]["mean"] == pytest.approx(float(emb.double().mean()), rel=1e-6)


PROMPTS = [ProbePrompt("a", "math", "What is 2+2?"), ProbePrompt("b", "math", "Solve for x: 2x = 10"),
           ProbePrompt("c", "geo", "What is the capital of France?")]


@pytest.mark.parametrize("positions", ["last", "all"])
def test_blackboard_kl_is_zero_when_the_read_weights_are_already_zero(positions: str) -> None:
    loaded = load("titan-tiny")
    opts = ProbeOptions(span="prompt", positions=positions)
    before = run_probe(loaded, PROMPTS, opts, "test").numbers["blackboard_kl"]
    assert before["all"]["mean"] > 0  # the random blackboard does change the next-token distribution
    with torch.no_grad():
        loaded.model.bb_read.weight.zero_()
    saved = loaded.model.bb_read.weight.clone()
    numbers = run_probe(loaded, PROMPTS, opts, "test").numbers
    kl = numbers["blackboard_kl"]
    tokens = {c: sum(p["prompt_tokens"] for p in numbers["prompts"] if p["category"] == c) for c in ("math", "geo")}
    n = {"math": 2, "geo": 1} if positions == "last" else tokens
    assert {c: kl["per_category"][c]["n"] for c in n} == n and kl["all"]["n"] == sum(n.values())
    assert kl["all"]["max"] == 0.0
    assert torch.equal(loaded.model.bb_read.weight, saved)
