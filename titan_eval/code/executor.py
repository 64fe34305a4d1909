"""Running model-written programs, each in its own process (never in the harness's), in parallel.

`Executor(kind, limits, workers)`: `kind` "bwrap" (the sandbox, `code.sandbox`) or "none" (`--unsafe-code`: a plain
subprocess in a fresh folder, clean environment, same rlimits; run by root, the program becomes uid 65534 after its
rlimits are set, since the kernel never applies RLIMIT_NPROC to root — refused when the interpreter's installation
is not readable by that user). `run(program)` → `ProgramResult`;
`run_many(programs)` runs them on `workers` threads, each waiting on its own subprocess.

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
from typing import IO, Sequence

from titan_eval.code.limits import Limits
from titan_eval.code.outcome import ProgramResult, signal_outcome, verdict_outcome
from titan_eval.code.sandbox import (INSTALL_HINT, NOBODY, SANDBOX_ENV, Interpreter, bwrap_argv, bwrap_path,
                                     interpreter, program_argv, sandbox_uid, world_readable)
from titan_eval.errors import UsageError

KINDS = ("bwrap", "none")
TAIL_BYTES = 4096


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
        self.interp = interp or interpreter()
        self.as_root = os.geteuid() == 0
        uid = sandbox_uid(self.as_root) if kind == "bwrap" else None
        if kind == "none" and self.as_root:
            if not world_readable(self.interp.prefix):
                raise UsageError(f"--unsafe-code as root: the kernel exempts root from the process limit, and the "
                                 f"interpreter's installation {self.interp.prefix} is not readable by an "
                                 f"unprivileged user to run programs as; run titan-eval as a normal user, or "
                                 f"{INSTALL_HINT}")
            uid = NOBODY
        self.uid = uid
        # RLIMIT_NPROC counts a uid's processes outside the program too, except inside bwrap's user namespace
        extra = user_process_count(NOBODY if uid is not None else os.getuid()) \
            if kind == "none" or self.as_root else 0
        self._setup = json.dumps({"rlimits": limits.rlimits(extra), "uid": uid, "gid": uid})

    def argv(self) -> list[str]:
        """The command that runs one program (the program itself comes on stdin)."""
        if self.kind == "bwrap":
            assert self._bwrap is not None
            return bwrap_argv(self._bwrap, self.interp, self._setup, self.limits.tmp_bytes, self.as_root)
        return program_argv(self.interp, self._setup)

    def run(self, program: str) -> ProgramResult:
        """Run one program to its outcome (never raises for anything the program does)."""
        nonce = secrets.token_hex(16)
        workdir = tempfile.mkdtemp(prefix="titan-code-") if self.kind == "none" else None
        if workdir is not None and self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        t0 = time.monotonic()
        try:
            with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, \
                    tempfile.TemporaryFile() as err:
                stdin.write(f"{nonce}\n{program}".encode("utf-8", "surrogatepass"))
                stdin.seek(0)
                try:
                    proc = subprocess.Popen(self.argv(), stdin=stdin, stdout=out, stderr=err,
                                            cwd=workdir or "/", start_new_session=True, close_fds=True,
                                            env=self._env(workdir))
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
        if self.kind == "bwrap" and returncode == 1 and err.lstrip().startswith("bwrap:"):
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
