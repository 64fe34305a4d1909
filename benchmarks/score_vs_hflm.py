"""Target 1: log-likelihood scoring, whole process, titan-eval vs lm-eval's HFLM on the same transformers weights.

    PYTHONPATH=. python benchmarks/score_vs_hflm.py [--docs 200] [--repeats 3] [--device cuda --dtype bfloat16]

One seeded random transformers `MambaForCausalLM` (d_model 256, 4 layers, GPT-NeoX vocabulary 50280) is saved to a
temporary folder. Each repeat runs three child processes, interleaved, on ARC-Easy (test) and HellaSwag (validation
subset), the first `--docs` documents of each, from ../shared/data:
  hflm            lm-eval `evaluate()` with `HFLM(pretrained=<folder>)` (lm-eval's leanest path: no CLI, no task
                  index, no result files);
  titan-eval run  the user's command, `titan-eval run arc_easy hellaswag --model mamba --checkpoint <folder>
                  --data-dir … --limit N --batch-size B --output …` as a whole process (imports, validation, loading,
                  the chunked runs with routing/progress/resume bookkeeping, provenance, run.json, samples.jsonl);
  in-process      the same `evaluate()` as hflm with titan-eval's `TitanEvalLM` (the adapter path of
                  `lm_eval --model titan-eval`), for comparison with earlier figures.
Each child's wall time (interpreter start to exit) is measured by the parent. Then every request's log-likelihood
and every document's acc / acc_norm are compared between hflm and the CLI run's samples.jsonl (and the greedy flags
between hflm and the in-process side, whose records carry them).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, add_device_args, add_model_args, fmt_times, machine, mamba_dir_for, median, parse_device_args, run_child, table, titan_eval_card  # noqa: E402

SIDES = ("hflm", "titan-eval run", "in-process")

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
    if args.round_weights:  # bf16 weights, fp32 arithmetic: what bf16 storage alone costs (bf16_drift.py)
        import torch

        with torch.no_grad():
            for param in lm.model.parameters():
                param.copy_(param.to(torch.bfloat16))
    tasks = load_lm_eval_tasks(TASKS, str(DATA))
    out = evaluate(lm, tasks, samples={t: list(range(args.docs)) for t in TASKS}, log_samples=True, verbosity="ERROR")
    samples = {t: sorted(({"doc": s["doc_id"], "resps": [r[0] for r in s["resps"]], "acc": s["acc"],
                           "acc_norm": s["acc_norm"]} for s in out["samples"][t]), key=lambda s: s["doc"])
               for t in TASKS}
    Path(args.out).write_text(json.dumps(samples))


def cli_argv(args: argparse.Namespace, model_dir: Path, out: Path) -> list[str]:
    """`titan-eval run` exactly as a user types it (through `python -m titan_eval`, the same entry point)."""
    return ["-m", "titan_eval", "run", *TASKS, "--model", "mamba", "--checkpoint", str(model_dir), "--data-dir",
            str(DATA), "--limit", str(args.docs), "--batch-size", str(args.batch_size), "--device", args.device,
            "--dtype", args.dtype, "--output", str(out)]


def cli_samples(run_dir: Path) -> dict:
    """The CLI run's samples.jsonl in the children's comparison layout (greedy flags are not stored there)."""
    lines = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    return {t: sorted(({"doc": ln["doc_id"], "resps": [(lp, None) for lp in ln["logprobs"]], "acc": ln["acc"],
                        "acc_norm": ln["acc_norm"]} for ln in lines if ln["task"] == t), key=lambda s: s["doc"])
            for t in TASKS}


def compare(a: dict, b: dict) -> dict:
    worst, requests, greedy_diff, pred_diff = 0.0, 0, 0, 0
    for task in TASKS:
        for sa, sb in zip(a[task], b[task], strict=True):
            assert sa["doc"] == sb["doc"]
            for (la, ga), (lb, gb) in zip(sa["resps"], sb["resps"], strict=True):
                worst = max(worst, abs(la - lb))
                greedy_diff += ga is not None and gb is not None and ga != gb
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
    add_model_args(parser)
    parser.add_argument("--side", choices=["hflm", "titan-eval"], help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--round-weights", action="store_true", help=argparse.SUPPRESS)
    args = parse_device_args(parser)
    if args.side:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = mamba_dir_for(args, tmp)
        common = [__file__, "--model-dir", str(model_dir), "--docs", str(args.docs), "--batch-size",
                  str(args.batch_size), "--device", args.device, "--dtype", args.dtype, "--threads", str(args.threads)]
        times: dict[str, list[float]] = {side: [] for side in SIDES}
        for repeat in range(args.repeats):
            times["hflm"].append(run_child([*common, "--side", "hflm", "--out", str(Path(tmp) / "hflm.json")]))
            run_dir = Path(tmp) / f"cli-run-{repeat}"
            times["titan-eval run"].append(run_child(cli_argv(args, model_dir, run_dir)))
            times["in-process"].append(run_child([*common, "--side", "titan-eval", "--out",
                                                  str(Path(tmp) / "titan-eval.json")]))
        theirs = json.loads((Path(tmp) / "hflm.json").read_text())
        cli = cli_samples(run_dir)
        in_process = json.loads((Path(tmp) / "titan-eval.json").read_text())
    print(f"machine: {machine()}; device {args.device}, dtype {args.dtype}, batch size {args.batch_size}")
    print(f"model: random transformers MambaForCausalLM d_model {args.d_model}, {args.n_layer} layers, vocab 50280; "
          f"tasks {', '.join(TASKS)}, {args.docs} docs each; whole child processes timed, interleaved")
    base = median(times["hflm"])
    print(table(["side", "wall s (repeats)", "median s", "hflm / side"],
                [[s, fmt_times(t), f"{median(t):.2f}", f"{base / median(t):.2f}x"] for s, t in times.items()]))
    print(f"\nspeed-up of the user's command (median hflm / median titan-eval run): "
          f"{base / median(times['titan-eval run']):.2f}x; in-process adapter: {base / median(times['in-process']):.2f}x")
    for name, ours in (("titan-eval run", cli), ("in-process", in_process)):
        agreement = compare(theirs, ours)
        print(f"agreement hflm vs {name}: {agreement['requests']} requests, max |Δ log-likelihood| "
              f"{agreement['max_abs_diff']:.1e}, greedy-flag differences {agreement['greedy_flag_diffs']}, "
              f"prediction/acc differences {agreement['prediction_diffs']}")


if __name__ == "__main__":
    main()
