"""H64LM against the reference vectors (logits, routing), its exact KV cache, strict loading and its cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import titan_eval
from conftest import load_vector
from titan_eval.cards import load_card
from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.h64lm import H64LM, H64LMConfig, H64LMState
from titan_eval.models.norms import RMSNorm
from titan_eval.models.taps import ActivationTap, RouteTap

VECTORS = ("h64lm_tiny.pt", "h64lm_tiny_rope.pt")
INPUTS = ("batch", "long", "short", "batch_padded")
LOGIT_TOL = 1e-5
WEIGHT_TOL = 1e-5


@pytest.fixture(scope="module", params=VECTORS)
def vector(request: pytest.FixtureRequest, shared: Path) -> dict[str, Any]:
    return load_vector(shared, request.param)


def save_checkpoint(obj: Any, directory: Path, name: str = "ckpt.pt") -> Path:
    path = directory / name
    torch.save(obj, path)
    return path


def load_from(vector: dict[str, Any], tmp_path: Path, checkpoint: Any = None, **config: Any) -> H64LM:
    """The vector's checkpoint (or `checkpoint`) saved to a file and loaded like a real one."""
    path = save_checkpoint(vector["checkpoint"] if checkpoint is None else checkpoint, tmp_path)
    model = titan_eval.load_model({"arch": "h64lm", "config": {**vector["config"], **config}}, checkpoint=path)
    assert isinstance(model, H64LM)
    return model


@pytest.fixture(scope="module")
def model(vector: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> H64LM:
    return load_from(vector, tmp_path_factory.mktemp("h64lm"))


def inputs_and_lengths(vector: dict[str, Any], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    ids = vector["inputs"][name]
    if name == "batch_padded":
        return ids, vector["inputs"]["batch_padded_mask"].sum(dim=1)
    return ids, torch.full((ids.shape[0],), ids.shape[1])


def real(lengths: torch.Tensor, width: int) -> torch.Tensor:
    return torch.arange(width)[None, :] < lengths[:, None]


# -- acceptance 1: reference logits and routing ------------------------------------------------------------------
@pytest.mark.parametrize("name", INPUTS)
def test_logits_match_reference(model: H64LM, vector: dict[str, Any], name: str) -> None:
    ids, lengths = inputs_and_lengths(vector, name)
    with torch.no_grad():
        logits = model(ids, lengths if name == "batch_padded" else None)
    mask = real(lengths, ids.shape[1])
    assert (logits - vector["logits"][name])[mask].abs().max().item() <= LOGIT_TOL
    assert model.cfg.attention_type == vector["variant"]


@pytest.mark.parametrize("name", INPUTS)
def test_routing_matches_reference(model: H64LM, vector: dict[str, Any], name: str) -> None:
    routes: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    gate_logits: dict[str, torch.Tensor] = {}
    hooks = []
    for module in model.modules():
        if isinstance(module, RouteTap):
            hooks.append(module.register_forward_hook(lambda m, args, out: routes.__setitem__(m.layer, args)))
        if isinstance(module, ActivationTap) and module.name.endswith("router_logits"):
            hooks.append(module.register_forward_hook(lambda m, args, out: gate_logits.__setitem__(m.name, args[0])))
    ids, lengths = inputs_and_lengths(vector, name)
    try:
        with torch.no_grad():
            model(ids, lengths)
    finally:
        for hook in hooks:
            hook.remove()
    mask = real(lengths, ids.shape[1])
    assert sorted(routes) == ["layers.1", "layers.3"]
    for layer, (dense, chosen, *_) in routes.items():
        ref = vector["routing"][name][f"layer{layer.split('.')[1]}"]
        assert dense.shape == (*ids.shape, 8) and chosen.shape == (*ids.shape, 2)
        assert torch.equal(chosen[mask], ref["experts"][mask])
        assert (dense.gather(-1, chosen) - ref["weights"])[mask].abs().max().item() <= WEIGHT_TOL
        assert dense.sum(-1)[mask].sub(ref["weights"].sum(-1)[mask]).abs().max().item() <= WEIGHT_TOL  # 0 elsewhere
        assert (gate_logits[f"{layer}.router_logits"] - ref["gate_logits"])[mask].abs().max().item() <= WEIGHT_TOL


# -- acceptance 2: exact KV cache ------------------------------------------------------------------------------------
def random_ids(rows: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(3, vocab, (rows, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("prefix", [1, 16, 17])
def test_prefill_then_step_equals_forward(model: H64LM, prefix: int) -> None:
    window = model.cfg.sliding_window_size
    ids = random_ids(2, 3 * window + 8, model.vocab_size, seed=prefix)
    with torch.no_grad():
        full = model(ids)
        logits, state = model.prefill(ids[:, :prefix])
        worst = (logits - full[:, :prefix]).abs().max().item()
        for t in range(prefix, ids.shape[1]):
            step_logits, state = model.step(ids[:, t], state)
            worst = max(worst, (step_logits - full[:, t]).abs().max().item())
            assert state.keys[0].shape[2] <= window  # trimmed: never more than the window can still see
    assert worst <= LOGIT_TOL
    assert torch.equal(state.key_pos, torch.arange(ids.shape[1] - window, ids.shape[1]).expand(2, window))


def test_step_decoding_reproduces_reference_long(model: H64LM, vector: dict[str, Any]) -> None:
    ids = vector["inputs"]["long"]
    with torch.no_grad():
        logits, state = model.prefill(ids[:, :5])
        rows = [logits]
        for t in range(5, ids.shape[1]):
            step_logits, state = model.step(ids[:, t], state)
            rows.append(step_logits[:, None])
    assert (torch.cat(rows, dim=1) - vector["logits"]["long"]).abs().max().item() <= LOGIT_TOL


def test_chunked_prefill_equals_one_prefill(model: H64LM) -> None:
    ids = random_ids(3, 50, model.vocab_size, seed=1)
    with torch.no_grad():
        whole, state_whole = model.prefill(ids)
        first, state = model.prefill(ids[:, :21])
        second, state = model.prefill(ids[:, 21:], None, state)
        assert (torch.cat([first, second], dim=1) - whole).abs().max().item() <= LOGIT_TOL
        assert torch.equal(state.key_pos, state_whole.key_pos) and torch.equal(state.seen, state_whole.seen)
        nxt = ids[:, 7]
        assert (model.step(nxt, state)[0] - model.step(nxt, state_whole)[0]).abs().max().item() <= LOGIT_TOL


def test_padded_prefill_keeps_pads_out_of_the_cache(model: H64LM) -> None:
    ids = random_ids(3, 40, model.vocab_size, seed=2)
    lengths = torch.tensor([9, 25, 40])
    with torch.no_grad():
        full = model(ids)
        logits, state = model.prefill(ids, lengths)
        for b, n in enumerate(lengths.tolist()):
            assert (logits[b, :n] - full[b, :n]).abs().max().item() <= LOGIT_TOL
        assert torch.equal(state.seen, lengths)
        slots = state.key_pos >= 0
        assert bool((state.key_pos[slots] < lengths[:, None].expand_as(state.key_pos)[slots]).all())
        assert slots.sum(dim=1).tolist() == [9, 16, 16]
        # continue rows 0 and 1 at their own positions: the pads must not have shifted or polluted anything
        nxt = torch.stack([ids[0, 9], ids[1, 25]])
        step_logits, _ = model.step(nxt, state.select(torch.tensor([0, 1])))
    assert (step_logits[0] - full[0, 9]).abs().max().item() <= LOGIT_TOL
    assert (step_logits[1] - full[1, 25]).abs().max().item() <= LOGIT_TOL


def test_state_expand_and_select(model: H64LM) -> None:
    ids = random_ids(2, 30, model.vocab_size, seed=3)
    with torch.no_grad():
        _, state = model.prefill(ids[:, :20])
        branched = state.expand(3)
        assert isinstance(branched, H64LMState) and branched.keys[0].shape[0] == 6 and branched.seen.shape == (6,)
        picked = branched.select(torch.tensor([4, 1]))  # rows 4 → context 1, 1 → context 0
        logits, _ = model.step(ids[[1, 0], 20], picked)
        full = model(ids[:, :21])
    assert (logits - full[[1, 0], 20]).abs().max().item() <= LOGIT_TOL


def test_prefill_refuses_a_foreign_state(model: H64LM) -> None:
    with pytest.raises(ModelError, match="cannot continue"):
        model.prefill(torch.tensor([[5, 6]]), None, state=object())  # type: ignore[arg-type]


def test_positions_beyond_the_trained_length_are_refused(vector: dict[str, Any]) -> None:
    cfg = {**vector["config"], "max_position_embeddings": 8}
    ids = random_ids(1, 9, 512, seed=4)
    with pytest.raises(ModelError, match="max_position_embeddings"):
        H64LM.from_config(cfg)(ids)
    assert H64LM.from_config(cfg)(ids[:, :8]).shape == (1, 8, 512)
    assert H64LM.from_config({**cfg, "allow_beyond_max_positions": True})(ids).shape == (1, 9, 512)


# -- strict loading ------------------------------------------------------------------------------------------------
def state_dict_of(vector: dict[str, Any]) -> dict[str, torch.Tensor]:
    return dict(vector["checkpoint"]["model_state_dict"])


def test_attention_type_is_decided_from_the_keys(vector: dict[str, Any], tmp_path: Path) -> None:
    other = "rope" if vector["variant"] == "alibi" else "alibi"
    model = load_from(vector, tmp_path, attention_type=other)
    assert model.cfg.attention_type == vector["variant"]
    notes = model.config_dict()["decided_from_checkpoint"]
    assert len(notes) == 1 and f"config said {other!r}" in notes[0]
    with torch.no_grad():
        assert (model(vector["inputs"]["long"]) - vector["logits"]["long"]).abs().max().item() <= LOGIT_TOL


def test_alibi_keys_with_an_mqa_config_are_an_error(shared: Path, tmp_path: Path) -> None:
    vector = load_vector(shared, "h64lm_tiny.pt")
    with pytest.raises(CheckpointError, match="mqa"):
        load_from(vector, tmp_path, attention_type="mqa", num_kv_heads=1)


@pytest.mark.parametrize("suffix", ["self_attn.rotary_emb.inv_freq", "self_attn.alibi_slopes"])
def test_a_wrong_buffer_is_rejected(shared: Path, tmp_path: Path, suffix: str) -> None:
    vector = load_vector(shared, "h64lm_tiny.pt")
    sd = state_dict_of(vector)
    key = f"model.layers.2.{suffix}"
    sd[key] = sd[key] * 1.01
    with pytest.raises(CheckpointError, match=key.replace(".", r"\.")):
        load_from(vector, tmp_path, checkpoint={"model_state_dict": sd})


def test_a_config_theta_that_disagrees_with_the_buffers_is_rejected(vector: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="inv_freq"):
        load_from(vector, tmp_path, rope_theta=500000.0)


def test_bare_data_parallel_state_dict_loads(vector: dict[str, Any], tmp_path: Path) -> None:
    prefixed = {f"module.{k}": v for k, v in state_dict_of(vector).items()}
    model = load_from(vector, tmp_path, checkpoint=prefixed)
    with torch.no_grad():
        assert (model(vector["inputs"]["short"]) - vector["logits"]["short"]).abs().max().item() <= LOGIT_TOL
    mixed = dict(prefixed)
    mixed["lm_head.weight"] = mixed.pop("module.lm_head.weight")
    with pytest.raises(CheckpointError, match="module"):
        load_from(vector, tmp_path, checkpoint=mixed)


def test_strict_report_names_missing_unexpected_and_misshaped_keys(vector: dict[str, Any], tmp_path: Path) -> None:
    sd = state_dict_of(vector)
    del sd["model.layers.3.mlp.experts.5.up_proj.weight"]
    sd["model.layers.0.self_attn.extra.weight"] = torch.zeros(2)
    sd["model.norm.weight"] = torch.ones(65)
    with pytest.raises(CheckpointError) as err:
        load_from(vector, tmp_path, checkpoint={"epoch": 3, "step": 9, "model_state_dict": sd})
    message = str(err.value)
    for piece in ("experts.5.up_proj.weight", "self_attn.extra.weight", "model.norm.weight: checkpoint [65]"):
        assert piece in message


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda sd: sd.__setitem__("model.layers.1.mlp.moe_layer.experts.w1", torch.zeros(1)), "fastermoe"),
        (lambda sd: sd.__setitem__("model.layers.0.mlp.gate.weight", torch.zeros(8, 64)), "odd layers"),
    ],
)
def test_foreign_layouts_are_rejected(vector: dict[str, Any], tmp_path: Path, edit: Any, match: str) -> None:
    sd = state_dict_of(vector)
    edit(sd)
    with pytest.raises(CheckpointError, match=match):
        load_from(vector, tmp_path, checkpoint=sd)


def test_alibi_buffers_must_be_in_every_layer_or_none(shared: Path, tmp_path: Path) -> None:
    vector = load_vector(shared, "h64lm_tiny.pt")
    sd = state_dict_of(vector)
    del sd["model.layers.2.self_attn.alibi_slopes"]
    with pytest.raises(CheckpointError, match="alibi_slopes"):
        load_from(vector, tmp_path, checkpoint=sd)


# -- config, precision, cards ----------------------------------------------------------------------------------
def test_config_accepts_the_original_fields_and_rejects_typos(vector: dict[str, Any]) -> None:
    cfg = H64LMConfig.from_mapping({**vector["config"], "num_epochs": 20, "use_fp16": (True,)})
    assert cfg.head_dim == 16 and cfg.kv_heads == 2
    assert cfg.training_attributes == {"num_epochs": 20, "use_fp16": (True,)}
    with pytest.raises(ModelError, match="num_kv_head"):
        H64LMConfig.from_mapping({**vector["config"], "num_kv_head": 2})
    with pytest.raises(ModelError, match="head_dim"):
        H64LMConfig.from_mapping({**vector["config"], "head_dim": 32})
    with pytest.raises(ModelError, match="attention_type"):
        H64LMConfig.from_mapping({**vector["config"], "attention_type": "ALiBi"})
    mqa = H64LM.from_config({**vector["config"], "attention_type": "mqa"})
    assert mqa.model.layers[0].self_attn.k_proj.weight.shape == (16, 64)  # one kv head


def test_real_config_has_the_published_parameter_count() -> None:
    card = load_card("h64lm-249m")
    cfg = H64LMConfig.from_mapping(card.config)
    shape = (cfg.hidden_size, cfg.num_layers, cfg.head_dim, cfg.kv_heads, cfg.sliding_window_size)
    assert shape == (768, 6, 64, 4, 2048) and (cfg.num_experts, cfg.num_experts_per_token) == (8, 2)
    with torch.device("meta"):
        rope = H64LM(cfg)
        alibi = H64LM(H64LMConfig.from_mapping({**card.config, "attention_type": "alibi"}))
    assert sum(p.numel() for p in rope.parameters()) == 249_720_576  # spec §3.1, the training log's count
    assert len(rope.state_dict()) == 129 and len(alibi.state_dict()) == 135
    assert rope.lm_head.weight is not rope.model.embed_tokens.weight
    assert card.tokenizer.kind == "hf" and card.tokenizer.add_bos and card.tokenizer.eos == "</s>"
    assert "causal" in card.notes and "tokenizer.json" in card.notes


def test_tiny_card_builds_a_seeded_model() -> None:
    loaded = titan_eval.load("h64lm-tiny", device="cpu")
    model = loaded.model
    assert isinstance(model, H64LM) and model.vocab_size >= loaded.tokenizer.size == 259
    assert model.capabilities.recurrent_state and model.capabilities.routing
    assert loaded.tokenizer.eos_id == loaded.tokenizer.token_id("<|endoftext|>")
    again = titan_eval.load_model("h64lm-tiny")
    ids = torch.tensor([loaded.tokenizer.encode("Question: why is the sky blue?\nAnswer:")])
    with torch.no_grad():
        assert torch.equal(model(ids), again(ids))  # same seed, same weights


def test_rmsnorm_casts_like_the_original() -> None:
    """Spec §4.2: statistics in fp32, cast back to the input dtype, then times the weight in that dtype."""
    norm = RMSNorm(32, 1e-5).to(torch.bfloat16)
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 32))
    x = torch.randn(3, 32).to(torch.bfloat16) * 7
    x32 = x.float()
    expected = (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + 1e-5)).to(torch.bfloat16) * norm.weight
    assert torch.equal(norm(x), expected) and norm(x).dtype == torch.bfloat16


def test_half_precision_keeps_position_buffers_in_fp32(model: H64LM, vector: dict[str, Any]) -> None:
    half = H64LM(model.cfg)
    half.load_state_dict(model.state_dict())
    half = half.to(torch.bfloat16).eval()
    attn = half.model.layers[0].self_attn
    assert attn.rotary_emb.inv_freq.dtype == torch.float32 and attn.q_proj.weight.dtype == torch.bfloat16
    assert torch.equal(attn.rotary_emb.inv_freq, model.model.layers[0].self_attn.rotary_emb.inv_freq)
    with torch.no_grad():
        logits = half(vector["inputs"]["short"])
    assert logits.dtype == torch.bfloat16
    assert (logits.float() - vector["logits"]["short"]).abs().max().item() < 0.5
