"""Scoring time with telemetry off (the default: taps are identities, no hooks) vs on (route, activation and
stream recorders attached), in the same process; prints both medians and their ratio.

    .venv/bin/python benchmarks/telemetry_overhead.py [--model titan-tiny] [--repeats 5] [--requests 32]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack

import torch

from titan_eval.engine import ScoreRequest, score
from titan_eval.loading import load
from titan_eval.telemetry.activations import ActivationRecorder
from titan_eval.telemetry.routing import RouteRecorder
from titan_eval.telemetry.signal import StreamRecorder


def timed(model: torch.nn.Module, requests: list[ScoreRequest], telemetry: bool) -> float:
    with ExitStack() as stack:
        if telemetry:
            if model.capabilities.routing:
                stack.enter_context(RouteRecorder(model))
            stack.enter_context(StreamRecorder(model))
            if any(type(m).__name__ == "ActivationTap" for m in model.modules()):
                stack.enter_context(ActivationRecorder(model))
        start = time.perf_counter()
        score(model, requests, batch_size=8)
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="titan-tiny")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    loaded = load(args.model, device=args.device)
    gen = torch.Generator().manual_seed(0)
    requests = [ScoreRequest(tuple(torch.randint(0, 255, (48,), generator=gen).tolist()),
                             tuple(torch.randint(0, 255, (8,), generator=gen).tolist())) for _ in range(args.requests)]
    timed(loaded.model, requests, False)  # warm-up
    off, on = [], []
    for _ in range(args.repeats):  # interleaved, so machine load affects both alike
        off.append(timed(loaded.model, requests, False))
        on.append(timed(loaded.model, requests, True))
    m_off, m_on = statistics.median(off), statistics.median(on)
    print(f"{args.model} on {loaded.device}: {args.requests} requests x {args.repeats} repeats, "
          f"telemetry off {m_off * 1e3:.1f} ms, on {m_on * 1e3:.1f} ms, on/off ratio {m_on / m_off:.3f}")


if __name__ == "__main__":
    main()
