"""Routing / activation recorders and the blackboard ablation, on the Titan reference vectors."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from scipy.stats import entropy as scipy_entropy

import titan_eval
from titan_eval.errors import ModelError, UsageError
from titan_eval.models.mamba import MambaLM
from titan_eval.models.titan import TitanLM
from titan_eval.telemetry.ablation import blackboard_ablation, blackboard_kl, zeroed_parameters
from titan_eval.telemetry.activations import ActivationRecorder
from titan_eval.telemetry.routing import RouteRecorder, Span, pair_frequencies
from conftest import load_vector


@pytest.fixture(scope="module")
def vec(shared: Path) -> dict[str, Any]:
    return load_vector(shared, "titan_tiny.pt")


@pytest.fixture(scope="module")
def model(vec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> TitanLM:
    path = tmp_path_factory.mktemp("titan") / "ckpt.pt"
    torch.save(vec["checkpoint"], path)
    return titan_eval.load_model({"arch": "titan", "config": vec["config"]["constructor"]}, checkpoint=path)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_route_weights_pairs_and_entropies_match_the_reference(model: TitanLM, vec: dict[str, Any]) -> None:
    ids = vec["inputs"]["batch"]
    with torch.no_grad(), RouteRecorder(model) as rec:
        model(ids)
    ref_w = vec["intermediates"]["batch"]["route_weights"]
    assert (rec.calls[0].weights - ref_w).abs().max().item() <= 1e-5
    summary, telemetry = rec.summary(), vec["telemetry"]["batch"]
    assert summary.layer == "domain_router" and summary.n_positions == 74
    assert max(abs(a - b) for a, b in zip(summary.mean_weight, telemetry["arm_weights"])) <= 5e-5 + 1e-6
    assert abs(summary.entropy_of_mean - telemetry["entropy"]) <= 1e-5
    per_token = [scipy_entropy(row) for row in ref_w.reshape(-1, 8).double().numpy()]
    assert abs(summary.mean_token_entropy - sum(per_token) / len(per_token)) <= 1e-5
    assert 0 <= summary.mean_token_entropy <= math.log(2) + 1e-9 < summary.entropy_of_mean <= math.log(8)
    counts = Counter(map(tuple, vec["telemetry_tensors"]["batch"]["last_pairs"].tolist()))
    expected = {f"{i}-{j}": n / 74 for (i, j), n in counts.items()}
    assert summary.top2_pairs == pytest.approx(expected)
    assert list(summary.top2_pairs.values()) == sorted(expected.values(), reverse=True)
    assert summary.to_dict()["mean_weight"] == list(summary.mean_weight)


def test_spans_select_real_positions_per_row(model: TitanLM, vec: dict[str, Any]) -> None:
    exp = vec["extra"]["padding_experiment"]
    ids, lengths = exp["inputs_right_padded"], torch.tensor([25, 37])
    with torch.no_grad(), RouteRecorder(model) as rec:
        model(ids, lengths)  # call 0: everything real
        rec.span = Span(start=-1, label="last")
        model(ids, lengths)  # call 1: each row's last real position
        rec.span = Span(start=[0, 30], stop=[2, 100], label="rows")
        model(ids, lengths)  # call 2: per-row bounds, clipped to the row
    trace = rec.trace()
    assert trace.span == "mixed" and (trace.call == 0).sum() == 25 + 37
    last = trace.call == 1
    assert trace.row[last].tolist() == [0, 1] and trace.position[last].tolist() == [24, 36]
    full = rec.calls[0].weights
    assert torch.equal(trace.weights[last], full[[0, 1], [24, 36]])
    rows = trace.call == 2
    assert trace.position[rows].tolist() == [0, 1, 30, 31, 32, 33, 34, 35, 36]
    assert rec.layers == ["domain_router"]


def test_recorders_leave_no_trace_and_change_nothing(model: TitanLM, vec: dict[str, Any]) -> None:
    ids = vec["inputs"]["batch"]
    with torch.no_grad():
        plain = model(ids)
        with RouteRecorder(model) as rec, ActivationRecorder(model):
            recorded = model(ids)
        with pytest.raises(RuntimeError, match="boom"):
            with RouteRecorder(model):
                raise RuntimeError("boom")
    assert torch.equal(plain, recorded)
    hooked = [m for m in model.modules() if m._forward_hooks or m._forward_pre_hooks]
    assert hooked == []
    with RouteRecorder(model) as open_rec:
        with pytest.raises(UsageError):
            open_rec.trace()
    assert len(rec.calls) == 1
    with pytest.raises(ModelError):
        RouteRecorder(MambaLM.from_config({"d_model": 16, "n_layer": 1, "vocab_size": 8})).__enter__()


def test_pair_frequencies_count_unordered_pairs() -> None:
    chosen = torch.tensor([[3, 1], [1, 3], [0, 2], [5, 4]])
    assert pair_frequencies(chosen) == {(1, 3): 0.5, (0, 2): 0.25, (4, 5): 0.25}


def test_activation_recorder_arm_means_and_norms(model: TitanLM, vec: dict[str, Any]) -> None:
    ids = vec["inputs"]["batch"]
    with torch.no_grad(), ActivationRecorder(model, names=("arm_*", "cp_injection")) as rec:
        model(ids)
    means = rec.mean_vectors()
    snapshot_ref = vec["telemetry_tensors"]["batch"]["arm_snapshot"]  # [d, 8]: per-arm mean output
    for k in range(8):
        assert (means[f"arm_{k}"] - snapshot_ref[:, k]).abs().max().item() <= 1e-5
        norms = vec["intermediates"]["batch"]["arm_out"][k].norm(dim=-1).mean().item()
        assert abs(rec.mean_norms()[f"arm_{k}"] - norms) <= 1e-4
    assert set(rec.names()) == {f"arm_{k}" for k in range(8)} | {"cp_injection"}
    assert rec.norms("cp_injection").shape == (2,)  # one injection vector per row
    with torch.no_grad(), ActivationRecorder(model, names=("layer_*",), span=Span(start=-1)) as last:
        model(ids, torch.tensor([20, 37]))
    assert last.norms("layer_0").shape == (2,) and len(last.names()) == model.cfg.n_layers


def test_blackboard_ablation_restores_bits_even_when_the_body_raises(model: TitanLM, vec: dict[str, Any]) -> None:
    before = snapshot(model)
    with blackboard_ablation(model):
        assert not model.bb_read.weight.any()
    with pytest.raises(ValueError):
        with blackboard_ablation(model):
            model.bb_read.weight.data.add_(1.0)  # even a modified ablated weight comes back
            raise ValueError("body failed")
    after = model.state_dict()
    assert all(torch.equal(after[k].view(-1).view(torch.uint8), v.view(-1).view(torch.uint8)) for k, v in before.items())
    with pytest.raises(ModelError):
        with zeroed_parameters(model, ["no_such.weight"]):
            pass


def test_blackboard_kl_is_positive_and_zero_when_the_read_out_is_already_zero(model: TitanLM, vec: dict[str, Any]) -> None:
    ids, lengths = vec["extra"]["padding_experiment"]["inputs_right_padded"], torch.tensor([25, 37])
    kl = blackboard_kl(model, ids, lengths)
    assert kl.shape == (2,) and bool((kl > 0).all())
    with zeroed_parameters(model, ["bb_read.weight"]):
        assert torch.equal(blackboard_kl(model, ids, lengths), torch.zeros(2, dtype=torch.float64))
