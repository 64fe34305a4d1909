"""Running model-written programs, each in its own process (never in the harness's), in parallel.

`Executor(kind, limits, workers)`: `kind` "bwrap" (the sandbox, `code.sandbox`) or "none" (`--unsafe-code`: a plain
subprocess in a fresh folder, clean environment, same rlimits). `run(program)` → `ProgramResult`;
`run_many(programs)` runs them on `workers` threads, each waiting on its own subprocess.

Never as root: run by root, every program's process (bwrap, or the plain interpreter) is started as uid/gid 65534
(nobody) with no supplementary groups — `subprocess.Popen(user=, group=, extra_groups=[])`, which switches in the
forked child before exec, in C (safe with the worker threads, unlike a `preexec_fn`) — because the kernel does not
apply RLIMIT_NPROC to root. The process limit: under bwrap, `Limits.processes` per sandbox (its user namespace's own
count), with bwrap's user capped at its current processes plus every worker's budget plus `OUTER_SLACK`; in a plain
run, the user's current processes plus `Limits.processes` times the workers, shared by the programs running at once
(one user, no namespace to count them apart).

Every program starts a new session (its own process group); when the wall clock runs out, or when it exits, that
whole group is killed with SIGKILL, so nothing it forked outlives it (under bwrap the pid namespace goes too). Its
stdout and stderr go to unlinked temporary files that RLIMIT_FSIZE caps, and only their tails are read.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, Sequence

from titan_eval.code.limits import Limits
from titan_eval.code.outcome import ProgramResult, signal_outcome, verdict_outcome
from titan_eval.code.sandbox import (INSTALL_HINT, NOBODY, SANDBOX_ENV, Interpreter, bwrap_argv, bwrap_path,
                                     program_argv, program_interpreter, world_readable)
from titan_eval.errors import UsageError

KINDS = ("bwrap", "none")
TAIL_BYTES = 4096
OUTER_SLACK = 256
"""Room in bwrap's user's cap for that user's other processes started after this executor (another run's
sandboxes): the cap is the second bound, each sandbox's own limit the first, so it may be loose but not tight."""


def user_process_count(uid: int) -> int:
    """Processes (threads included) `uid` runs now: RLIMIT_NPROC counts them too outside a user namespace, so the
    process limit there is this plus `Limits.processes`."""
    count = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return count


class Executor:
    """Runs programs under one sandbox kind and one set of limits."""

    def __init__(self, kind: str = "bwrap", limits: Limits = Limits(), workers: int | None = None,
                 interp: Interpreter | None = None) -> None:
        if kind not in KINDS:
            raise UsageError(f"unknown code sandbox {kind!r} (one of {', '.join(KINDS)})")
        limits.validate()
        self.kind, self.limits = kind, limits
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._bwrap = bwrap_path() if kind == "bwrap" else None
        if kind == "bwrap" and self._bwrap is None:
            raise UsageError(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
        self.as_root = os.geteuid() == 0
        self.interp = interp or program_interpreter(self.as_root)
        if self.as_root and not world_readable(os.path.dirname(self.interp.executable)):
            raise UsageError(f"code programs run as an unprivileged user (uid {NOBODY}), who cannot reach the "
                             f"interpreter {self.interp.executable}")
        self.uid = NOBODY if self.as_root else os.getuid()  # who runs the programs (outside any namespace)
        running = user_process_count(self.uid)
        self.processes = self.limits.processes + (0 if kind == "bwrap" else running +
                                                  self.limits.processes * (self.workers - 1))
        """RLIMIT_NPROC the bootstrap sets: per sandbox under bwrap; the user's whole count in a plain run."""
        self.outer_processes = running + self.workers * (self.limits.processes + 4) + OUTER_SLACK \
            if kind == "bwrap" else None
        """bwrap's user's cap (module docstring); None in a plain run."""
        self._setup = json.dumps({"rlimits": limits.rlimits(self.processes)})

    def argv(self) -> list[str]:
        """The command that runs one program (the program itself comes on stdin)."""
        if self.kind == "bwrap":
            assert self._bwrap is not None
            return bwrap_argv(self._bwrap, self.interp, self._setup, self.limits.tmp_bytes, self.outer_processes)
        return program_argv(self.interp, self._setup)

    def _user(self) -> dict[str, Any]:
        """Popen's arguments that start the process as nobody when the harness is root (module docstring)."""
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []} if self.as_root else {}

    def run(self, program: str) -> ProgramResult:
        """Run one program to its outcome (never raises for anything the program does)."""
        nonce = secrets.token_hex(16)
        workdir = tempfile.mkdtemp(prefix="titan-code-") if self.kind == "none" else None
        if workdir is not None and self.as_root:
            os.chown(workdir, NOBODY, NOBODY)
        t0 = time.monotonic()
        try:
            with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, \
                    tempfile.TemporaryFile() as err:
                stdin.write(f"{nonce}\n{program}".encode("utf-8", "surrogatepass"))
                stdin.seek(0)
                try:
                    proc = subprocess.Popen(self.argv(), stdin=stdin, stdout=out, stderr=err,
                                            cwd=workdir or "/", start_new_session=True, close_fds=True,
                                            env=self._env(workdir), **self._user())
                except OSError as error:
                    return ProgramResult("sandbox_error", f"cannot start: {error}", 0.0, None)
                timed_out = _wait(proc, self.limits.wall_s)
                seconds = round(time.monotonic() - t0, 4)
                return self._result(proc.returncode, timed_out, seconds, _tail(out), _tail(err), nonce)
        finally:
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)

    def run_many(self, programs: Sequence[str]) -> list[ProgramResult]:
        """Every program's result, in order, `workers` at a time."""
        if len(programs) <= 1 or self.workers == 1:
            return [self.run(p) for p in programs]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(programs)),
                                thread_name_prefix="titan-code") as pool:
            return list(pool.map(self.run, programs))

    def _env(self, workdir: str | None) -> dict[str, str]:
        """The environment bwrap starts with (it clears it again for the program) or a plain run's whole one."""
        if workdir is None:
            return {"PATH": SANDBOX_ENV["PATH"]}
        return {**SANDBOX_ENV, "HOME": workdir, "TMPDIR": workdir}

    def _result(self, returncode: int, timed_out: bool, seconds: float, out: str, err: str,
                nonce: str) -> ProgramResult:
        """The outcome from the exit status, the verdict line and stderr (`code.outcome`)."""
        if timed_out:
            return ProgramResult("timeout", f"killed after {self.limits.wall_s:g} s of wall clock", seconds,
                                 returncode)
        verdict = _verdict(out, nonce)
        if verdict is not None:
            outcome, detail = verdict_outcome(verdict)
            return ProgramResult(outcome, detail, seconds, returncode)
        if (self.kind == "bwrap" and returncode == 1 and err.lstrip().startswith("bwrap:")) or \
                (returncode == 3 and err.startswith("titan-sandbox:")):
            return ProgramResult("sandbox_error", err.strip().splitlines()[-1][:300], seconds, returncode)
        signum = -returncode if returncode < 0 else returncode - 128 if self.kind == "bwrap" and returncode > 128 \
            else 0
        if signum > 0:
            outcome, detail = signal_outcome(signum, cpu_limited=seconds >= self.limits.cpu_s)
            return ProgramResult(outcome, detail, seconds, returncode)
        last = err.strip().splitlines()[-1][:300] if err.strip() else f"exited with status {returncode}"
        return ProgramResult("failed", f"no verdict: {last}", seconds, returncode)


def _wait(proc: subprocess.Popen[bytes], wall_s: float) -> bool:
    """Wait for the program; kill its process group when it exits or `wall_s` runs out. True when it timed out."""
    timed_out = False
    try:
        proc.wait(timeout=wall_s)
    except subprocess.TimeoutExpired:
        timed_out = True
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group leader's id is the group's id (start_new_session)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    return timed_out


def _tail(f: IO[bytes]) -> str:
    """The last TAIL_BYTES of an output file, decoded."""
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - TAIL_BYTES))
    return f.read().decode("utf-8", "replace")


def _verdict(out: str, nonce: str) -> str | None:
    """The text after the nonce on stdout's last line that starts with it, or None."""
    for line in reversed(out.splitlines()):
        if line.startswith(nonce + " "):
            return line[len(nonce) + 1:]
    return None
