"""One writer per run folder: `run.lock`, holding its owner's pid, host and start time (JSON).

The lock is an exclusive `flock` on that file, so the kernel drops it when the owner dies however it dies
(SIGKILL, OOM, power). A second run into the same folder finds it held and is refused (`UsageError`, exit 2,
naming the owner). A lock file whose flock is free but which still names an owner was left by a process that
died without releasing it: it is taken over, and `RunLock.taken_over` says from whom (the CLI prints that).
`release()` deletes the file. Acquiring a folder this process already holds returns the same lock (counted), so
the CLI can lock early and the run writer lock again. Without `fcntl` (Windows) a lock file naming another
process is always refused: delete it by hand once no run uses it.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from titan_eval.errors import UsageError

LOCK_NAME = "run.lock"


@dataclass(frozen=True)
class LockOwner:
    """Who holds (or held) a run folder's lock."""

    pid: int
    host: str
    since_utc: str = ""

    def describe(self) -> str:
        """`pid 1234 on host h, since 2025-01-01T00:00:00Z`."""
        since = f", since {self.since_utc}" if self.since_utc else ""
        return f"pid {self.pid} on host {self.host}{since}"


def _this_process() -> LockOwner:
    return LockOwner(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


def _read_owner(fd: int) -> LockOwner | None:
    """The owner an open lock file names (None for an empty or unreadable file)."""
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        data = json.loads(raw.decode("utf-8"))
        return LockOwner(int(data["pid"]), str(data["host"]), str(data.get("since_utc", "")))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _try_flock(fd: int) -> bool | None:
    """Take an exclusive non-blocking flock on `fd`: True if taken, False if another process holds it, None where
    the platform has no flock."""
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """`path` still names the file open as `fd` (a released lock is unlinked, so a waiter retries)."""
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


class RunLock:
    """The held lock of one run folder. Use `RunLock.acquire(folder)` and `release()` (or `with`). One holder per
    process too: whoever locked a folder early (the CLI, before the model loads) hands the lock on to the run
    writer (`RunWriter(lock=...)`) instead of locking again."""

    def __init__(self, path: Path, fd: int, taken_over: LockOwner | None) -> None:
        self.path, self.fd, self.released = path, fd, False
        self.taken_over = taken_over  # the dead owner whose lock this replaced, if any

    @classmethod
    def acquire(cls, folder: Path | str) -> "RunLock":
        """Lock the existing folder `folder`; `UsageError` (exit 2) naming the owner if another process holds it."""
        path = Path(folder) / LOCK_NAME
        for _ in range(8):  # a lock released between our open and flock: try the next file
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                lock = cls._take(path, fd)
            except BaseException:
                os.close(fd)
                raise
            if lock is not None:
                return lock
            os.close(fd)
        raise UsageError(f"{path.parent} is being locked and released by other runs; try again")

    @classmethod
    def _take(cls, path: Path, fd: int) -> "RunLock | None":
        """The lock on the open file `fd`, or None when `path` no longer names it."""
        flocked = _try_flock(fd)
        owner = _read_owner(fd)
        me = _this_process()
        if flocked is False or (flocked is None and owner is not None and owner.pid != me.pid):
            who = owner.describe() if owner is not None else "a process that is starting"
            hint = f"; delete {path} if no run uses it" if flocked is None else ""
            raise UsageError(f"{path.parent} is in use by another titan-eval run ({who}); wait for it to end or "
                             f"choose another --output{hint}")
        if not _same_file(fd, path):
            return None
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(asdict(me)) + "\n").encode("utf-8"))
        os.fsync(fd)
        return cls(path, fd, owner)

    def release(self) -> None:
        """Give the lock back and delete the file (once; later calls do nothing)."""
        if self.released:
            return
        self.released = True
        try:
            if _same_file(self.fd, self.path):
                self.path.unlink()
        finally:
            os.close(self.fd)

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
