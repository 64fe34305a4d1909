"""Issue 32, target 4: the CPU selective scan — the compiled kernel (`models/ops/cpu_scan.py`, what runs by default)
against the pure-PyTorch fused loop it replaces (`selective_scan_fused`, `--kernels torch`) and the two-level
chunked scan, on the same inputs in one process, one thread, interleaved, median of --repeats.

    PYTHONPATH=. .venv/bin/python benchmarks/selective_scan.py [--repeats 5] [--threads 1]

Shapes (batch, d_inner, length, d_state): the d256 benchmark models' (d_inner 512), a 130m-wide one (1536), the real
1.4B width (4096), and one long row. Also the largest difference from the fp64 definition on the first shape.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, median, table  # noqa: E402

from titan_eval.models.ops import cpu_scan  # noqa: E402
from titan_eval.models.ops.selective_scan import (selective_scan_fused, selective_scan_ref,  # noqa: E402
                                                  selective_scan_sequential)

SHAPES = [(8, 512, 300, 16), (8, 1536, 300, 16), (8, 4096, 300, 16), (1, 512, 4096, 16)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    if not cpu_scan.available():
        raise SystemExit("the CPU scan kernel did not build here (needs g++ and ninja)")
    rows = []
    for i, (b, d, length, n) in enumerate(SHAPES):
        g = torch.Generator().manual_seed(i)
        u = torch.randn(b, d, length, generator=g)
        delta = torch.nn.functional.softplus(torch.randn(b, d, length, generator=g) - 1)
        A = -torch.rand(d, n, generator=g) * 4
        B, C = torch.randn(b, n, length, generator=g), torch.randn(b, n, length, generator=g)
        D = torch.randn(d, generator=g)
        sides = {"compiled": lambda: cpu_scan.cpu_scan(u, delta, A, B, C, D),
                 "fused loop": lambda: selective_scan_fused(u, delta, A, B, C, D),
                 "chunked": lambda: selective_scan_ref(u, delta, A, B, C, D, chunk_size=int(length ** 0.5) + 1)}
        times: dict[str, list[float]] = {k: [] for k in sides}
        for fn in sides.values():
            fn()  # warm
        for _ in range(a.repeats):
            for name, fn in sides.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        med = {k: median(v) for k, v in times.items()}
        diff = ""
        if i == 0:
            ref = selective_scan_sequential(u, delta, A, B, C, D)[0]
            diff = f"{float((sides['compiled']()[0].double() - ref).abs().max() / ref.abs().max()):.1e}"
        rows.append([f"{b}x{d}x{length}x{n}", f"{med['compiled'] * 1e3:.1f}", f"{med['fused loop'] * 1e3:.1f}",
                     f"{med['chunked'] * 1e3:.1f}", f"{med['fused loop'] / med['compiled']:.2f}x",
                     f"{med['chunked'] / med['compiled']:.2f}x", diff])
    print(machine())
    print(f"{a.threads} thread(s), median of {a.repeats}, ms")
    print(table(["Bt x D x L x N", "compiled", "fused loop", "chunked", "loop / compiled", "chunked / compiled",
                 "rel. max |Δy| vs fp64"], rows))


if __name__ == "__main__":
    main()
