"""Issue 23: the cost of batch-invariant (`--deterministic`) scoring against the batched path, same process, same
requests, interleaved; with exact-equality checks.

    .venv/bin/python benchmarks/batch_invariance.py [--card titan-tiny ...] [--docs 60] [--batch-size 16]
        [--repeats 2] [--threads 1] [--think-budget 4]

Per card, two levels:
- engine: `score` over the ARC-Easy requests of the first `--docs` test documents (ll), batched at `--batch-size`
  vs `deterministic=True` (one request per model call);
- run: in-process `titan-eval run arc_easy --limit DOCS --mode ll,cot --think-budget N --batch-size B` with and
  without `--deterministic` (lm-eval's evaluate, think generation and the writer included: the user's cost).
Checks: deterministic results at batch size B are bitwise those at batch size 1 (engine: `torch.equal` of the
per-token log-probs; run: byte-identical samples.jsonl), and the batched path's max |Δ| against them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from _common import DATA, add_device_args, arc_requests, fmt_times, interleave, machine, median, parse_device_args, table
from titan_eval.engine import score
from titan_eval.loading import load
from titan_eval.runner import RunOptions, run

CARDS = ("titan-tiny", "mamba-tiny", "helix-tiny", "h64lm-tiny")


def token_logprobs(results) -> torch.Tensor:
    return torch.tensor([lp for r in results for lp in r.token_logprobs])


def run_samples(loaded, args: argparse.Namespace, batch_size: int, deterministic: bool) -> bytes:
    """samples.jsonl of one in-process run (ll and cot) into a fresh folder."""
    out = Path(tempfile.mkdtemp(prefix="bi-"))
    options = RunOptions(tasks=("arc_easy",), modes=("ll", "cot"), data_dir=str(DATA), limit=args.docs,
                         batch_size=batch_size, output_dir=str(out), think={"think_budget": args.think_budget},
                         deterministic=deterministic)
    run(loaded, options)
    return (out / "samples.jsonl").read_bytes()


def max_line_diff(a: bytes, b: bytes) -> float:
    """max |Δ| of the per-choice summed log-probs between two samples.jsonl files of the same documents."""
    worst = 0.0
    for la, lb in zip(a.decode().splitlines(), b.decode().splitlines()):
        xa, xb = json.loads(la), json.loads(lb)
        worst = max([worst, *(abs(x - y) for x, y in zip(xa["logprobs"], xb["logprobs"]))])
    return worst


def bench_card(card: str, args: argparse.Namespace) -> tuple[list[object], list[object]]:
    loaded = load(card, device=args.device)
    model, b = loaded.model, args.batch_size
    reqs = arc_requests(loaded.tokenizer, args.docs)
    score(model, reqs[:8], b)  # warm-up
    res: dict[str, object] = {}
    sides = {"batched": lambda: res.__setitem__("batched", score(model, reqs, b)),
             "deterministic": lambda: res.__setitem__("det", score(model, reqs, b, deterministic=True))}
    t = interleave(sides, args.repeats)
    det_1 = token_logprobs(score(model, reqs, 1, deterministic=True))
    det_b, batched = token_logprobs(res["det"]), token_logprobs(res["batched"])
    engine = [card, len(reqs), fmt_times(t["batched"]), fmt_times(t["deterministic"]),
              f"{median(t['deterministic']) / median(t['batched']):.2f}×", torch.equal(det_b, det_1),
              f"{(batched - det_1).abs().max().item():.1e}"]
    files: dict[str, bytes] = {}
    run_samples(loaded, args, b, False)  # warm-up: lm-eval's task build and imports, first-call allocations
    sides = {"batched": lambda: files.__setitem__("batched", run_samples(loaded, args, b, False)),
             "deterministic": lambda: files.__setitem__("det", run_samples(loaded, args, b, True))}
    t = interleave(sides, args.repeats)
    det_1_file = run_samples(loaded, args, 1, True)
    whole = [card, fmt_times(t["batched"]), fmt_times(t["deterministic"]),
             f"{median(t['deterministic']) / median(t['batched']):.2f}×", files["det"] == det_1_file,
             files["batched"] == det_1_file, f"{max_line_diff(files['batched'], det_1_file):.1e}"]
    return engine, whole


def main() -> None:
    parser = argparse.ArgumentParser()
    add_device_args(parser)
    parser.add_argument("--card", action="append", default=None)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--think-budget", type=int, default=4)
    parser.set_defaults(repeats=2)
    args = parse_device_args(parser)
    print(machine())
    rows = [bench_card(card, args) for card in args.card or CARDS]
    b = args.batch_size
    print(f"\nengine: score(), ARC-Easy first {args.docs} docs (ll), batch size {b}; seconds per repeat\n")
    print(table(["card", "requests", "batched s", "deterministic s", "det / batched",
                 f"det b{b} ≡ det b1 (torch.equal)", "batched max |Δ| vs det"], [r[0] for r in rows]))
    print(f"\nrun: arc_easy --limit {args.docs} --mode ll,cot --think-budget {args.think_budget} --batch-size {b}; "
          "seconds per repeat\n")
    print(table(["card", "batched s", "--deterministic s", "det / batched", f"det b{b} samples ≡ det b1",
                 "batched samples ≡ det b1", "batched max |Δ| vs det"], [r[1] for r in rows]))


if __name__ == "__main__":
    main()
