"""The run's code executor and what it ran: one process-wide session, set by `titan-eval run` from its options
before any task loads (`configure`), used by the code tasks' metric and filter functions (tasks/code_exec.py),
which lm-eval calls with no handle on the run.

Programs are keyed by sha256 of the program text and its test (`program_key`); each key runs once per process.
The tasks' filters hand every document's programs of an lm-eval call over at once (`prefetch`), so they run in
parallel; the per-document metric then only looks its results up (`check`), running anything not prefetched.
`outcomes` gives the results of a sample line's programs for samples.jsonl; `record` the sandbox and limits for
run.json.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from titan_eval.code.executor import Executor
from titan_eval.code.limits import Limits
from titan_eval.code.outcome import ProgramResult
from titan_eval.code.sandbox import INSTALL_HINT, bwrap_path
from titan_eval.errors import UsageError

SANDBOX_NAMES = {"bwrap": "bubblewrap", "none": "none"}


@dataclass(frozen=True)
class CodeSettings:
    """How the run executes model-written programs (`--unsafe-code`, `--code-workers`, `--code-timeout`)."""

    unsafe: bool = False  # a plain subprocess with the same rlimits instead of bubblewrap
    workers: int | None = None  # programs at once (None: the machine's cores)
    limits: Limits = field(default_factory=Limits)

    @property
    def kind(self) -> str:
        """The executor kind: "none" with --unsafe-code, else "bwrap"."""
        return "none" if self.unsafe else "bwrap"


def program_key(program: str, test: str) -> str:
    """sha256 of what runs: the program, a newline, its test (lm-eval's code_eval joins them so)."""
    return hashlib.sha256(f"{program}\n{test}".encode("utf-8", "surrogatepass")).hexdigest()


def joined(program: str, test: str) -> str:
    """The text that runs for `program` and its `test`."""
    return f"{program}\n{test}"


class CodeSession:
    """One executor and the results of every program it ran, by `program_key`."""

    def __init__(self, settings: CodeSettings) -> None:
        self.settings = settings
        self.executor = Executor(settings.kind, settings.limits, settings.workers)
        if settings.kind == "bwrap":
            check_bwrap(self.executor)
        self.results: dict[str, ProgramResult] = {}
        self._lock = threading.Lock()

    def prefetch(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Run every (program, test) not run yet, in parallel."""
        todo = {program_key(p, t): joined(p, t) for p, t in pairs}
        todo = {k: v for k, v in todo.items() if k not in self.results}
        keys = list(todo)
        for key, result in zip(keys, self.executor.run_many([todo[k] for k in keys])):
            with self._lock:
                self.results[key] = result

    def check(self, program: str, test: str) -> ProgramResult:
        """The result of `program` with `test` (run now unless prefetched)."""
        key = program_key(program, test)
        if key not in self.results:
            self.prefetch([(program, test)])
        return self.results[key]

    def outcomes(self, programs: Sequence[str], test: str) -> list[dict[str, Any]] | None:
        """Each program's result as samples.jsonl records it, or None when any of them did not run here."""
        keys = [program_key(p, test) for p in programs]
        if not keys or any(k not in self.results for k in keys):
            return None
        return [self.results[k].to_line() for k in keys]

    def record(self) -> dict[str, Any]:
        """run.json's `titan_eval.code`: the sandbox, its version, the uid programs run as outside any namespace
        (65534 when titan-eval runs as root), whether bwrap gave them a user namespace, the RLIMIT_NPROC they get
        (`code.executor`) and bwrap's user's cap, the interpreter, workers, limits."""
        ex = self.executor
        return {"sandbox": SANDBOX_NAMES[ex.kind], "bwrap_version": bwrap_version() if ex.kind == "bwrap" else None,
                "uid": ex.uid, "user_namespace": ex.kind == "bwrap", "process_limit": ex.processes,
                "user_process_cap": ex.outer_processes, "interpreter": ex.interp.executable, "workers": ex.workers,
                "limits": self.settings.limits.to_dict(),
                "programs_run": len(self.results)}


@lru_cache(maxsize=1)
def bwrap_version() -> str | None:
    """`bwrap --version`'s answer ("bubblewrap 0.8.0"), or None."""
    path = bwrap_path()
    if path is None:
        return None
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def check_bwrap(executor: Executor) -> None:
    """UsageError (one line naming the package) unless bubblewrap runs a trivial program to a pass here."""
    result = _probe(executor)
    if result.outcome != "passed":
        raise UsageError(f"code tasks run model-written programs under bubblewrap, which cannot run here "
                         f"({result.detail}): {INSTALL_HINT} and allow it to create namespaces, or pass "
                         f"--unsafe-code (rlimits only)")


def _probe(executor: Executor) -> ProgramResult:
    return executor.run("import sys\nassert sys.flags.isolated")


_SESSION: CodeSession | None = None


def configure(settings: CodeSettings) -> CodeSession:
    """Make the process's session for a run (UsageError when its sandbox cannot run: `check_bwrap`)."""
    global _SESSION
    if shutil.which("bwrap") is None and not settings.unsafe:
        raise UsageError(f"code tasks run model-written programs under bubblewrap (bwrap), which is not installed: "
                         f"{INSTALL_HINT}, or pass --unsafe-code (rlimits only)")
    _SESSION = CodeSession(settings)
    return _SESSION


def session() -> CodeSession:
    """The configured session, or one with the default settings (bubblewrap) when the code tasks run outside
    `titan-eval run` (e.g. `lm_eval --model titan-eval`)."""
    return _SESSION if _SESSION is not None else configure(CodeSettings())


def current() -> CodeSession | None:
    """The session if one was configured (None: no code ran)."""
    return _SESSION


def reset() -> None:
    """Forget the session (tests; a new run configures its own)."""
    global _SESSION
    _SESSION = None


def code_outcomes(line: dict[str, Any]) -> list[dict[str, Any]] | None:
    """A generate line's `code` field: the result of each program its filters produced, run with its `target`
    in this process's code session (`code.session`), one per sample; None for lines of tasks that run no code."""
    run = current()
    if run is None or not isinstance(line.get("target"), str):
        return None
    for value in (line.get("filtered") or {}).values():
        programs = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        found = run.outcomes([p for p in programs if isinstance(p, str)], line["target"])
        if found is not None:
            return found
    return None
