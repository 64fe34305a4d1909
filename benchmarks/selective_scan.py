"""The two-level chunked reference scan vs a token-by-token loop (both pure PyTorch, same inputs, same process).

    .venv/bin/python benchmarks/selective_scan.py
"""

from __future__ import annotations

import time

import torch

from titan_eval.models.ops.selective_scan import selective_scan_ref


def token_loop(u, delta, A, B, C, D):
    """Per-token Python loop with the decays precomputed (the simplest fast CPU baseline)."""
    decay = torch.exp(torch.einsum("bdl,dn->bldn", delta, A))
    drive = torch.einsum("bdl,bnl->bldn", delta * u, B)
    h = torch.zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = decay[:, t] * h + drive[:, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t]))
    return torch.stack(ys, 2) + u * D[None, :, None], h


def median_time(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    g = torch.Generator().manual_seed(0)
    for batch, channels, length in [(8, 128, 300), (2, 1024, 256), (1, 256, 2048)]:
        u = torch.randn(batch, channels, length, generator=g)
        delta = torch.rand(batch, channels, length, generator=g) * 0.1
        A = -torch.rand(channels, 16, generator=g) * 10
        B, C = torch.randn(batch, 16, length, generator=g), torch.randn(batch, 16, length, generator=g)
        D = torch.randn(channels, generator=g)
        chunked = median_time(lambda: selective_scan_ref(u, delta, A, B, C, D))
        loop = median_time(lambda: token_loop(u, delta, A, B, C, D))
        diff = (selective_scan_ref(u, delta, A, B, C, D)[0] - token_loop(u, delta, A, B, C, D)[0]).abs().max().item()
        print(f"B={batch} D={channels} L={length}: chunked {chunked * 1e3:.1f} ms, token loop {loop * 1e3:.1f} ms, "
              f"loop/chunked {loop / chunked:.2f}x, python iterations {2 * int(length ** 0.5 + 1)} vs {length}, "
              f"max |Δy| {diff:.1e}")


if __name__ == "__main__":
    main()
