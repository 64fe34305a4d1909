"""Listing and building lm-eval catalogue tasks: titan-eval against lm-eval itself, whole processes.

    PYTHONPATH=. python benchmarks/task_catalogue.py [--repeats 3]

Sides, interleaved, each a child process timed by this one from start to exit:
  lm-eval ls tasks                 lm-eval's own listing (`lm-eval ls tasks`; 0.4.13's form of `--tasks list`)
  titan-eval tasks --all (cold)    with an empty index cache: titan-eval indexes the catalogue (lm-eval's
                                   TaskManager, in a child) and writes its cache
  titan-eval tasks --all (warm)    the index read from the cache, as every later call
  lm-eval: build piqa              `TaskManager().load(["piqa"])`: what a run of one task costs lm-eval
  titan-eval: build piqa (warm)    `tasks.catalog.load_lm_eval_tasks(["piqa"], mirror)`: what `titan-eval run piqa`
                                   spends on it (name resolution from the cached index, then lm-eval indexing only
                                   piqa's folder)
Both build sides read the same three-row piqa mirror (`tasks.hub_mirror`), so no network is involved.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, median, table, timed_process  # noqa: E402

BUILD_LM_EVAL = """
import sys
from titan_eval.tasks.hub_mirror import serving
from lm_eval.tasks import TaskManager
with serving(sys.argv[1]):
    task = TaskManager().load(["piqa"])["tasks"]["piqa"]
assert len(list(task.validation_docs())) == 3
"""
BUILD_TITAN = """
import sys
from titan_eval.tasks.catalog import load_lm_eval_tasks
task = load_lm_eval_tasks(["piqa"], sys.argv[1])["piqa"]
assert len(list(task.validation_docs())) == 3
"""
ROWS = [{"goal": "How to open a jar?", "sol1": "Twist the lid.", "sol2": "Eat the lid.", "label": 0},
        {"goal": "How to cool tea?", "sol1": "Heat it.", "sol2": "Wait a while.", "label": 1},
        {"goal": "How to dry hair?", "sol1": "Use a towel.", "sol2": "Use water.", "label": 0}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="catalogue-bench-"))
    mirror = work / "mirror" / "baber" / "piqa" / "default"
    mirror.mkdir(parents=True)
    for split in ("train", "validation"):
        (mirror / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    base = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TITAN_EVAL_CACHE": str(work / "warm")}
    subprocess.run([str(bin_dir / "titan-eval"), "tasks", "--all"], capture_output=True, env=base, check=True)
    data = str(work / "mirror")
    sides = {
        "lm-eval ls tasks": ([str(bin_dir / "lm-eval"), "ls", "tasks"], {}),
        "titan-eval tasks --all (cold index)": ([str(bin_dir / "titan-eval"), "tasks", "--all"], {"cold": "1"}),
        "titan-eval tasks --all (warm index)": ([str(bin_dir / "titan-eval"), "tasks", "--all"], {}),
        "lm-eval: build piqa": ([sys.executable, "-c", BUILD_LM_EVAL, data], {}),
        "titan-eval: build piqa (warm index)": ([sys.executable, "-c", BUILD_TITAN, data], {}),
    }
    times: dict[str, list[float]] = {k: [] for k in sides}
    for repeat in range(args.repeats):
        for name, (cmd, flags) in sides.items():
            env = dict(base)
            if flags.get("cold"):
                env["TITAN_EVAL_CACHE"] = str(work / f"cold-{repeat}")
            times[name].append(timed_process(cmd, env))
    load = os.getloadavg()[0]
    print(f"load average after: {load:.2f}")
    ref_list, ref_build = median(times["lm-eval ls tasks"]), median(times["lm-eval: build piqa"])
    rows = []
    for name, xs in times.items():
        ref = ref_build if "build" in name else ref_list
        rows.append([name, " / ".join(f"{x:.2f}" for x in xs), f"{median(xs):.2f}", f"{ref / median(xs):.2f}x"])
    print(table(["side", "wall s (repeats)", "median s", "lm-eval / side"], rows))


if __name__ == "__main__":
    main()
