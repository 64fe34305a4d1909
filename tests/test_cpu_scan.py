"""The compiled CPU selective scan (`models/ops/cpu_scan.py`): equal to the fp64 definition within fp32 rounding
(state carried in, D skip, padded Δ = 0 steps, odd state sizes, length 1), a row's output independent of its batch,
NaN confined to its row, the same logits as the PyTorch loop through a whole model, and the backend recorded —
`cpu-scan` by default, `torch` under `--kernels torch` or `TITAN_EVAL_CPU_SCAN=0`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from titan_eval.models.ops import cpu_scan
from titan_eval.models.ops.selective_scan import selective_scan_fused, selective_scan_sequential

needs_kernel = pytest.mark.skipif(not cpu_scan.available(), reason="the CPU scan kernel did not build here (needs a "
                                  "C++ compiler and ninja: Debian g++ ninja-build; .ci/run installs them)")


def _inputs(batch: int, channels: int, length: int, n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    delta = torch.nn.functional.softplus(torch.randn(batch, channels, length, generator=g) - 1)
    delta[-1, :, length // 2:] = 0.0  # right padding of the last row: Δ = 0 leaves the state as it is
    return {"u": torch.randn(batch, channels, length, generator=g), "delta": delta,
            "A": -torch.rand(channels, n, generator=g) * 4, "B": torch.randn(batch, n, length, generator=g),
            "C": torch.randn(batch, n, length, generator=g), "D": torch.randn(channels, generator=g),
            "h0": torch.randn(batch, channels, n, generator=g)}


@needs_kernel
@pytest.mark.parametrize("shape", [(3, 24, 37, 16), (2, 8, 1, 16), (4, 5, 19, 5), (1, 64, 130, 32)])
def test_equals_the_definition_within_fp32_rounding(shape: tuple[int, int, int, int]) -> None:
    x = _inputs(*shape)
    y, h = cpu_scan.cpu_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["h0"])
    y_ref, h_ref = selective_scan_sequential(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["h0"])
    scale = float(y_ref.abs().max())
    assert float((y.double() - y_ref).abs().max()) <= 2e-6 * scale
    assert float((h.double() - h_ref).abs().max()) <= 2e-6 * float(h_ref.abs().max())
    y_loop, _ = selective_scan_fused(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["h0"])
    assert float((y - y_loop).abs().max()) <= 2e-6 * scale  # the PyTorch loop it replaces


@needs_kernel
def test_a_rows_output_does_not_depend_on_its_batch_and_nan_stays_in_its_row() -> None:
    x = _inputs(4, 16, 29, 16)
    y, _ = cpu_scan.cpu_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["h0"])
    alone, _ = cpu_scan.cpu_scan(x["u"][2:3], x["delta"][2:3], x["A"], x["B"][2:3], x["C"][2:3], x["D"], x["h0"][2:3])
    assert torch.equal(alone[0], y[2])  # bit for bit
    x["u"][1, 3, 10] = float("nan")
    y_nan, _ = cpu_scan.cpu_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["h0"])
    assert torch.isnan(y_nan[1, 3, 10:]).all() and not torch.isnan(y_nan[1, 3, :10]).any()
    assert not torch.isnan(y_nan[[0, 2, 3]]).any() and not torch.isnan(y_nan[1, [0, 1, 2, 4]]).any()


@needs_kernel
@pytest.mark.parametrize("card", ["mamba-tiny", "titan-tiny", "helix-tiny"])
def test_a_whole_model_scores_the_same_on_both_paths_and_records_its_backend(card: str) -> None:
    from titan_eval.loading import load

    compiled = load(card, device="cpu")
    plain = load(card, device="cpu", kernels="torch")
    assert compiled.model.backend == "cpu-scan" and plain.model.backend == "torch"
    ids = torch.randint(3, 200, (3, 41), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = compiled.model(ids), plain.model(ids)
    assert float((a - b).abs().max()) <= 1e-4 * float(b.abs().max())


def test_switched_off_by_the_environment() -> None:
    code = ("import json; from titan_eval.loading import load; "
            "print(json.dumps(load('mamba-tiny', device='cpu').model.backend))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "TITAN_EVAL_CPU_SCAN": "0"}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == "torch"


def test_each_torch_installation_builds_its_own_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build folder's name depends on which torch it compiles against: the ninja file names that torch's
    headers, so two environments sharing one folder would rebuild each other's kernel on every switch."""
    from titan_eval.models.ops import cpu_scan

    _, here = cpu_scan._source()
    monkeypatch.setattr(torch, "__file__", "/elsewhere/venv/lib/python3.11/site-packages/torch/__init__.py")
    _, elsewhere = cpu_scan._source()
    assert here != elsewhere
