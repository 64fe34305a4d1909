"""What guards a `titan-eval run` process: the run folder's lock and a clean stop on SIGINT / SIGTERM.

`run_guard` holds an explicit `--output` / `--resume` folder's lock before the model loads (so a second run into
it fails in a second, exit 2, naming the owner; a dead owner's lock is taken over with one `note:` line), and in
a single process turns Ctrl-C and SIGTERM into `RunInterrupted`: the runner marks run.json `interrupted`, and
this prints one line with the command that resumes the run and exits 130 (SIGINT) or 143 (SIGTERM). Under a
launcher (torchrun) the signals keep `distributed`'s handling.
"""

from __future__ import annotations

import shlex
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator, Sequence

import typer
from rich.console import Console

from titan_eval.errors import RunInterrupted
from titan_eval.run_lock import RunLock


def resume_command(run_dir: Path | str, argv: Sequence[str] | None = None) -> str:
    """The command that resumes the run in `run_dir`: this process's `run` arguments (from `argv`, default
    `sys.argv[1:]`) without `--output` / `--resume`, then `--resume DIR`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] != ["run"]:  # not started from the command line (e.g. a test runner): the shape of it
        return f"titan-eval run … --resume {shlex.quote(str(run_dir))}"
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in ("--output", "--resume"):
            skip = True
        elif not arg.startswith(("--output=", "--resume=")):
            kept.append(arg)
    return shlex.join(["titan-eval", *kept, "--resume", str(run_dir)])


def interrupted_line(err: RunInterrupted, output_dir: str | None) -> str:
    """The one line an interrupted run prints: what stopped it and how to resume (when there is a run to)."""
    run_dir = err.run_dir or (Path(output_dir) if output_dir and (Path(output_dir) / "run.json").exists() else None)
    if run_dir is None:
        return f"{err} before the run folder was written; nothing to resume"
    return f"{err}; run.json says `interrupted`. Resume with: {resume_command(run_dir)}"


@contextmanager
def run_guard(console: Console, output_dir: str | None, is_main: bool, single: bool) -> Iterator[RunLock | None]:
    """Lock `output_dir` (rank 0, when given) and, for a `single` process, stop cleanly on SIGINT / SIGTERM
    (`typer.Exit` 130 / 143 after the resume line). Yields the lock (None when not taken), which the run writer
    uses instead of locking again; it is released however the block ends."""
    from titan_eval.interrupts import stop_on_signals

    lock = RunLock.acquire(output_dir) if is_main and output_dir else None
    try:
        if lock is not None and lock.taken_over is not None:
            console.print(f"note: took over {lock.path}: its owner ({lock.taken_over.describe()}) is no longer "
                          "running", highlight=False, soft_wrap=True, markup=False)
        with stop_on_signals() if single else nullcontext():
            yield lock
    except RunInterrupted as err:
        console.print(interrupted_line(err, output_dir), highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(err.exit_code) from None
    finally:
        if lock is not None:
            lock.release()
