"""Checkpoint loading that never holds two copies of the weights (issue 32): files memory-mapped, a model built on
the meta device, each tensor converted to the run dtype on its own. Pinned here: the result equals the old loading
(seeded init, then a strict copy, then `.to(dtype)`) bit for bit — every parameter and buffer, the logits, shared
(tied) parameters still shared — for every tiny card, from a `.pt` and a `.safetensors` file, in float32 and
bfloat16; and peak RSS while loading a ≈ 300 MB checkpoint stays within 1.3× its bytes in the run dtype."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import titan_eval
from titan_eval import mapped_weights
from titan_eval.checkpoints import load_strict
from titan_eval.loading import DTYPES, load, resolve_card
from titan_eval.models.registry import get_architecture

CARDS = ("titan-tiny", "mamba-tiny", "helix-tiny", "h64lm-tiny")


def _write(model: torch.nn.Module, folder: Path, fmt: str) -> Path:
    state = model.state_dict()
    if fmt == "pt":
        path = folder / "ckpt.pt"
        torch.save({"model": state}, path)
    else:
        path = folder / "model.safetensors"
        save_file({k: v.clone().contiguous() for k, v in state.items()}, str(path))  # tied tensors stored twice
    return path


def _old_loading(card_name: str, path: Path, dtype: torch.dtype) -> torch.nn.Module:
    """What loading did before: the seeded random model, a strict copy of the file's tensors, then the dtype."""
    from titan_eval.checkpoints import read_file

    card = resolve_card(card_name, str(path), None)
    cls = get_architecture(card.arch)
    state = cls.state_dict_from_checkpoint(read_file(path))
    model = cls.from_config(cls.config_for_checkpoint(card.config, state))
    load_strict(model, state)
    return model.to(dtype=dtype).eval()


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("chunk", [None, 4096], ids=["whole-tensors", "4KiB-slices"])
def test_mapped_meta_loading_equals_the_old_loading_bit_for_bit(card: str, dtype: str, fmt: str, chunk: int | None,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if chunk is not None:  # every tensor over 4 KiB converted slice by slice, each slice's source pages released
        if dtype == "float32":
            pytest.skip("nothing is converted in float32")
        monkeypatch.setattr(mapped_weights, "CONVERT_CHUNK_BYTES", chunk)
    source = titan_eval.load_model(card)
    with torch.no_grad():  # weights unlike the seeded init, so loading them is visible
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    path = _write(source, tmp_path, fmt)
    new = load(card, checkpoint=str(path), device="cpu", dtype=dtype).model
    old = _old_loading(card, path, DTYPES[dtype])
    want = dict(old.state_dict(keep_vars=True))
    got = dict(new.state_dict(keep_vars=True))
    assert list(got) == list(want)
    for key, tensor in want.items():
        assert got[key].dtype == tensor.dtype and got[key].device.type == "cpu", key
        assert torch.equal(got[key], tensor), key
    assert {n: b.dtype for n, b in new.named_buffers()} == {n: b.dtype for n, b in old.named_buffers()}
    assert all(torch.equal(b, dict(old.named_buffers())[n]) for n, b in new.named_buffers())
    assert sum(p.numel() for p in new.parameters()) == sum(p.numel() for p in old.parameters())  # ties kept
    ids = torch.randint(3, 200, (2, 11))
    with torch.no_grad():
        assert torch.equal(new(ids), old(ids))


SKELETON = """
import sys
from titan_eval.cards import load_card
from titan_eval.loading import _construct
from titan_eval.mapped_weights import meta_skeleton
from titan_eval.models.registry import get_architecture
card = load_card(sys.argv[1])
with meta_skeleton():
    model = _construct(get_architecture(card.arch), {**card.config, 'init_seed': 0}, card)
assert all(t.is_meta for t in [*model.parameters(), *model.buffers()])
print('torch._dynamo' in sys.modules)
"""


@pytest.mark.parametrize("card", ["mamba-1.4b", "titan-1.4b-sft20", "helix-v2-1b", "h64lm-249m", *CARDS])
def test_the_meta_skeleton_computes_nothing(card: str) -> None:
    """Building the skeleton runs no arithmetic on meta tensors: torch does that through Python reference ops whose
    first call imports torch._dynamo (74 MB resident and ≈ 1.7 s on every checkpoint load, measured)."""
    proc = subprocess.run([sys.executable, "-c", SKELETON, card], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False", "building the meta skeleton imported torch._dynamo"


CHILD = """
import json, sys
from titan_eval.loading import load
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
card = lambda name, config: {'arch': 'mamba', 'name': name, 'config': config}
load(card('small', json.loads(sys.argv[1])), checkpoint=sys.argv[2], device='cpu', dtype=sys.argv[5])  # imports
before = hwm()
model = load(card('mid', json.loads(sys.argv[3])), checkpoint=sys.argv[4], device='cpu', dtype=sys.argv[5]).model
print(json.dumps({'grew': hwm() - before, 'bytes': sum(p.numel() * p.element_size() for p in model.parameters())}))
"""
SMALL = {"d_model": 32, "n_layer": 1, "vocab_size": 300}
MID = {"d_model": 1024, "n_layer": 12, "vocab_size": 1024, "pad_vocab_size_multiple": 8}


@pytest.fixture(scope="module")
def mid_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """{format: (a tiny Mamba checkpoint, a ≈ 300 MB fp32 one: d 1024 × 12 layers)}; the tiny one is loaded first
    so the measured growth is the big one's, not the first use of the loading code."""
    out = {}
    for fmt in ("pt", "safetensors"):
        folders = [tmp_path_factory.mktemp(f"{name}-{fmt}") for name in ("small", "mid")]
        out[fmt] = tuple(_write(titan_eval.load_model({"arch": "mamba", "config": c}), f, fmt)
                         for c, f in zip((SMALL, MID), folders))
    return out


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_peak_rss_while_loading_stays_near_the_weights_bytes(mid_checkpoints: dict[str, tuple[Path, Path]],
                                                             fmt: str, dtype: str) -> None:
    small, mid = mid_checkpoints[fmt]
    env = {**os.environ, "TITAN_EVAL_CACHE": str(mid.parent / "cache")}  # digests stay out of the user's cache
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(SMALL), str(small), json.dumps(MID), str(mid),
                           dtype], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["bytes"] > (120e6 if dtype == "bfloat16" else 250e6)
    assert out["grew"] <= 1.3 * out["bytes"], (out["grew"] / out["bytes"], out)
