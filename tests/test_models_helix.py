"""Helix v2: reference logits of the original code (both Mamba layouts, both GLA decay axes), exact padding,
exact recurrent inference (prefill/step, chunked prefill, expand/select), config parsing, strict loading and the
1B card's shapes against the spec's key table."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import titan_eval
from titan_eval.cards import load_card
from titan_eval.errors import CheckpointError, ModelError
from titan_eval.models.helix import HelixLM, HelixState
from titan_eval.models.helix_checkpoint import detect_mamba_layout
from titan_eval.models.helix_config import HelixConfig
from titan_eval.models.helix_gla import gla_scan_ref, gla_scan_sequential

from conftest import load_vector

LAYOUTS = ["native", "ssm"]
TOL = 1e-4


def _load(
    shared: Path, tmp_path: Path, layout: str, gla_decay: str | None = None, **extra: object
) -> tuple[HelixLM, dict]:
    """The vector file's checkpoint saved like a real one and loaded through the public API."""
    v = load_vector(shared, f"helix_tiny_{layout}.pt")
    path = tmp_path / f"helix_{layout}.pt"
    torch.save(v["checkpoint"], path)
    config = dict(v["config"], **extra)
    if gla_decay is not None:
        config["gla_decay"] = gla_decay
    model = titan_eval.load_model({"arch": "helix", "config": config}, checkpoint=path)
    assert isinstance(model, HelixLM)
    return model, v


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("decay,entry", [("value", "logits"), ("key", "logits_gla_keydecay")])
def test_reference_logits(shared: Path, tmp_path: Path, layout: str, decay: str, entry: str) -> None:
    model, v = _load(shared, tmp_path, layout, decay)
    attn = v["config"]["layers"][2]
    assert v["inputs"]["long"].shape[1] > attn["window_size"] + attn["global_tokens"]
    assert model.config_dict()["mamba_layout"] == ("kernel" if layout == "ssm" else "native")
    assert model.config_dict()["gla_decay"] == decay
    with torch.no_grad():
        for name in ("batch", "long"):
            got = model(v["inputs"][name])
            assert (got - v[entry][name]).abs().max().item() < TOL, (name, layout, decay)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gla_decay_defaults_to_key(shared: Path, tmp_path: Path, layout: str) -> None:
    model, v = _load(shared, tmp_path, layout)
    with torch.no_grad():
        got = model(v["inputs"]["batch"])
    assert (got - v["logits_gla_keydecay"]["batch"]).abs().max().item() < TOL
    assert (got - v["logits"]["batch"]).abs().max().item() > 1e-3  # the two axes really differ on these weights


@pytest.mark.parametrize("layout", LAYOUTS)
def test_right_padded_rows_equal_rows_alone(shared: Path, tmp_path: Path, layout: str) -> None:
    model, v = _load(shared, tmp_path, layout, "value")
    ids = v["inputs"]["batch"].clone()
    lengths = torch.tensor([29, 17])
    ids[1, 17:] = 1  # padding content must not matter
    with torch.no_grad():
        padded = model(ids, lengths)
        alone = model(ids[1:, :17])
    assert (padded[0] - v["logits"]["batch"][0]).abs().max().item() < TOL
    assert (padded[1, :17] - alone[0]).abs().max().item() < TOL
    assert (padded[1, :17] - v["logits"]["batch"][1, :17]).abs().max().item() < TOL  # causal: prefix logits


@pytest.mark.parametrize("layout", LAYOUTS)
def test_prefill_then_step_equals_forward(shared: Path, tmp_path: Path, layout: str) -> None:
    model, v = _load(shared, tmp_path, layout, "key")
    ids = v["inputs"]["long"]  # 40 tokens = 5 × the attention window of 8
    prefix = 6
    with torch.no_grad():
        logits, state = model.prefill(ids[:, :prefix])
        steps = [logits]
        for t in range(prefix, ids.shape[1]):
            step_logits, state = model.step(ids[:, t], state)
            steps.append(step_logits[:, None])
    got = torch.cat(steps, dim=1)
    assert (got - v["logits_gla_keydecay"]["long"]).abs().max().item() < TOL
    assert int(state.length[0]) == ids.shape[1]
    kv = state.key_positions[0]
    assert kv.shape[1] <= 2 + 8 - 1  # the cache holds at most G + W − 1 slots
    assert sorted(kv[0][kv[0] >= 0].tolist()) == [0, 1, *range(33, 40)]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_chunked_prefill_with_unequal_lengths(shared: Path, tmp_path: Path, layout: str) -> None:
    model, v = _load(shared, tmp_path, layout, "value")
    ids = torch.cat([v["inputs"]["long"], v["inputs"]["long"].flip(1)])  # [2, 40]
    first = torch.tensor([13, 5])  # rows stop at different points inside the first chunk
    with torch.no_grad():
        whole, whole_state = model.prefill(ids)
        a, state = model.prefill(ids, first)
        rest = torch.stack([torch.cat([ids[0, 13:], ids.new_zeros(8)]), ids[1, 5:]])  # [2, 35], row 0 padded
        b, state = model.prefill(rest, torch.tensor([27, 35]), state)
    assert (a[0, :13] - whole[0, :13]).abs().max().item() < TOL
    assert (b[0, :27] - whole[0, 13:]).abs().max().item() < TOL
    assert (b[1, :35] - whole[1, 5:]).abs().max().item() < TOL
    for one, two in zip(whole_state.ssm + whole_state.gla, state.ssm + state.gla):
        assert (one - two).abs().max().item() < TOL
    assert torch.equal(whole_state.key_positions[0], state.key_positions[0])


def test_state_expand_and_select(shared: Path, tmp_path: Path) -> None:
    model, v = _load(shared, tmp_path, "ssm")
    ids = v["inputs"]["batch"]
    with torch.no_grad():
        _, state = model.prefill(ids, torch.tensor([29, 12]))
        expanded = state.expand(3)
        assert isinstance(expanded, HelixState) and expanded.length.tolist() == [29, 29, 29, 12, 12, 12]
        picked = expanded.select(torch.tensor([4, 0]))
        nxt = torch.tensor([7, 9])
        got, _ = model.step(nxt, picked)
        want, _ = model.step(nxt, state.select(torch.tensor([1, 0])))
    assert torch.equal(got, want)


def test_gla_chunked_scan_matches_the_recurrence() -> None:
    q, k, v = (torch.randn(2, 3, 45, 8) for _ in range(3))
    log_alpha = torch.nn.functional.logsigmoid(torch.randn(2, 3, 45, 8) + 2)
    s0 = torch.randn(2, 3, 8, 8)
    for decay in ("key", "value"):
        o, s = gla_scan_ref(q, k, v, log_alpha, decay, s0, chunk_size=16)
        o_ref, s_ref = gla_scan_sequential(q, k, v, log_alpha, decay, s0)
        assert (o.double() - o_ref).abs().max().item() < 1e-4
        assert (s.double() - s_ref).abs().max().item() < 1e-4


def test_layout_detection_and_strict_report(shared: Path, tmp_path: Path) -> None:
    v = load_vector(shared, "helix_tiny_ssm.pt")
    sd = v["checkpoint"]["model"]
    assert detect_mamba_layout(sd) == "kernel"
    native = load_vector(shared, "helix_tiny_native.pt")["checkpoint"]["model"]
    assert detect_mamba_layout(native) == "native"
    with pytest.raises(CheckpointError, match="mixes Mamba layouts"):
        detect_mamba_layout({**native, "blocks.3.attn._impl.inner.D": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="mamba_layout 'native'"):
        _load(shared, tmp_path, "ssm", mamba_layout="native")
    broken = {k: t for k, t in sd.items() if k != "blocks.2.attn.k_norm.weight"}
    path = tmp_path / "broken.pt"
    torch.save({"model": broken}, path)
    with pytest.raises(CheckpointError, match="1 missing .*blocks.2.attn.k_norm.weight"):
        titan_eval.load_model({"arch": "helix", "config": v["config"]}, checkpoint=path)


def test_compile_prefix_is_stripped(shared: Path, tmp_path: Path) -> None:
    v = load_vector(shared, "helix_tiny_native.pt")
    path = tmp_path / "compiled.pt"
    torch.save({"model": {f"_orig_mod.{k}": t for k, t in v["checkpoint"]["model"].items()}, "step": 3}, path)
    model = titan_eval.load_model({"arch": "helix", "config": {**v["config"], "gla_decay": "value"}}, checkpoint=path)
    with torch.no_grad():
        assert (model(v["inputs"]["batch"]) - v["logits"]["batch"]).abs().max().item() < TOL


def _nested_yaml_config() -> dict:
    """A config in the original YAML's nested layout (spec §1.2)."""
    return {
        "name": "t", "version": "2", "tokenizer": {"path": "tok.model", "vocab_size": 300},
        "model": {"d_model": 64, "n_layers": 4, "n_heads": 4, "d_head": 16, "d_ffn": 96, "activation": "silu",
                  "norm_type": "rmsnorm", "norm_eps": 1e-6},
        "layers": [{"type": "mamba", "d_state": 8}, {"repeat": 2, "config": {"type": "gla"}},
                   {"type": "sparse_attention", "window_size": 4, "global_tokens": 0}],
        "mtp": {"enabled": False}, "position_encoding": {"type": "rope", "theta": 500.0},
        "advanced": {"tie_embeddings": True, "use_flash_attention": False},
    }


def test_config_layouts_defaults_and_validation() -> None:
    cfg = HelixConfig.from_mapping(_nested_yaml_config())
    assert [layer.type for layer in cfg.layers] == ["mamba", "gla", "gla", "sparse_attention"]
    assert cfg.vocab_size == 300 and cfg.rope_theta == 500.0 and cfg.gla_decay == "key"
    assert cfg.layers[3].global_tokens == 0  # an explicit 0 is honoured
    unset = HelixConfig.from_mapping({**_nested_yaml_config(), "layers": [{"type": "sparse_attention"}] * 4})
    assert (unset.layers[0].global_tokens, unset.layers[0].window_size, unset.layers[0].use_rope) == (32, 1024, True)
    model = HelixLM.from_config({**_nested_yaml_config(), "gla_decay": "value", "init_seed": 3})
    again = HelixLM.from_config(model.config_dict())
    assert again.config_dict() == model.config_dict() and model.config_dict()["gla_decay"] == "value"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    bad = [
        ({"model": {**_nested_yaml_config()["model"], "n_layers": 5}}, "n_layers"),
        ({"model": {**_nested_yaml_config()["model"], "d_head": 8}}, "n_heads·d_head"),
        ({"gla_decay": "both"}, "gla_decay"),
        ({"extra_field": 1}, "unknown key"),
        ({"mtp": {"enabled": True}}, "mtp"),
        ({"layers": [{"type": "mamba"}] * 4}, "d_state"),
    ]
    for change, message in bad:
        with pytest.raises(ModelError, match=message):
            HelixConfig.from_mapping({**_nested_yaml_config(), **change})


def test_1b_card_matches_spec_key_table() -> None:
    config = load_card("helix-v2-1b").config
    expected = {  # spec §2.2, 1b column, and the derived parameter totals
        "kernel": (899.4, {"blocks.0.attn._impl.inner.in_proj.weight": (5416, 1280),
                           "blocks.5.attn._impl.inner.conv1d.weight": (2816, 1, 4),
                           "blocks.0.attn._impl.inner.A_log": (40,), "blocks.0.attn._impl.inner.norm.weight": (2560,)}),
        "native": (981.7, {"blocks.0.attn._impl.x_proj.weight": (2816, 2560),
                           "blocks.0.attn._impl.dt_proj.weight": (2560, 2560),
                           "blocks.0.attn._impl.A_log": (2560, 128)}),
    }
    for layout, (millions, shapes) in expected.items():
        with torch.device("meta"):
            model = HelixLM(HelixConfig.from_mapping({**config, "mamba_layout": layout}))
        sd = model.state_dict()
        assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == millions
        assert {k: tuple(sd[k].shape) for k in shapes} == shapes
        assert tuple(sd["blocks.6.attn.alpha_proj.bias"].shape) == (1280,)
        assert tuple(sd["blocks.27.attn.q_proj.weight"].shape) == (1280, 1280)
        assert not any(k.startswith(("lm_head", "blocks.22.attn.q_norm")) for k in sd)


def test_tiny_card_decodes_exactly() -> None:
    loaded = titan_eval.load("helix-tiny", device="cpu")
    model, tok = loaded.model, loaded.tokenizer
    assert tok.size <= model.vocab_size and model.capabilities.recurrent_state
    kinds = {block.kind for block in model.blocks}
    assert kinds == {"mamba", "gla", "sparse_attention"}
    ids = torch.tensor([tok.encode("Frage: Wie viele Beine hat eine Spinne?\nAntwort: Acht.")])
    with torch.no_grad():
        full = model(ids)
        logits, state = model.prefill(ids[:, :20])
        outs = [logits]
        for t in range(20, ids.shape[1]):
            step, state = model.step(ids[:, t], state)
            outs.append(step[:, None])
    assert ids.shape[1] > 3 * 16
    assert (torch.cat(outs, dim=1) - full).abs().max().item() < TOL
