"""Mamba-1: equal to transformers' MambaForCausalLM, both checkpoint layouts, exact padding and recurrence."""

from pathlib import Path

import pytest
import torch

import titan_eval
from titan_eval.checkpoints import load_strict
from titan_eval.errors import CheckpointError
from titan_eval.models.mamba import MambaLM

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf_model():
    cfg = transformers.MambaConfig(vocab_size=320, hidden_size=48, state_size=8, num_hidden_layers=3, expand=2,
                                   conv_kernel=4, time_step_rank=6)
    torch.manual_seed(11)
    return transformers.MambaForCausalLM(cfg).eval()


def test_matches_transformers_logits(hf_model, tmp_path: Path) -> None:
    hf_model.save_pretrained(tmp_path)  # model.safetensors + config.json: the -hf layout
    ours = titan_eval.load_model({"arch": "mamba"}, checkpoint=tmp_path)
    ids = torch.randint(0, 320, (2, 33))
    with torch.no_grad():
        diff = (ours(ids) - hf_model(ids).logits).abs().max().item()
    assert diff < 1e-4


def test_original_layout_with_tied_head(hf_model, tmp_path: Path) -> None:
    sd = {k.replace("backbone.embeddings.", "backbone.embedding."): v for k, v in hf_model.state_dict().items()}
    sd["lm_head.weight"] = sd["backbone.embedding.weight"].clone()
    torch.save(sd, tmp_path / "pytorch_model.bin")
    config = {"d_model": 48, "n_layer": 3, "vocab_size": 320, "ssm_cfg": {"d_state": 8, "dt_rank": 6}}
    ours = titan_eval.load_model({"arch": "mamba", "config": config}, checkpoint=tmp_path / "pytorch_model.bin")
    ids = torch.randint(0, 320, (1, 20))
    with torch.no_grad():
        assert (ours(ids) - hf_model(ids).logits).abs().max().item() < 1e-4


def test_strict_loading_names_every_problem(hf_model) -> None:
    model = MambaLM.from_config(hf_model.config.to_dict())
    sd = MambaLM.convert_state_dict(dict(hf_model.state_dict()))
    sd["backbone.layers.0.mixer.D_renamed"] = sd.pop("backbone.layers.0.mixer.D")
    del sd["backbone.layers.1.mixer.A_log"]
    sd["backbone.norm_f.weight"] = torch.ones(7)
    with pytest.raises(CheckpointError) as err:
        load_strict(model, sd, "ckpt")
    msg = str(err.value)
    for fragment in ("2 missing", "layers.0.mixer.D", "layers.1.mixer.A_log", "1 unexpected", "D_renamed",
                     "1 mis-shaped", "norm_f.weight: checkpoint [7] vs model [48]"):
        assert fragment in msg


def test_padding_prefill_and_step_are_exact() -> None:
    model = titan_eval.load_model("mamba-tiny")
    ids = torch.randint(0, 259, (2, 40))
    lengths = torch.tensor([40, 23])
    with torch.no_grad():
        full = model(ids)
        padded = model(ids, lengths)
        assert (padded[1, :23] - model(ids[1:2, :23])[0]).abs().max() < 1e-5
        logits, state = model.prefill(ids[:, :10])
        steps = []
        for t in range(10, 40):
            step_logits, state = model.step(ids[:, t], state)
            steps.append(step_logits)
        assert (torch.stack(steps[:-1], 1) - full[:, 10:39]).abs().max() < 1e-4
        assert (logits - full[:, :10]).abs().max() < 1e-5
        # a right-padded prefill leaves each row's state after its own length
        _, st_pad = model.prefill(ids, lengths)
        nxt, _ = model.step(ids[1, 23].repeat(2), st_pad.select(torch.tensor([1])).expand(2))
        assert (nxt[0] - full[1, 23]).abs().max() < 1e-4
        assert (nxt[1] - full[1, 23]).abs().max() < 1e-4
