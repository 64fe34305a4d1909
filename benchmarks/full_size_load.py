"""Issue 32, target 1 (loading at real size): peak RSS and wall time of loading the real mamba-1.4b shape.

    PYTHONPATH=. python benchmarks/full_size_load.py [--repeats 3] [--dir /scratch/mamba-1.4b]

A transformers `MambaForCausalLM` of the card's real shape (d_model 2048 × 48 layers, GPT-NeoX vocabulary 50280,
tied embeddings; about 1.37B parameters, 5.5 GB in fp32) with seeded random weights is written once as a
safetensors directory. Each side then runs in its own child process (interleaved repeats), which imports its
libraries, records VmHWM (peak RSS), loads, and reports the growth of VmHWM and the load's wall time:
  titan-eval fp32 / bf16   `titan_eval.loading.load(card, checkpoint=DIR, dtype=…)` (the path `titan-eval run` takes)
  transformers fp32 / bf16 `MambaForCausalLM.from_pretrained(DIR, dtype=…)`
The ratio is peak-RSS growth over the weights' bytes in the run dtype (target ≤ 1.25×).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, fmt_times, hf_mamba_dir, machine, median, table, titan_eval_card  # noqa: E402

CHILD = """
import json, sys, time
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
side, folder, dtype = sys.argv[1], sys.argv[2], sys.argv[3]
import torch
if side == 'titan-eval':
    from titan_eval.loading import load
    card = json.loads(sys.argv[4])
else:
    import transformers
before, start = hwm(), time.perf_counter()
if side == 'titan-eval':
    model = load(card, checkpoint=folder, device='cpu', dtype=dtype).model
else:
    model = transformers.MambaForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
seconds = time.perf_counter() - start
weights = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({'grew': hwm() - before, 'seconds': seconds, 'weights': weights}))
"""


def measure(side: str, folder: Path, dtype: str) -> dict:
    argv = [sys.executable, "-c", CHILD, side, str(folder), dtype, json.dumps(titan_eval_card())]
    done = subprocess.run(argv, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                                                     "OMP_NUM_THREADS": "1"})
    if done.returncode != 0:
        raise SystemExit(f"{side} {dtype} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="Where the checkpoint is written (default: a temp dir).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = hf_mamba_dir(args.dir or Path(tmp) / "mamba-1.4b", d_model=2048, n_layer=48)
        sides = [(s, d) for d in ("float32", "bfloat16") for s in ("titan-eval", "transformers")]
        results: dict[tuple[str, str], list[dict]] = {k: [] for k in sides}
        for _ in range(args.repeats):
            for side, dtype in sides:
                results[(side, dtype)].append(measure(side, folder, dtype))
        file_bytes = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    rows = []
    for (side, dtype), runs in results.items():
        weights = runs[0]["weights"]
        grew = median([r["grew"] for r in runs])
        rows.append([side, dtype, f"{weights / 1e9:.2f}", fmt_times([r["seconds"] for r in runs]),
                     f"{grew / 1e9:.2f}", f"{grew / weights:.2f}x"])
    print(machine())
    print(f"mamba-1.4b shape, seeded random weights, safetensors {file_bytes / 1e9:.2f} GB; medians of {args.repeats}")
    print(table(["side", "dtype", "weights GB", "load wall s (repeats)", "peak RSS growth GB (median)",
                 "growth / weights"], rows))


if __name__ == "__main__":
    main()
