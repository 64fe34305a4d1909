"""Issue 32: reference-vector parity on a device, for `benchmarks/gpu_check.sh`.

    PYTHONPATH=. python benchmarks/gpu_parity.py [--device cuda]

Each reference vector of ../shared/vectors (Titan, Helix in both Mamba layouts and both GLA decays, H64LM with ALiBi
and RoPE) is saved like a real checkpoint, loaded through the public API and run on --device:
  torch / fp32    the pure-PyTorch path                   max |Δ logit| ≤ 1e-4 on CPU, ≤ 2e-3 on CUDA (TF32 off)
  kernel / fp32   mamba-ssm's selective scan (Mamba layers; only where mamba-ssm imports)    ≤ 2e-3
  auto / bf16     weights and activations in bfloat16, log-softmax in fp32: the mean |Δ log-prob| of the inputs'
                  next tokens ≤ 0.03 nats and the max ≤ 0.5. bf16 keeps 8 bits of mantissa; where a near-tie in a
                  top-2 choice (Titan's arms, H64LM's experts) flips, that token's log-prob moves by a few tenths
                  (on CPU: max 0.17 Titan, 0.22 H64LM, mean ≤ 0.019; Helix max 0.005).
One line per check and a summary; exit 1 when any check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, table  # noqa: E402

VECTORS = [  # (file, arch, logits entry, config overrides)
    ("titan_tiny.pt", "titan", "logits", {}),
    ("helix_tiny_native.pt", "helix", "logits", {"gla_decay": "value"}),
    ("helix_tiny_ssm.pt", "helix", "logits", {"gla_decay": "value"}),
    ("helix_tiny_ssm.pt", "helix", "logits_gla_keydecay", {"gla_decay": "key"}),
    ("h64lm_tiny.pt", "h64lm", "logits", {}),
    ("h64lm_tiny_rope.pt", "h64lm", "logits", {}),
]
FP32_TOL = {"cpu": 1e-4, "cuda": 2e-3}
BF16_MEAN, BF16_MAX = 0.03, 0.5


def _config(vec: dict[str, Any], arch: str) -> dict[str, Any]:
    return dict(vec["config"]["constructor"]) if arch == "titan" else dict(vec["config"])


def check(device: str) -> list[list[str]]:
    import torch

    import titan_eval
    from titan_eval.models.ops.kernels import kernel_status

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    has_kernel = device.startswith("cuda") and kernel_status()["mamba_ssm.selective_scan_fn"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, entry, extra in VECTORS:
            vec = torch.load(SHARED / "vectors" / name, map_location="cpu", weights_only=True)
            path = Path(tmp) / name
            torch.save(vec["checkpoint"], path)
            card = {"arch": arch, "config": {**_config(vec, arch), **extra}}
            policies = [("torch", torch.float32), ("auto", torch.bfloat16)]
            if has_kernel and arch in ("helix", "titan"):
                policies.insert(1, ("kernel", torch.float32))
            for policy, dtype in policies:
                model = titan_eval.load_model(card, checkpoint=path).to(device=device, dtype=dtype).eval()
                model.set_kernel_policy(policy)
                for inp in ("batch", "long"):
                    ids = vec["inputs"][inp].to(device)
                    with torch.no_grad():
                        got = model(ids).float().cpu()
                    want = vec[entry][inp].float()
                    label = f"{name} {entry} {inp}"
                    if dtype == torch.float32:
                        err = float((got - want).abs().max())
                        tol = FP32_TOL["cuda" if device.startswith("cuda") else "cpu"]
                        rows.append([label, policy, "float32", f"max |Δ logit| {err:.2e}", f"≤ {tol:g}",
                                     "ok" if err <= tol else "FAIL"])
                    else:
                        lp_got = torch.log_softmax(got, -1)[:, :-1].gather(-1, ids.cpu()[:, 1:, None])
                        lp_want = torch.log_softmax(want, -1)[:, :-1].gather(-1, ids.cpu()[:, 1:, None])
                        d = (lp_got - lp_want).abs()
                        ok = float(d.mean()) <= BF16_MEAN and float(d.max()) <= BF16_MAX
                        rows.append([label, policy, "bfloat16",
                                     f"|Δ log-prob| mean {float(d.mean()):.4f}, max {float(d.max()):.4f}",
                                     f"≤ {BF16_MEAN:g} / {BF16_MAX:g}", "ok" if ok else "FAIL"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    a = parser.parse_args()
    if not (SHARED / "vectors").is_dir():
        raise SystemExit(f"reference vectors not found under {SHARED / 'vectors'} (set TITAN_EVAL_SHARED)")
    rows = check(a.device)
    print(table(["vector", "path", "dtype", "difference", "tolerance", "result"], rows))
    failed = sum(r[-1] != "ok" for r in rows)
    print(f"parity on {a.device}: {len(rows) - failed} of {len(rows)} checks ok")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
