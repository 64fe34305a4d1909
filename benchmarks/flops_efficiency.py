"""Target 4: achieved FLOP/s on titan-eval's scoring path as a fraction of this machine's dense matmul throughput,
both measured in the same run.

    PYTHONPATH=. python benchmarks/flops_efficiency.py [--docs 200] [--repeats 3] [--profile] [--device cuda --dtype bfloat16]
        [--d-model 2048 --n-layer 48 --dir DIR]

Model: the seeded random transformers Mamba-1 of the other benchmarks (d_model 256, 4 layers, GPT-NeoX vocabulary;
--d-model 2048 --n-layer 48 is mamba-1.4b's shape, kept in --dir when given), loaded by titan-eval. Work: ARC-Easy, first --docs test documents (lm-eval prompts), `titan_eval.engine.score`.
Useful FLOPs = 2 · (non-embedding parameters) · (tokens fed, counted by `TokenCounter`) + 2 · (head parameters) ·
(positions scored): the head is counted only where a log-prob is read, the embedding lookup and the scan's
element-wise work not at all. Peak = median of `--repeats` timings of a dense [n, n] @ [n, n] matmul in the same dtype.
GEMM replay: every matrix product one scoring run makes (each projection's and the head's [M, K] @ [K, N], recorded
by hooks) run again back to back on random operands with nothing else in between — the time the run would take if
all its other work were free, so the replay's fraction of peak is the ceiling its shapes allow on this machine.
`--profile` adds a torch.profiler table of the scoring run (self time per op).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import add_device_args, arc_requests, add_model_args, mamba_dir_for, machine, median, parse_device_args, table, titan_eval_card  # noqa: E402




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


def record_gemms(model, run) -> tuple[list[tuple[int, int, int]], int]:
    """([(M, K, N)] of every projection (`nn.Linear`) and head product made while `run()` scores, head FLOPs)."""
    import torch

    shapes: list[tuple[int, int, int]] = []
    head_shapes: list[tuple[int, int, int]] = []

    def linear_hook(module, inputs, output) -> None:
        shapes.append((inputs[0].numel() // module.in_features, module.in_features, module.out_features))

    handles = [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    head = model.head

    def recorded_head(hidden, *args, **kwargs):
        out = head(hidden, *args, **kwargs)
        head_shapes.append((hidden.numel() // hidden.shape[-1], hidden.shape[-1], out.shape[-1]))
        return out

    model.head = recorded_head
    try:
        run()
    finally:
        del model.head
        for handle in handles:
            handle.remove()
    return shapes + head_shapes, sum(2 * m * k * n for m, k, n in head_shapes)


def replay_seconds(shapes: list[tuple[int, int, int]], dtype, device: str) -> float:
    """Wall time of the products `shapes` back to back (operands made beforehand, outside the timing)."""
    import torch

    operands = {s: (torch.randn(s[0], s[1], dtype=dtype, device=device), torch.randn(s[1], s[2], dtype=dtype,
                                                                                      device=device))
                for s in set(shapes)}
    for a, b in operands.values():  # warm-up: one of each
        a @ b
    t0 = time.perf_counter()
    for s in shapes:
        a, b = operands[s]
        a @ b
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_device_args(parser)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--matmul-n", type=int, default=1024)
    parser.add_argument("--profile", action="store_true")
    add_model_args(parser)
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
    shapes, head_flops = record_gemms(model, lambda: score(model, reqs, args.batch_size))
    gemm_flops = sum(2 * m * k * n for m, k, n in shapes)
    replay = median([replay_seconds(shapes, getattr(torch, dtype), args.device) for _ in range(args.repeats)])
    print(f"machine: {machine()}; device {args.device}, dtype {dtype}; backend {model.backend}")
    print(f"model d_model {args.d_model} x {args.n_layer} layers; ARC-Easy {args.docs} docs, {len(reqs)} requests, batch size {args.batch_size}; tokens fed {tokens:,}, "
          f"positions scored {scored:,}; non-embedding params {body_params:,}, head params {head_params:,}")
    print(table(["quantity", "value"], [
        ["scoring wall s (repeats)", " / ".join(f"{r[0]:.2f}" for r in runs)],
        ["useful GFLOP per run", f"{flops / 1e9:.2f}"],
        ["achieved GFLOP/s (median)", f"{flops / seconds / 1e9:.2f}"],
        [f"dense matmul {args.matmul_n}³ GFLOP/s (median)", f"{peak / 1e9:.2f}"],
        ["fraction of matmul peak", f"{flops / seconds / peak:.1%}"],
        ["GEMM replay: products, GFLOP (head share)", f"{len(shapes):,}, {gemm_flops / 1e9:.2f} "
                                                      f"({head_flops / gemm_flops:.0%})"],
        ["GEMM replay s (median) / its fraction of peak", f"{replay:.2f} / {gemm_flops / replay / peak:.1%}"],
        ["scoring wall / GEMM replay", f"{seconds / replay:.2f}x"],
    ]))
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if args.device.startswith("cuda") else [])
        with profile(activities=acts) as prof:
            score(model, reqs, args.batch_size)
        print("\n" + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
