"""A realistic Helix training checkpoint (model + optimizer + scheduler + trainer state + metadata + RNG states
with numpy's) is refused by the plain weights-only loader with a clear message, loads through Helix's restricted
globals (also when written by numpy 1.x) and with explicit trust; a pickle that would call a function stays
refused even with Helix's globals."""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import titan_eval
from titan_eval.cards import load_card
from titan_eval.checkpoints import read_file
from titan_eval.errors import CheckpointError
from titan_eval.models.helix import HelixLM

CONFIG = load_card("helix-tiny").config


def _training_checkpoint() -> tuple[dict, HelixLM]:
    """What the original trainer writes (spec §2.1), for a tiny Helix after one optimizer step."""
    model = HelixLM.from_config(CONFIG).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 10))
    ids = torch.randint(0, 259, (2, 12))
    torch.nn.functional.cross_entropy(model(ids)[:, :-1].reshape(-1, 259), ids[:, 1:].reshape(-1)).backward()
    optimizer.step()
    scheduler.step()
    model.eval()
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "state": {"step": 1, "best_val_loss": np.float64(5.5), "consecutive_val_increases": 0,
                  "last_val_loss": float("inf"), "tokens_seen": 24, "wall_clock_seconds": 0.5, "alerts": [],
                  "external_backups_ok": 0, "external_backups_failed": 0, "external_backups_consecutive_failed": 0},
        "metadata": {"git_sha": "0e03023a", "config_sha16": "0" * 16, "config_path": "configs/model/tiny.yaml",
                     "tokenizer_sha16": "a24fbea439bc8b78", "tokenizer_path": "tokenizer/helix_v2_tokenizer.model",
                     "hostname": "node", "python_version": "3.11", "torch_version": torch.__version__,
                     "cuda_version": None, "gpu_name": None, "dtype": "fp32"},
        "scaler": None,
        "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
                "cuda": []},
    }
    return checkpoint, model


@pytest.fixture()
def saved(tmp_path: Path) -> tuple[Path, dict, HelixLM]:
    checkpoint, model = _training_checkpoint()
    path = tmp_path / "step_1.pt"
    torch.save(checkpoint, path)
    return path, checkpoint, model


def test_refused_without_trust_with_a_clear_message(saved: tuple[Path, dict, HelixLM]) -> None:
    path, _, _ = saved
    with pytest.raises(CheckpointError) as err:
        read_file(path)
    message = str(err.value)
    assert "numpy" in message and "--trust-checkpoint" in message and str(path) in message


def test_loads_with_trust_and_with_restricted_globals(saved: tuple[Path, dict, HelixLM]) -> None:
    path, checkpoint, _ = saved
    for obj in (read_file(path, trust=True), read_file(path, safe_globals=HelixLM.safe_globals)):
        assert obj["rng"]["numpy"][0] == "MT19937"
        assert np.array_equal(obj["rng"]["numpy"][1], checkpoint["rng"]["numpy"][1])
        assert obj["state"]["best_val_loss"] == 5.5
        assert obj["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.95)


def test_load_model_uses_the_restricted_route(saved: tuple[Path, dict, HelixLM]) -> None:
    path, _, model = saved
    loaded = titan_eval.load_model({"arch": "helix", "config": CONFIG}, checkpoint=path)
    ids = torch.randint(0, 259, (1, 30))
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_numpy1_written_checkpoint_loads_with_restricted_globals(tmp_path: Path) -> None:
    """numpy 1.x pickles its array reconstructor as numpy.core.multiarray._reconstruct."""
    buffer = io.BytesIO()
    torch.save({"model": {"w": torch.ones(2)}, "rng": {"numpy": np.random.get_state()}}, buffer,
               _use_new_zipfile_serialization=False)  # one plain pickle stream: names can be rewritten in place
    old = buffer.getvalue().replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in old
    path = tmp_path / "numpy1.pt"
    path.write_bytes(old)
    with pytest.raises(CheckpointError, match="numpy.core.multiarray._reconstruct"):
        read_file(path)
    assert read_file(path, safe_globals=HelixLM.safe_globals)["rng"]["numpy"][1].dtype == np.uint32


class _CallsAFunction:
    """Unpickling this calls os.getcwd: what the restricted loader must never allow."""

    def __reduce__(self) -> tuple:
        return (os.getcwd, ())


def test_callables_stay_refused_even_with_helix_globals(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.ones(2)}, "payload": _CallsAFunction()}, path)
    with pytest.raises(CheckpointError, match="getcwd"):
        read_file(path, safe_globals=HelixLM.safe_globals)
    with pytest.raises(CheckpointError, match="getcwd"):
        titan_eval.load_model({"arch": "helix", "config": CONFIG}, checkpoint=path)
    assert read_file(path, trust=True)["payload"] == os.getcwd()
