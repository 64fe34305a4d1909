"""Target 1: log-likelihood scoring, whole process, titan-eval vs lm-eval's HFLM on the same transformers weights.

    PYTHONPATH=. python benchmarks/score_vs_hflm.py [--docs 200] [--repeats 3] [--device cuda --dtype bfloat16]

One seeded random transformers `MambaForCausalLM` (d_model 256, 4 layers, GPT-NeoX vocabulary 50280) is saved to a
temporary folder. Each repeat runs two child processes, interleaved: lm-eval `evaluate()` with
`HFLM(pretrained=<folder>)`, and the same `evaluate()` with titan-eval's `TitanEvalLM` loading the same folder, on
ARC-Easy (test) and HellaSwag (validation subset), the first `--docs` documents of each, from ../shared/data. Each
child's wall time (interpreter start to exit: imports, loading, task building, scoring) is measured by the parent.
Then every request's log-likelihood and greedy flag and every document's acc / acc_norm prediction are compared.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, add_device_args, fmt_times, hf_mamba_dir, machine, median, parse_device_args, run_child, table, titan_eval_card  # noqa: E402

TASKS = ["arc_easy", "hellaswag"]


def child(args: argparse.Namespace) -> None:
    from lm_eval.evaluator import evaluate

    from titan_eval.tasks.catalog import load_lm_eval_tasks

    if args.side == "hflm":
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=args.model_dir, backend="causal", device=args.device, batch_size=args.batch_size,
                  dtype=args.dtype)
    else:
        from titan_eval.adapter import TitanEvalLM

        lm = TitanEvalLM(card=titan_eval_card(), checkpoint=args.model_dir, device=args.device,
                         batch_size=args.batch_size, dtype=args.dtype)
    tasks = load_lm_eval_tasks(TASKS, str(DATA))
    out = evaluate(lm, tasks, samples={t: list(range(args.docs)) for t in TASKS}, log_samples=True, verbosity="ERROR")
    samples = {t: sorted(({"doc": s["doc_id"], "resps": [r[0] for r in s["resps"]], "acc": s["acc"],
                           "acc_norm": s["acc_norm"]} for s in out["samples"][t]), key=lambda s: s["doc"])
               for t in TASKS}
    Path(args.out).write_text(json.dumps(samples))


def compare(a: dict, b: dict) -> dict:
    worst, requests, greedy_diff, pred_diff = 0.0, 0, 0, 0
    for task in TASKS:
        for sa, sb in zip(a[task], b[task], strict=True):
            assert sa["doc"] == sb["doc"]
            for (la, ga), (lb, gb) in zip(sa["resps"], sb["resps"], strict=True):
                worst = max(worst, abs(la - lb))
                greedy_diff += ga != gb
                requests += 1
            lls_a = [r[0] for r in sa["resps"]]
            lls_b = [r[0] for r in sb["resps"]]
            pred_diff += max(range(len(lls_a)), key=lls_a.__getitem__) != max(range(len(lls_b)), key=lls_b.__getitem__)
            pred_diff += (sa["acc"] != sb["acc"]) + (sa["acc_norm"] != sb["acc_norm"])
    return {"requests": requests, "max_abs_diff": worst, "greedy_flag_diffs": greedy_diff, "prediction_diffs": pred_diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--n-layer", type=int, default=4)
    parser.add_argument("--side", choices=["hflm", "titan-eval"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parse_device_args(parser)
    if args.side:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = hf_mamba_dir(Path(tmp) / "hf-mamba", args.d_model, args.n_layer)
        common = [__file__, "--model-dir", str(model_dir), "--docs", str(args.docs), "--batch-size",
                  str(args.batch_size), "--device", args.device, "--dtype", args.dtype, "--threads", str(args.threads)]
        times: dict[str, list[float]] = {"hflm": [], "titan-eval": []}
        for _ in range(args.repeats):
            for side in times:
                times[side].append(run_child([*common, "--side", side, "--out", str(Path(tmp) / f"{side}.json")]))
        theirs = json.loads((Path(tmp) / "hflm.json").read_text())
        ours = json.loads((Path(tmp) / "titan-eval.json").read_text())
    agreement = compare(theirs, ours)
    ratio = median(times["hflm"]) / median(times["titan-eval"])
    print(f"machine: {machine()}; device {args.device}, dtype {args.dtype}, batch size {args.batch_size}")
    print(f"model: random transformers MambaForCausalLM d_model {args.d_model}, {args.n_layer} layers, vocab 50280; "
          f"tasks {', '.join(TASKS)}, {args.docs} docs each; whole child process timed")
    print(table(["side", "wall s (repeats)", "median s"],
                [[s, fmt_times(t), f"{median(t):.2f}"] for s, t in times.items()]))
    print(f"\nspeed-up (median hflm / median titan-eval): {ratio:.2f}x")
    print(f"agreement: {agreement['requests']} requests, max |Δ log-likelihood| {agreement['max_abs_diff']:.1e}, "
          f"greedy-flag differences {agreement['greedy_flag_diffs']}, prediction/acc differences "
          f"{agreement['prediction_diffs']}")


if __name__ == "__main__":
    main()
