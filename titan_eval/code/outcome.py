"""What running one program gave: a typed record, and the rules that turn a finished process into an outcome.

Outcomes: `passed` (the program ran to its end: every test assertion held), `failed` (it raised, or exited before
its end), `timeout` (the wall clock ran out: its process group was killed), `limit_exceeded` (an rlimit stopped it:
CPU time, memory, processes, open files, file size), `sandbox_error` (the sandbox could not start it).
"""

from __future__ import annotations

import signal
from dataclasses import asdict, dataclass
from typing import Any, Literal

Outcome = Literal["passed", "failed", "timeout", "limit_exceeded", "sandbox_error"]
OUTCOMES: tuple[str, ...] = ("passed", "failed", "timeout", "limit_exceeded", "sandbox_error")
LIMIT_SIGNALS = {signal.SIGXCPU, signal.SIGXFSZ, signal.SIGKILL}
"""Signals an rlimit sends (RLIMIT_CPU: SIGXCPU, then SIGKILL at the hard limit; RLIMIT_FSIZE: SIGXFSZ)."""


@dataclass(frozen=True)
class ProgramResult:
    """One program's run."""

    outcome: str  # one of OUTCOMES
    detail: str  # one line: the exception, the signal or the limit ("AssertionError", "MemoryError", …)
    seconds: float  # wall-clock seconds from start to exit (or kill)
    returncode: int | None  # the process's exit status (negative: killed by that signal); None if it never ran

    @property
    def passed(self) -> bool:
        """Whether every test held."""
        return self.outcome == "passed"

    def to_dict(self) -> dict[str, Any]:
        """The whole record."""
        return asdict(self)

    def to_line(self) -> dict[str, Any]:
        """The record as samples.jsonl stores it: without `seconds`, so two runs' lines compare byte for byte."""
        return {"outcome": self.outcome, "detail": self.detail, "returncode": self.returncode}


def verdict_outcome(verdict: str) -> tuple[str, str]:
    """(outcome, detail) from the bootstrap's verdict line after its nonce: `passed`, `limit <detail>` or
    `failed <detail>`."""
    kind, _, detail = verdict.partition(" ")
    if kind == "passed":
        return "passed", ""
    if kind == "limit":
        return "limit_exceeded", detail
    return "failed", detail


def signal_outcome(signum: int, cpu_limited: bool) -> tuple[str, str]:
    """(outcome, detail) of a program killed by `signum` without a verdict: an rlimit's signal is
    `limit_exceeded` (SIGKILL only when the CPU limit is what sent it), any other `failed`."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    if signum in LIMIT_SIGNALS and (signum != signal.SIGKILL or cpu_limited):
        return "limit_exceeded", name
    return "failed", f"killed by {name}"

