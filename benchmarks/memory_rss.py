"""Target 5: peak resident memory of a whole titan-eval scoring process, 2,000 documents vs 200.

    PYTHONPATH=. python benchmarks/memory_rss.py [--small 200 --large 2000] [--repeats 1] [--device cuda --dtype bfloat16]

Each child process loads the seeded random transformers Mamba-1 (d_model 256, 4 layers, GPT-NeoX vocabulary) with
titan-eval's `TitanEvalLM` and runs lm-eval `evaluate()` on ARC-Easy (test: 2,376 documents) limited to the first N
documents, then reports its peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`) and its RSS just before scoring.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, add_device_args, hf_mamba_dir, machine, median, parse_device_args, run_child, table, titan_eval_card  # noqa: E402


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: argparse.Namespace) -> None:
    from lm_eval.evaluator import evaluate

    from titan_eval.adapter import TitanEvalLM
    from titan_eval.tasks.catalog import load_lm_eval_tasks

    lm = TitanEvalLM(card=titan_eval_card(), checkpoint=args.model_dir, device=args.device, batch_size=16,
                     dtype=args.dtype)
    tasks = load_lm_eval_tasks(["arc_easy"], str(DATA))
    before = rss_mib()
    out = evaluate(lm, tasks, samples={"arc_easy": list(range(args.n))}, log_samples=False, verbosity="ERROR")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    Path(args.out).write_text(json.dumps({"before": before, "peak": peak, "acc": out["results"]["arc_easy"]["acc,none"]}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.set_defaults(repeats=1)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=2000)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parse_device_args(parser)
    if args.n:
        return child(args)
    res: dict[int, list[dict]] = {args.small: [], args.large: []}
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = hf_mamba_dir(Path(tmp) / "hf-mamba")
        for _ in range(args.repeats):
            for n in res:
                out = Path(tmp) / f"{n}.json"
                wall = run_child([__file__, "--n", str(n), "--model-dir", str(model_dir), "--out", str(out),
                                  "--device", args.device, "--dtype", args.dtype, "--threads", str(args.threads)])
                res[n].append({**json.loads(out.read_text()), "wall": wall})
    print(f"machine: {machine()}; device {args.device}, dtype {args.dtype}")
    rows = [[n, " / ".join(f"{r['before']:.0f}" for r in rs), " / ".join(f"{r['peak']:.0f}" for r in rs),
             " / ".join(f"{r['wall']:.0f}" for r in rs)] for n, rs in res.items()]
    print(table(["ARC-Easy docs", "RSS before scoring MiB", "peak RSS MiB", "wall s"], rows))
    small = median([r["peak"] for r in res[args.small]])
    large = median([r["peak"] for r in res[args.large]])
    print(f"\npeak RSS {args.large} docs / {args.small} docs: {large / small:.3f} ({(large / small - 1):+.1%})")


if __name__ == "__main__":
    main()
