"""Target 6: how long `titan-eval --help` takes, and which imports it spends the time on.

    PYTHONPATH=. python benchmarks/startup.py [--repeats 5] [--command "titan-eval --help"]

Times `python -m titan_eval --help` (this checkout, through PYTHONPATH) and, when given or found on PATH, the
`titan-eval` console script; median of --repeats runs each, interleaved. Then one `python -X importtime -m
titan_eval --help` run, summarised: the modules with the largest cumulative import time (top level only).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, median, table, timed_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--command", default=None, help='console-script command line (default: "titan-eval --help" '
                                                         "next to this Python, if present)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    commands = {"python -m titan_eval --help": [sys.executable, "-m", "titan_eval", "--help"],
                "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"]}
    script = Path(sys.executable).with_name("titan-eval")
    if args.command:
        commands[args.command] = shlex.split(args.command)
    elif script.exists() or shutil.which("titan-eval"):
        commands["titan-eval --help"] = [str(script if script.exists() else shutil.which("titan-eval")), "--help"]
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.repeats):
        for name, cmd in commands.items():
            times[name].append(timed_process(cmd, env))
    print(f"machine: {machine()}")
    print(table(["command", "wall s (repeats)", "median s", "target < 1 s"],
                [[k, " / ".join(f"{x:.2f}" for x in v), f"{median(v):.2f}", "met" if median(v) < 1 else "missed"]
                 for k, v in times.items()]))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "titan_eval", "--help"], capture_output=True,
                          text=True, env=env)
    by_package: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if not cumulative.strip().isdigit():
            continue
        package = name.strip().split(".")[0]
        by_package[package] = max(by_package.get(package, 0), int(cumulative.strip()))  # its outermost import
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])
    print("\nlargest imports of `python -m titan_eval --help` by package (cumulative time of the package's outermost "
          "import, nested packages included; -X importtime, one run):")
    print(table(["package", "cumulative ms"], [[n, f"{us / 1000:.0f}"] for n, us in ranked[: args.top]]))


if __name__ == "__main__":
    main()
