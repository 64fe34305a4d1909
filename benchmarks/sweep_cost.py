"""Issue 31: a sweep of N checkpoints in one `titan-eval sweep` process against N separate `titan-eval run`
processes on the same work (whole processes, wall clock). Prints the machine load (`uptime`) before and after.

    python benchmarks/sweep_cost.py [--card titan-tiny] [--n 5] [--limit 16] [--tasks fact_margins]

The acceptance bound: sweep ≤ N × per-checkpoint model work + one run's fixed cost, where the per-checkpoint model
work is a run's `timings.total_s` (inside the process) and the fixed cost is a separate run's wall time minus it.
The sweep's whole wall time is split by the two timings it prints on stderr: the evaluation (process start to the
last step) and the report (trend table, every paired test, the plots), which the separate runs do not produce.
Medians over `--repeats` interleaved repeats.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def _timed(args: list[str]) -> tuple[float, str]:
    """(wall seconds, stderr) of one whole `python -m titan_eval` process."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "titan_eval", *args], check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, done.stderr


def _seconds(stderr: str, pattern: str) -> float:
    """The seconds the sweep printed on its line matching `pattern` (`(12.3 s)` / `: 4.5 s`)."""
    match = re.search(pattern + r".*?([0-9.]+) s\)?$", stderr, re.M)
    if match is None:
        raise SystemExit(f"no line matching {pattern!r} in the sweep's stderr:\n{stderr}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--card", default="titan-tiny")
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--tasks", default="fact_margins")
    parser.add_argument("--repeats", type=int, default=3)
    a = parser.parse_args()
    from sweep_helpers import make_checkpoints

    print("load before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ckpts = make_checkpoints(root / "ckpt", [100 * (i + 1) for i in range(a.n)], a.card)
        common = [*a.tasks.split(","), "--model", a.card, "--limit", str(a.limit), "--device", "cpu", "-q"]
        for r in range(a.repeats):
            separate, inside = [], []
            for i, path in enumerate(ckpts):
                out = root / f"r{r}" / f"run{i}"
                separate.append(_timed(["run", *common, "--checkpoint", str(path), "--output", str(out)])[0])
                inside.append(json.loads((out / "run.json").read_text())["titan_eval"]["timings"]["total_s"])
            swept, err = _timed(["sweep", *common, "--checkpoints", str(root / "ckpt"),
                                 "--output", str(root / f"r{r}" / "sweep"), "--settle", "0"])
            evaluate, report = _seconds(err, r"step\(s\) evaluated now"), _seconds(err, r"^report ")
            fixed = separate[0] - inside[0]
            rows.append((sum(separate), sum(inside), fixed, swept, swept - report, report))
            print(f"repeat {r + 1}: {a.n} separate runs {sum(separate):.1f} s (model work {sum(inside):.1f} s, one "
                  f"run's fixed cost {fixed:.1f} s); sweep {swept:.1f} s = evaluation {swept - report:.1f} s "
                  f"(inside: {evaluate:.1f} s) + report {report:.1f} s", flush=True)
    med = [statistics.median(col) for col in zip(*rows)]
    separate, inside, fixed, swept, evaluation, report = med
    bound = inside + fixed
    print(f"medians of {a.repeats}: {a.n} separate `titan-eval run` processes {separate:.1f} s; model work inside "
          f"them {inside:.1f} s; one run's fixed cost {fixed:.1f} s; bound = {bound:.1f} s")
    print(f"one `titan-eval sweep` process: {swept:.1f} s ({separate / swept:.2f}x faster than the separate runs); "
          f"its evaluation {evaluation:.1f} s ({'within' if evaluation <= bound else 'ABOVE'} the bound, "
          f"{evaluation / bound:.2f}x it) + its report {report:.1f} s (table, paired tests, plots: work the separate "
          f"runs do not do)")
    print("load after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
