"""Issue 31: a sweep of N checkpoints in one `titan-eval sweep` process against N separate `titan-eval run`
processes on the same work (whole processes, wall clock). Prints the machine load (`uptime`) before and after.

    python benchmarks/sweep_cost.py [--card titan-tiny] [--n 5] [--limit 16] [--tasks fact_margins]

The acceptance bound: sweep ≤ N × per-checkpoint model work + one run's fixed cost, where the per-checkpoint model
work is a run's `timings.total_s` (inside the process) and the fixed cost is a separate run's wall time minus it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "titan_eval", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--card", default="titan-tiny")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--tasks", default="fact_margins")
    a = parser.parse_args()
    from sweep_helpers import make_checkpoints

    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ckpts = make_checkpoints(root / "ckpt", [100 * (i + 1) for i in range(a.n)], a.card)
        common = [*a.tasks.split(","), "--model", a.card, "--limit", str(a.limit), "--device", "cpu", "-q"]
        separate, inside = [], []
        for i, path in enumerate(ckpts):
            separate.append(_timed(["run", *common, "--checkpoint", str(path), "--output", str(root / f"run{i}")]))
            inside.append(json.loads((root / f"run{i}" / "run.json").read_text())["titan_eval"]["timings"]["total_s"])
        swept = _timed(["sweep", *common, "--checkpoints", str(root / "ckpt"), "--output", str(root / "sweep"),
                        "--settle", "0"])
    fixed = separate[0] - inside[0]
    bound = sum(inside) + fixed
    print(f"{a.n} separate `titan-eval run` processes: {sum(separate):.1f} s (each {', '.join(f'{x:.1f}' for x in separate)})")
    print(f"model work inside them (timings.total_s): {sum(inside):.1f} s; one run's fixed cost: {fixed:.1f} s")
    print(f"one `titan-eval sweep` process over the {a.n} checkpoints: {swept:.1f} s "
          f"(bound N x model work + fixed = {bound:.1f} s: {'within' if swept <= bound else 'ABOVE'})")
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
