"""Target 4: achieved FLOP/s on titan-eval's scoring path as a fraction of this machine's dense matmul throughput,
both measured in the same run.

    PYTHONPATH=. python benchmarks/flops_efficiency.py [--docs 200] [--repeats 3] [--profile] [--device cuda --dtype bfloat16]
        [--d-model 2048 --n-layer 48 --dir DIR]

Model: the seeded random transformers Mamba-1 of the other benchmarks (d_model 256, 4 layers, GPT-NeoX vocabulary;
--d-model 2048 --n-layer 48 is mamba-1.4b's shape, kept in --dir when given), loaded by titan-eval. Work: ARC-Easy, first --docs test documents (lm-eval prompts), `titan_eval.engine.score`.
Useful FLOPs = 2 · (non-embedding parameters) · (tokens fed, counted by `TokenCounter`) + 2 · (head parameters) ·
(positions scored): the head is counted only where a log-prob is read, the embedding lookup and the scan's
element-wise work not at all. Peak = median of `--repeats` timings of a dense [n, n] @ [n, n] matmul in the same dtype.
`--profile` adds a torch.profiler table of the scoring run (self time per op).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_device_args, arc_requests, add_model_dir_arg, mamba_dir_for, machine, median, parse_device_args, table, titan_eval_card  # noqa: E402




def matmul_peak(n: int, dtype, device: str, repeats: int) -> float:
    import torch

    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / 4)
    return 2 * n**3 / median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--matmul-n", type=int, default=1024)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--n-layer", type=int, default=4)
    add_model_dir_arg(parser)
    args = parse_device_args(parser)
    dtype = args.dtype

    import torch

    from titan_eval.engine import TokenCounter, score
    from titan_eval.loading import load

    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = mamba_dir_for(args, tmp)
        loaded = load(titan_eval_card(), checkpoint=model_dir, device=args.device, dtype=dtype)
    model = loaded.model
    reqs = arc_requests(loaded.tokenizer, args.docs)
    head_params = model.backbone.embedding.weight.numel()
    body_params = sum(p.numel() for p in model.parameters()) - head_params  # tied: the embedding is the head
    scored = sum(len(r.continuation) for r in reqs)
    score(model, reqs[:16], args.batch_size)  # warm-up
    peaks, runs = [], []
    for _ in range(args.repeats):  # interleaved: peak, scoring, peak, scoring, ...
        peaks.append(matmul_peak(args.matmul_n, getattr(torch, dtype), args.device, 3))
        counter = TokenCounter()
        t0 = time.perf_counter()
        score(model, reqs, args.batch_size, counter=counter)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        runs.append((time.perf_counter() - t0, counter.tokens))
    seconds = median([r[0] for r in runs])
    tokens = runs[0][1]
    flops = 2 * body_params * tokens + 2 * head_params * scored
    peak = median(peaks)
    print(f"machine: {machine()}; device {args.device}, dtype {dtype}; backend {model.backend}")
    print(f"model d_model {args.d_model} x {args.n_layer} layers; ARC-Easy {args.docs} docs, {len(reqs)} requests, batch size {args.batch_size}; tokens fed {tokens:,}, "
          f"positions scored {scored:,}; non-embedding params {body_params:,}, head params {head_params:,}")
    print(table(["quantity", "value"], [
        ["scoring wall s (repeats)", " / ".join(f"{r[0]:.2f}" for r in runs)],
        ["useful GFLOP per run", f"{flops / 1e9:.2f}"],
        ["achieved GFLOP/s (median)", f"{flops / seconds / 1e9:.2f}"],
        [f"dense matmul {args.matmul_n}³ GFLOP/s (median)", f"{peak / 1e9:.2f}"],
        ["fraction of matmul peak", f"{flops / seconds / peak:.1%}"],
    ]))
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
        with profile(activities=acts) as prof:
            score(model, reqs, args.batch_size)
        print("\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
