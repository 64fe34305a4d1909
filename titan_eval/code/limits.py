"""What a model-written program may use: the rlimits set in its own process before it runs, the wall-clock time
before its whole process group is killed, and the size of its private /tmp. One frozen record, stored in run.json."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from titan_eval.errors import UsageError

MiB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Per-program limits (each program alone; parallel programs each have their own)."""

    wall_s: float = 10.0  # wall-clock seconds before the process group is killed (outcome `timeout`)
    cpu_s: int = 20  # RLIMIT_CPU: CPU seconds (SIGXCPU → `limit_exceeded`); above wall_s, so a busy loop times out
    memory_bytes: int = 2048 * MiB  # RLIMIT_AS: address space (MemoryError → `limit_exceeded`)
    processes: int = 32  # RLIMIT_NPROC: processes and threads of one program, itself included (fork → EAGAIN)
    open_files: int = 64  # RLIMIT_NOFILE: open file descriptors
    file_bytes: int = 16 * MiB  # RLIMIT_FSIZE: largest file it may write (its stdout and stderr included)
    tmp_bytes: int = 64 * MiB  # size of the private /tmp (bubblewrap only; plain runs get a fresh folder)

    def validate(self) -> None:
        """UsageError for a limit that is not positive."""
        bad = [k for k, v in asdict(self).items() if not v > 0]
        if bad:
            raise UsageError(f"code sandbox limits must be positive: {', '.join(bad)}")

    def rlimits(self, processes: int) -> dict[str, int]:
        """{resource module name: value}, each set as both soft and hard limit; `processes` is RLIMIT_NPROC as the
        executor works it out (per sandbox, or the user's whole count: `code.executor`)."""
        return {"RLIMIT_CPU": int(self.cpu_s), "RLIMIT_AS": int(self.memory_bytes), "RLIMIT_NPROC": int(processes),
                "RLIMIT_NOFILE": int(self.open_files), "RLIMIT_FSIZE": int(self.file_bytes), "RLIMIT_CORE": 0}

    def to_dict(self) -> dict[str, Any]:
        """The limits as run.json records them."""
        return asdict(self)
