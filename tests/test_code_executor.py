"""The program executor: outcomes under bubblewrap and under the plain (--unsafe-code) runner, on small programs.
The attacks run end to end through `titan-eval run` in test_code_sandbox.py."""

from __future__ import annotations

import os
import shutil

import pytest

from titan_eval.code.executor import Executor
from titan_eval.code.limits import Limits
from titan_eval.code.sandbox import Interpreter, interpreter, world_readable

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


def plain_executor() -> Executor:
    """A plain runner; as root, with an interpreter an unprivileged user can read (the programs run as nobody)."""
    if os.geteuid() == 0 and not world_readable(interpreter().prefix):
        system = "/usr/bin/python3"
        if not os.path.exists(system):
            pytest.skip("as root, the plain runner needs an interpreter readable by nobody")
        return Executor("none", QUICK, interp=Interpreter(os.path.realpath(system), "/usr"))
    return Executor("none", QUICK)


@needs_bwrap
def test_outcomes_under_bubblewrap() -> None:
    ex = Executor("bwrap", QUICK, workers=4)
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


def test_unsafe_as_root_with_an_unreadable_interpreter_is_refused(tmp_path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root runs programs as another user")
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    from titan_eval.errors import UsageError

    with pytest.raises(UsageError, match="--unsafe-code as root"):
        Executor("none", QUICK, interp=Interpreter(str(hidden / "python"), str(hidden)))


@needs_bwrap
def test_a_normal_user_gets_the_user_namespace_sandbox() -> None:
    """Run by a non-root user (here: root's tests drop to uid 65534 with setpriv), bwrap makes a user namespace;
    the same outcomes, the fork bomb stopped by RLIMIT_NPROC, the program uid 65534."""
    import subprocess
    import sys
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
    assert done.stdout.split() == ["passed", "failed", "limit_exceeded", "limit_exceeded"], (done.stdout, sys.executable)
