"""Mamba-Titan (SFT20) against the reference vectors (shared/vectors/titan_tiny.pt), loaded like a real checkpoint."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

import titan_eval
from titan_eval.cards import load_card
from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.mamba import MambaLM
from titan_eval.models.titan import TitanLM
from titan_eval.models.titan_config import TitanConfig, expected_parameter_count
from titan_eval.models.titan_concept import pooling_weights
from titan_eval.models.titan_convert import titan_state_dict_from_mamba
from titan_eval.telemetry.routing import RouteRecorder
from titan_eval.tokenizers import build_tokenizer
from conftest import load_vector

TOL = 1e-4  # vectors README: observed noise ~1e-6, smallest deliberate-mistake signal 1e-2


@pytest.fixture(scope="module")
def vec(shared: Path) -> dict[str, Any]:
    return load_vector(shared, "titan_tiny.pt")


@pytest.fixture(scope="module")
def ckpt_file(vec: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("titan") / "phase_sft20_tiny.pt"
    torch.save(vec["checkpoint"], path)
    return path


@pytest.fixture(scope="module")
def model(vec: dict[str, Any], ckpt_file: Path) -> TitanLM:
    return titan_eval.load_model({"arch": "titan", "config": vec["config"]["constructor"]}, checkpoint=ckpt_file)


def run(model: TitanLM, ids: torch.Tensor, lengths: list[int] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """logits and the router's chosen arms [B, L, 2]."""
    lens = None if lengths is None else torch.tensor(lengths)
    with torch.no_grad(), RouteRecorder(model) as rec:
        logits = model(ids, lens)
    return logits, rec.calls[0].chosen


def pairs(chosen: torch.Tensor) -> torch.Tensor:
    """[.., 2] best-first → ascending, as the reference `last_pairs`."""
    return chosen.reshape(-1, 2).sort(dim=-1).values


@pytest.mark.parametrize("name", ["batch", "long"])
def test_reference_logits_and_top2_arms(model: TitanLM, vec: dict[str, Any], name: str) -> None:
    logits, chosen = run(model, vec["inputs"][name])
    assert (logits - vec["logits"][name]).abs().max().item() <= TOL
    assert torch.equal(pairs(chosen), vec["telemetry_tensors"][name]["last_pairs"])


def test_short_input_fewer_positions_than_slots(model: TitanLM, vec: dict[str, Any]) -> None:
    logits, _ = run(model, vec["extra"]["inputs"]["short"])
    assert (logits - vec["extra"]["logits"]["short"]).abs().max().item() <= TOL


def test_rows_alone_match_the_batch_reference(model: TitanLM, vec: dict[str, Any]) -> None:
    ids, expected = vec["inputs"]["batch"], vec["logits"]["batch"]
    for b in range(ids.shape[0]):
        logits, chosen = run(model, ids[b : b + 1])
        assert (logits[0] - expected[b]).abs().max().item() <= TOL
        assert torch.equal(pairs(chosen), vec["telemetry_tensors"]["batch"]["last_pairs"].view(2, -1, 2)[b])


def test_right_padded_batch_of_unequal_lengths_equals_rows_alone(model: TitanLM, vec: dict[str, Any]) -> None:
    exp = vec["extra"]["padding_experiment"]  # row 0 cut to 25 tokens and padded with id 1; its logits alone
    logits, chosen = run(model, exp["inputs_right_padded"], [exp["row_len_unpadded"], exp["padded_len"]])
    assert (logits[0, :25] - exp["logits_alone"]).abs().max().item() <= TOL
    assert (logits[1] - vec["logits"]["batch"][1]).abs().max().item() <= TOL
    _, chosen_alone = run(model, exp["inputs_right_padded"][:1, :25])
    assert torch.equal(chosen[0, :25], chosen_alone[0])
    # pads are never read: other pad ids, and a 7-token row padded to 37, change nothing at real positions
    short, row0 = vec["extra"]["inputs"]["short"][0], vec["inputs"]["batch"][0]
    mixed = torch.stack([F.pad(short, (0, 30), value=511), row0])
    logits, _ = run(model, mixed, [7, 37])
    assert (logits[0, :7] - vec["extra"]["logits"]["short"][0]).abs().max().item() <= TOL
    assert (logits[1] - vec["logits"]["batch"][0]).abs().max().item() <= TOL


def test_future_tokens_reach_earlier_positions(model: TitanLM, vec: dict[str, Any]) -> None:
    """The original's non-causal ConceptPerceptron, reproduced (spec §5.4)."""
    probe = vec["extra"]["noncausal_probe"]
    logits, _ = run(model, probe["inputs"])
    assert (logits - probe["logits"]).abs().max().item() <= TOL
    assert (logits[0, :-1] - vec["logits"]["batch"][0, :-1]).abs().max().item() > 100 * TOL


def test_taps_expose_the_reference_intermediates(model: TitanLM, vec: dict[str, Any]) -> None:
    seen: dict[str, torch.Tensor] = {}
    handles = [tap.register_forward_hook(lambda m, a, o: seen.__setitem__(m.name, o.detach()))
               for tap in model.taps.values()]
    try:
        with torch.no_grad():
            model(vec["inputs"]["batch"])
    finally:
        for h in handles:
            h.remove()
    ref = vec["intermediates"]["batch"]
    pairs_ = {"embedding": ref["embedding"], "primer": ref["cp_input"], "cp_slots": ref["cp_scratchpad"],
              "mid_hidden": ref["mid_hidden"], "bridge": ref["bridge_out"], "final": ref["pre_norm_f"]}
    pairs_.update({f"layer_{j}": t for j, t in enumerate(ref["layer_out"])})
    pairs_.update({f"arm_{k}": t for k, t in enumerate(ref["arm_out"])})
    for name, expected in pairs_.items():
        assert (seen[name] - expected).abs().max().item() <= TOL, name
    post_moe = seen["mid_hidden"] + seen["moe_injection"]
    assert (post_moe - ref["post_moe_injection"]).abs().max().item() <= TOL


@pytest.mark.parametrize("n", [1, 7, 16, 37, 1024, 1300, 2049])
def test_pooling_bins_equal_chunked_adaptive_average_pool(n: int) -> None:
    x = torch.randn(1, n, 3, dtype=torch.float64)
    chunks = [F.adaptive_avg_pool1d(x[:, s : s + 1024].transpose(1, 2), 16).transpose(1, 2) for s in range(0, n, 1024)]
    expected = torch.stack(chunks).mean(0)
    weights = pooling_weights(torch.tensor([n, n + 5]), n + 5).double()  # row 1: longer, row 0: padded by 5
    assert torch.allclose(weights[:1, :, :n] @ x, expected, atol=1e-12)
    assert weights[0, :, n:].abs().sum() == 0


def test_pooling_bins_of_37_positions_follow_the_spec() -> None:
    w = pooling_weights(torch.tensor([37]), 37)[0]
    support = [tuple(row.nonzero().flatten()[[0, -1]].tolist()) for row in w]
    assert support[0] == (0, 2) and support[1] == (2, 4) and support[15] == (34, 36)


def test_key_mismatch_names_renamed_missing_and_misshaped(vec: dict[str, Any], tmp_path: Path) -> None:
    state = dict(vec["checkpoint"]["model"])
    state["blackboard_read.weight"] = state.pop("bb_read.weight")  # renamed
    del state["cp_gate"]  # missing
    state["bridge.down.weight"] = torch.zeros(64, 64)  # mis-shaped (bridge 64 instead of 512)
    path = tmp_path / "bad.pt"
    torch.save({"step": 7, "model": state}, path)
    with pytest.raises(CheckpointError) as err:
        titan_eval.load_model({"arch": "titan", "config": vec["config"]["constructor"]}, checkpoint=path)
    message = str(err.value)
    for name in ("bb_read.weight", "cp_gate", "blackboard_read.weight", "bridge.down.weight"):
        assert name in message
    assert "2 missing" in message and "1 unexpected" in message and "1 mis-shaped" in message
    assert err.value.exit_code == 3


def test_correct_and_bf16_checkpoints_load_without_warnings(vec: dict[str, Any], tmp_path: Path) -> None:
    state = {k: v.to(torch.bfloat16) for k, v in vec["checkpoint"]["model"].items()}
    path = tmp_path / "bf16.pt"
    torch.save({"step": 3, "model": state}, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = titan_eval.load_model({"arch": "titan", "config": vec["config"]["constructor"]}, checkpoint=path)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v.float()) for k, v in state.items())
    assert model.checks()["n_parameters"] == vec["config"]["n_params"] == model.checks()["expected_n_parameters"]


def test_full_size_layout_has_643_keys_and_the_spec_parameter_count(vec: dict[str, Any]) -> None:
    with torch.device("meta"):
        full = TitanLM(TitanConfig(50304, 2048, 48, 8))
    state = full.state_dict()
    assert len(state) == 643
    assert sum(p.numel() for p in full.parameters()) == 1_724_110_860 == expected_parameter_count(full.cfg)
    assert sum(p.numel() for p in full.layers[0].parameters()) == 26_443_776
    assert state["bridge.down.weight"].shape == (512, 2048) and state["bb_read.weight"].shape == (2048, 64)
    tiny = TitanLM.from_config(vec["config"]["constructor"]).state_dict()
    assert list(tiny) == list(vec["checkpoint"]["model"])  # same names, same file order


def test_config_validation() -> None:
    with pytest.raises(ModelError, match="unknown key"):
        TitanConfig.from_mapping({"vocab_size": 512, "d_model": 64, "n_layers": 4, "mimo_paths": 8, "bridge": 64})
    with pytest.raises(ModelError):
        TitanConfig.from_mapping({"vocab_size": 512, "d_model": 64, "n_layers": 1, "mimo_paths": 8})
    model = TitanLM.from_config({"vocab_size": 300, "d_model": 16, "n_layers": 2, "mimo_paths": 2})
    assert model.capabilities.recurrent_state is False and model.capabilities.routing is True
    with pytest.raises(ModelError):
        model.prefill(torch.zeros(1, 3, dtype=torch.long))


def test_titan_from_a_mamba1_checkpoint(tmp_path: Path) -> None:
    mamba = MambaLM.from_config({"d_model": 64, "n_layer": 12, "vocab_size": 500, "init_seed": 3})
    hf_state = {k.replace("backbone.embedding.", "backbone.embeddings."): v for k, v in mamba.state_dict().items()}
    path = tmp_path / "mamba.pt"
    torch.save(hf_state, path)
    config = {"vocab_size": 512, "d_model": 64, "n_layers": 12, "mimo_paths": 8}
    titan = titan_eval.load_model({"arch": "titan", "config": config}, checkpoint=path)
    seeded = TitanLM.from_config(config).state_dict()
    got, src = titan.state_dict(), mamba.state_dict()
    for i in range(12):
        for suffix in ("in_proj.weight", "conv1d.bias", "x_proj.weight", "dt_proj.bias", "A_log", "D", "out_proj.weight"):
            assert torch.equal(got[f"layers.{i}.ssm.{suffix}"], src[f"backbone.layers.{i}.mixer.{suffix}"])
        assert torch.equal(got[f"layers.{i}.norm.weight"], src[f"backbone.layers.{i}.norm.weight"])
    emb = src["backbone.embedding.weight"]
    assert torch.equal(got["embedding.weight"][:504], emb) and torch.equal(got["lm_head.weight"][:504], emb)
    assert torch.equal(got["norm_f.weight"], src["backbone.norm_f.weight"]) and not got["norm_f.bias"].any()
    for key in ("thalamic_primer.ssm.in_proj.weight", "mimo_reasoning_blocks.3.ssm.x_proj.weight", "bb_write.weight",
                "cp.proj.weight", "domain_router.bias", "moe_scale", "embedding.weight"):
        if key == "embedding.weight":
            assert torch.equal(got[key][504:], seeded[key][504:])
        else:
            assert torch.equal(got[key], seeded[key]), key
    assert titan.checks()["layer_norm_biases_zero"] is True
    bad = dict(hf_state)
    bad["backbone.layers.2.mixer.A_log"] = torch.zeros(128, 8)
    del bad["backbone.layers.5.norm.weight"]
    with pytest.raises(CheckpointError) as err:
        TitanLM.state_dict_from_checkpoint(bad)
    assert "backbone.layers.2.mixer.A_log" in str(err.value) and "backbone.layers.5.norm.weight" in str(err.value)
    seeded_arms = titan_state_dict_from_mamba(hf_state, TitanConfig(**config), TitanLM.from_config(config).state_dict(),
                                              arms_from_layers=True)
    for k in range(8):
        assert torch.equal(seeded_arms[f"mimo_reasoning_blocks.{k}.ssm.in_proj.weight"],
                           src[f"backbone.layers.{4 + k}.mixer.in_proj.weight"])


def test_cards_build(shared: Path) -> None:
    tiny = titan_eval.load("titan-tiny", device="cpu")
    cfg = tiny.model.cfg
    assert cfg.cp_after and max(cfg.cp_after) >= cfg.mid >= 1  # CP injection and a mid router both exist
    assert tiny.tokenizer.encode("<think></think><|endoftext|>") == [257, 258, 256] and tiny.tokenizer.eos_id == 256
    assert tiny.card.generation["mask_vocab_from"] == tiny.tokenizer.size <= tiny.model.vocab_size
    ids = torch.tensor([tiny.tokenizer.encode("User: 2+2?\nAssistant: <think>\n")])
    assert tiny.model(ids).shape == (1, ids.shape[1], cfg.vocab_size)
    card = load_card("titan-1.4b-sft20")
    assert card.config == {"vocab_size": 50304, "d_model": 2048, "n_layers": 48, "mimo_paths": 8}
    tok = build_tokenizer(replace(card.tokenizer, path=str(shared / "tokenizers/gpt-neox-20b/tokenizer.json")))
    assert (tok.token_id("<think>"), tok.token_id("</think>"), tok.eos_id, tok.size) == (50277, 50278, 0, 50279)
    assert card.generation["mask_vocab_from"] == tok.size
    prompt = card.prompt.template.format(question="Q") + card.prompt.think_open
    assert prompt == "User: Q\nAssistant: <think>\n" and tok.encode(prompt)[-2] == 50277
