"""The program executor: outcomes under bubblewrap and under the plain (--unsafe-code) runner, on small programs.
The attacks run end to end through `titan-eval run` in test_code_sandbox.py."""

from __future__ import annotations

import os
import shutil

import pytest

from titan_eval.code.executor import Executor
from titan_eval.code.limits import Limits
from titan_eval.code.sandbox import Interpreter, world_readable

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="needs bubblewrap (`apt-get install bubblewrap`): bwrap is not on PATH")
QUICK = Limits(wall_s=3.0, cpu_s=6)

PROGRAMS = {
    "assert 1 + 1 == 2": "passed",
    "assert 1 + 1 == 3": "failed",
    "import sys\nsys.exit(0)": "failed",  # as lm-eval's code_eval: SystemExit is a failure
    "import os\nos._exit(0)": "failed",  # left before its end: no verdict
    "print('x' * 100)\nraise ValueError('no')": "failed",
    "x = bytearray(8 * 2**30)": "limit_exceeded",
    "import time\ntime.sleep(60)": "timeout",
}


def plain_executor(workers: int = 2) -> Executor:
    """A plain runner (--unsafe-code); as root it runs the programs as uid 65534."""
    return Executor("none", QUICK, workers=workers)


@needs_bwrap
def test_outcomes_under_bubblewrap() -> None:
    ex = Executor("bwrap", QUICK, workers=2)
    results = ex.run_many(list(PROGRAMS))
    assert [r.outcome for r in results] == list(PROGRAMS.values()), results
    assert results[1].detail == "AssertionError"
    assert results[5].detail == "MemoryError"


def test_outcomes_of_the_plain_runner() -> None:
    results = plain_executor().run_many(list(PROGRAMS))
    assert [r.outcome for r in results] == list(PROGRAMS.values()), results


def test_a_verdict_printed_by_the_program_does_not_count() -> None:
    result = plain_executor().run("print('passed')\nimport os\nos._exit(0)")
    assert result.outcome == "failed"


def test_as_root_an_interpreter_nobody_can_reach_is_refused(tmp_path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root runs programs as another user")
    hidden = tmp_path / "hidden"
    (hidden / "bin").mkdir(parents=True)
    hidden.chmod(0o700)
    from titan_eval.errors import UsageError

    for kind in ("none", "bwrap") if shutil.which("bwrap") else ("none",):
        with pytest.raises(UsageError, match="cannot reach the interpreter"):
            Executor(kind, QUICK, interp=Interpreter(str(hidden / "bin" / "python"), str(hidden)))


NOT_ROOT = ("import os\nstatus = open('/proc/self/status').read()\n"
            "ids = [line.split()[1:] for line in status.splitlines() if line.startswith(('Uid:', 'Gid:'))]\n"
            "assert all(i != '0' for row in ids for i in row), ids\n"
            "assert os.getgroups() in ([], [65534]), os.getgroups()\n"
            "assert 'CapEff:\\t0000000000000000' in status, status\n")
BOUNDED_FORKS = ("import os, time\nkids = []\nfor _ in range(20):\n    try:\n        pid = os.fork()\n"
                 "    except BlockingIOError:\n        break\n    if pid == 0:\n        time.sleep(5)\n"
                 "        os._exit(0)\n    kids.append(pid)\nfor pid in kids:\n    os.kill(pid, 9)\n"
                 "    os.waitpid(pid, 0)\nraise RuntimeError(f'forked {len(kids)}')\n")
"""At most 20 sleeping children, killed again: how many forks the process limit allowed (never a fork bomb)."""


def test_programs_never_run_as_root() -> None:
    """Run by root, the harness starts bwrap and the plain interpreter as uid/gid 65534, no groups, no
    capabilities (the kernel does not apply RLIMIT_NPROC to root); a normal user's programs run as that user."""
    kinds = ("bwrap", "none") if shutil.which("bwrap") else ("none",)
    for kind in kinds:
        ex = Executor(kind, QUICK, workers=2)
        assert ex.uid == (65534 if os.geteuid() == 0 else os.getuid())
        assert ex.run(NOT_ROOT).outcome == "passed", (kind, ex.run(NOT_ROOT))


@pytest.mark.parametrize("kind", ["bwrap", "none"])
def test_the_process_limit_holds(kind: str) -> None:
    """The bounded proof the fork-bomb test relies on: with a process limit of 8, two programs side by side each
    fork at most 20 sleeping children and are stopped early (under bwrap each sandbox counts its own user
    namespace: bwrap's init and the interpreter, then 6 children; plainly the user's whole count, which the
    programs running at once share)."""
    if kind == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap (`apt-get install bubblewrap`): bwrap is not on PATH")
    ex = Executor(kind, Limits(wall_s=20.0, cpu_s=20, processes=8), workers=2)
    forked = [int(r.detail.rsplit(" ", 1)[-1]) for r in ex.run_many([BOUNDED_FORKS, BOUNDED_FORKS])]
    if kind == "bwrap":
        assert forked == [6, 6]
    else:
        assert all(0 <= f < min(20, ex.processes) for f in forked), (forked, ex.processes)


@needs_bwrap
def test_a_normal_user_gets_the_user_namespace_sandbox() -> None:
    """Run by a non-root user (here: root's tests drop to uid 65534 with setpriv), bwrap makes a user namespace;
    the same outcomes, the fork bomb stopped by RLIMIT_NPROC, the program uid 65534."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    system = "/usr/bin/python3"
    if os.geteuid() != 0 or shutil.which("setpriv") is None or not os.path.exists(system):
        pytest.skip("needs root, setpriv and /usr/bin/python3 to run the executor as another user")
    if not world_readable(str(root)):
        pytest.skip(f"{root} is not readable by uid 65534")
    script = ("import sys; sys.path.insert(0, sys.argv[1])\n"
              "from titan_eval.code.executor import Executor\nfrom titan_eval.code.limits import Limits\n"
              "from titan_eval.code.sandbox import Interpreter\n"
              "ex = Executor('bwrap', Limits(wall_s=3.0, cpu_s=6), interp=Interpreter(sys.argv[2], '/usr'))\n"
              "assert not ex.as_root\n"
              "progs = ['import os\\nassert os.getuid() == 65534', 'assert 0', "
              "'import os\\nwhile True:\\n    os.fork()', 'x = bytearray(8 * 2**30)']\n"
              "print(' '.join(r.outcome for r in ex.run_many(progs)))\n")
    done = subprocess.run(["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", system, "-c",
                           script, str(root), os.path.realpath(system)], capture_output=True, text=True,
                          timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, cwd="/tmp")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["passed", "failed", "limit_exceeded", "limit_exceeded"], done.stdout
