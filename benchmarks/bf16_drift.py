"""How far bf16 log-likelihoods move from fp32, titan-eval and lm-eval's HFLM side by side, on the same weights.

    PYTHONPATH=. python benchmarks/bf16_drift.py [--d-model 2048 --n-layer 48] [--docs 10] [--dir DIR]

One seeded random transformers `MambaForCausalLM` (the `score_vs_hflm.py` model; d_model 2048 × 48 is
mamba-1.4b's shape) is saved once into --dir (kept, reused). Four child processes score the same lm-eval requests
(ARC-Easy test and HellaSwag validation, the first --docs documents of each) through lm-eval's `evaluate()`:
HFLM and titan-eval's adapter (`TitanEvalLM`, the path `titan-eval run` scores with), each in float32, in
bfloat16, and in float32 with every weight first rounded to bfloat16 ("bf16 weights, fp32 math": what storing the
weights in bf16 costs by itself, whatever the arithmetic). Printed: each side's bf16 and rounded-weight
log-likelihoods against its own fp32 ones and against the other side's fp32 (max and median |Δ| in nats, median
|Δ| relative to |fp32|, documents whose prediction changes), and the two fp32 runs against each other (the
reference: they should agree to float rounding).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_model_args, mamba_dir_for, machine, run_child, table  # noqa: E402

SIDES = {"hflm": "lm-eval HFLM", "titan-eval": "titan-eval (adapter)"}
VARIANTS = {"float32": ["--dtype", "float32"], "bfloat16": ["--dtype", "bfloat16"],
            "rounded": ["--dtype", "float32", "--round-weights"]}
SCORER = str(Path(__file__).resolve().parent / "score_vs_hflm.py")


def flat(samples: dict) -> tuple[list[float], list[int]]:
    """(every request's log-likelihood, every document's argmax choice) in one fixed order."""
    lls, picks = [], []
    for task in sorted(samples):
        for doc in samples[task]:
            doc_lls = [r[0] for r in doc["resps"]]
            lls.extend(doc_lls)
            picks.append(max(range(len(doc_lls)), key=doc_lls.__getitem__))
    return lls, picks


def drift(got: dict, ref: dict) -> list[str]:
    """[max |Δ|, median |Δ|, median |Δ| / |ref|, prediction changes] of `got` against `ref`."""
    (a, pa), (b, pb) = flat(got), flat(ref)
    diffs = [abs(x - y) for x, y in zip(a, b, strict=True)]
    rel = [d / max(abs(y), 1e-9) for d, y in zip(diffs, b)]
    changed = sum(x != y for x, y in zip(pa, pb, strict=True))
    return [f"{max(diffs):.3g}", f"{statistics.median(diffs):.3g}", f"{statistics.median(rel):.2e}",
            f"{changed} / {len(pa)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    add_model_args(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = mamba_dir_for(args, tmp)
        out: dict[tuple[str, str], dict] = {}
        for variant, flags in VARIANTS.items():
            for side in SIDES:
                path = Path(tmp) / f"{side}-{variant}.json"
                run_child([SCORER, "--side", side, "--model-dir", str(model_dir), "--docs", str(args.docs),
                           "--batch-size", str(args.batch_size), "--device", "cpu", *flags,
                           "--threads", str(args.threads), "--out", str(path)])
                out[side, variant] = json.loads(path.read_text())
    print(f"machine: {machine()}")
    print(f"model: random transformers MambaForCausalLM d_model {args.d_model} x {args.n_layer} layers; ARC-Easy + "
          f"HellaSwag, first {args.docs} docs each, lm-eval evaluate(), CPU")
    rows = [["fp32: titan-eval vs HFLM", *drift(out["titan-eval", "float32"], out["hflm", "float32"])]]
    for side, name in SIDES.items():
        other = next(s for s in SIDES if s != side)
        for variant, label in (("bfloat16", "bf16"), ("rounded", "bf16 weights, fp32 math,")):
            rows.append([f"{name} {label} vs its own fp32", *drift(out[side, variant], out[side, "float32"])])
            rows.append([f"{name} {label} vs {SIDES[other]} fp32", *drift(out[side, variant], out[other, "float32"])])
    rows.append(["bf16: titan-eval vs HFLM", *drift(out["titan-eval", "bfloat16"], out["hflm", "bfloat16"])])
    rows.append(["bf16 weights, fp32 math: titan-eval vs HFLM",
                 *drift(out["titan-eval", "rounded"], out["hflm", "rounded"])])
    print(table(["comparison", "max |Δ ll| nats", "median |Δ ll|", "median |Δ| / |ll|", "predictions changed"],
                rows))


if __name__ == "__main__":
    main()
