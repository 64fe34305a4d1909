"""What a run reports while it works: the progress protocol between the runner and whoever shows it.

The runner and the task runners call a `RunProgress`; they never print. The CLI subclasses `TallyProgress` to
render the tallies (rich bars on a terminal, one plain line per chunk in a log, nothing with `--quiet`).

Glossary:
    key       a task as the user reads it: `arc_easy [ll]`, `arc_easy [cot]`, `reasoning85`
    total     documents the task evaluates (its whole selection, resumed ones included); None for native suites,
              which run whole and report only their start and finish
    resumed   documents a resumed run already held when the task started: counted as done from the start
    tokens    generated tokens (think traces, generate_until); attributed to the task that is running
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Union


class RunProgress:
    """The protocol. Every method is a no-op here, so this class itself is a quiet listener."""

    def task_started(self, key: str, total: int | None, done: int = 0) -> None:
        """`key` starts; `done` of its `total` documents are already done (resumed)."""

    def docs_done(self, key: str, n: int) -> None:
        """`n` more documents of `key` are finished (and written)."""

    def task_finished(self, key: str) -> None:
        """`key` is finished."""

    def tokens(self, n: int) -> None:
        """`n` more tokens were generated (by the task that is running)."""


QUIET = RunProgress()


class TokenCallback(RunProgress):
    """The earlier interface: a callable told about generated tokens only."""

    def __init__(self, callback: Callable[[int], None]) -> None:
        self.callback = callback

    def tokens(self, n: int) -> None:
        self.callback(n)


ProgressLike = Union[RunProgress, Callable[[int], None], None]


def as_progress(progress: ProgressLike) -> RunProgress:
    """A `RunProgress` for `progress`: itself, a token callback wrapped, or `QUIET` for None."""
    if progress is None:
        return QUIET
    if isinstance(progress, RunProgress):
        return progress
    return TokenCallback(progress)


@dataclass
class TaskTally:
    """One task's counts and timing, from its start in this process (monotonic clock, seconds)."""

    key: str
    total: int | None
    resumed: int = 0
    new: int = 0  # documents finished by this process
    tokens: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def done(self) -> int:
        """Documents done, resumed ones included."""
        return self.resumed + self.new

    def elapsed(self, now: float | None = None) -> float:
        return (self.finished or now or time.monotonic()) - self.started

    def rate(self, now: float | None = None) -> float | None:
        """Documents per second finished by this process (None before the first)."""
        elapsed = self.elapsed(now)
        return self.new / elapsed if self.new and elapsed > 0 else None

    def token_rate(self, now: float | None = None) -> float | None:
        """Generated tokens per second (None before the first)."""
        elapsed = self.elapsed(now)
        return self.tokens / elapsed if self.tokens and elapsed > 0 else None

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the rate so far (None when the total or the rate is unknown)."""
        rate = self.rate(now)
        if self.total is None or rate is None:
            return None
        return max(0, self.total - self.done) / rate


class TallyProgress(RunProgress):
    """Keeps a `TaskTally` per key and calls `changed(tally, event)` after every update; event is one of
    started | docs | tokens | finished. Subclasses render."""

    def __init__(self) -> None:
        self.tallies: dict[str, TaskTally] = {}
        self.current: str | None = None

    def task_started(self, key: str, total: int | None, done: int = 0) -> None:
        self.tallies[key] = tally = TaskTally(key, total, resumed=done)
        self.current = key
        self.changed(tally, "started")

    def docs_done(self, key: str, n: int) -> None:
        tally = self.tallies[key]
        tally.new += n
        self.changed(tally, "docs")

    def task_finished(self, key: str) -> None:
        tally = self.tallies[key]
        tally.finished = time.monotonic()
        if self.current == key:
            self.current = None
        self.changed(tally, "finished")

    def tokens(self, n: int) -> None:
        if self.current is None:
            return
        tally = self.tallies[self.current]
        tally.tokens += n
        self.changed(tally, "tokens")

    def changed(self, tally: TaskTally, event: str) -> None:
        """Render `tally` after `event`; nothing here."""
