"""Issue 30: sandboxed code execution — throughput (programs/s) and the per-program overhead of bubblewrap against
the rlimit-only runner (`--unsafe-code`), in one run, same programs, same interpreter, sides interleaved.

    PYTHONPATH=. python benchmarks/code_sandbox.py [--programs 164] [--repeats 3] [--workers N]

Programs: HumanEval's canonical solutions with their tests (the shared mirror's openai/openai_humaneval test split,
as the humaneval task joins them), else a small synthetic program repeated. "latency" runs them one at a time
(median seconds per program: start, run, verdict, kill of the process group); "throughput" runs them on --workers
threads (default: the cores). Run as root, both sides run the programs as uid 65534, with an interpreter that
user can reach (the running one, else /usr/bin/python3; printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import DATA, median, table  # noqa: E402

from titan_eval.code.executor import Executor  # noqa: E402
from titan_eval.code.sandbox import Interpreter, program_interpreter  # noqa: E402


def programs(count: int) -> tuple[list[str], str]:
    """`count` programs and where they came from."""
    path = DATA / "openai" / "openai_humaneval" / "default" / "test.jsonl"
    if path.exists():
        rows = [json.loads(x) for x in path.read_text().splitlines()]
        progs = [f"{r['prompt']}{r['canonical_solution']}\n{r['test']}\ncheck({r['entry_point']})" for r in rows]
        source = f"HumanEval canonical solutions + tests ({path})"
    else:
        progs = ["def f(n):\n    return sum(range(n))\n\nassert f(10) == 45\n"]
        source = "a synthetic 4-line program (no shared HumanEval mirror)"
    return [progs[i % len(progs)] for i in range(count)], source


def chosen_interpreter() -> Interpreter:
    """The interpreter the executor picks (as root: one uid 65534 can reach), used by both sides."""
    return program_interpreter(os.geteuid() == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", type=int, default=164)
    parser.add_argument("--latency-programs", type=int, default=40, help="programs timed one at a time")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    progs, source = programs(args.programs)
    interp = chosen_interpreter()
    sides = {"bubblewrap": Executor("bwrap", workers=args.workers, interp=interp),
             "rlimits only": Executor("none", workers=args.workers, interp=interp)}
    print(f"uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"programs: {args.programs} × {args.repeats} repeats; {source}; interpreter {interp.executable}; "
          f"workers {args.workers}; {os.cpu_count()} cores")
    latency: dict[str, list[float]] = {k: [] for k in sides}
    rate: dict[str, list[float]] = {k: [] for k in sides}
    passed: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, ex in sides.items():
            for prog in progs[:args.latency_programs]:
                t0 = time.perf_counter()
                ex.run(prog)
                latency[name].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            results = ex.run_many(progs)
            rate[name].append(len(progs) / (time.perf_counter() - t0))
            passed[name] = sum(r.passed for r in results)
    rows = [[name, f"{median(latency[name]) * 1000:.1f} ms", f"{median(rate[name]):.1f}",
             f"{passed[name]}/{len(progs)}"] for name in sides]
    print(table(["runner", "latency per program (median, 1 at a time)",
                 f"throughput, {args.workers} workers (programs/s, median)", "passed"], rows))
    over = median(latency["bubblewrap"]) - median(latency["rlimits only"])
    print(f"bubblewrap overhead per program: {over * 1000:+.1f} ms "
          f"({median(latency['bubblewrap']) / median(latency['rlimits only']):.2f}× the plain runner's latency); "
          f"throughput ratio {median(rate['bubblewrap']) / median(rate['rlimits only']):.2f}×")
    print(f"uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
