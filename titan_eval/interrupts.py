"""Stopping a single-process run cleanly on SIGINT (Ctrl-C) or SIGTERM.

`stop_on_signals()` (installed by the CLI around a run) turns either signal into `RunInterrupted` in the main
thread, so the runner can mark run.json `interrupted` and release its lock. Writes that must land whole (a chunk
of sample lines) run inside `uninterruptible()`: a signal arriving there is held until the block ends, so
samples.jsonl never holds part of a chunk. Outside `stop_on_signals()` (library use, torchrun ranks, which keep
`distributed`'s own SIGTERM handling) `uninterruptible()` changes nothing.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

from titan_eval.errors import RunInterrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Held:
    """Process-wide state: how deep inside `uninterruptible()` we are, and a signal that arrived there."""

    depth = 0
    pending: int | None = None


def _on_signal(signum: int, frame: Any) -> None:
    if _Held.depth:
        _Held.pending = _Held.pending or signum
        return
    raise RunInterrupted(signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """While active (main thread only), SIGINT and SIGTERM raise `RunInterrupted`; the previous handlers come
    back afterwards. A signal the parent set to be ignored (SIGINT for a shell's background job) stays ignored.
    Elsewhere than the main thread this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, _on_signal)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)  # None: set outside Python
        _Held.pending = None


@contextmanager
def uninterruptible() -> Iterator[None]:
    """Hold SIGINT / SIGTERM (as caught by `stop_on_signals`) until the block ends; then raise `RunInterrupted`
    for the first one held, unless the block itself raised."""
    _Held.depth += 1
    try:
        yield
    finally:
        _Held.depth -= 1
    if not _Held.depth and _Held.pending is not None:
        signum, _Held.pending = _Held.pending, None
        raise RunInterrupted(signum)
