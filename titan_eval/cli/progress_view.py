"""How `titan-eval run` shows progress on stderr: rich bars on a terminal, one plain line per finished chunk of
documents otherwise (CI logs), nothing with `--quiet`. The counting is `titan_eval.progress`; this is rendering.

A plain line reads `arc_easy [ll]: 64/200 docs, 3.1 docs/s, ETA 44 s` (plus `, 1,204 tokens, 96 tok/s` when the
task generates); native suites get `reasoning85: started` and `reasoning85: done in 12.3 s`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from titan_eval.progress import QUIET, RunProgress, TallyProgress, TaskTally


def format_seconds(seconds: float) -> str:
    """`44 s`, `3 min 12 s`, `1 h 02 min`."""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def format_rate(rate: float) -> str:
    """Three significant digits at most, never in scientific notation: `96`, `3.1`, `0.42`."""
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}" if rate >= 1 else f"{rate:.2f}"


def count_text(tally: TaskTally) -> str:
    """`64/200 docs` (or `64 docs` without a total)."""
    return f"{tally.done}/{tally.total} docs" if tally.total is not None else f"{tally.done} docs"


def rate_text(tally: TaskTally) -> str:
    """`3.1 docs/s, ETA 44 s`, or '' before the first document of this process."""
    rate, eta = tally.rate(), tally.eta()
    parts = [f"{format_rate(rate)} docs/s"] if rate is not None else []
    if eta is not None and tally.done < (tally.total or 0):
        parts.append(f"ETA {format_seconds(eta)}")
    return ", ".join(parts)


def token_text(tally: TaskTally) -> str:
    """`1,204 tokens, 96 tok/s` for a task that generates, else ''."""
    rate = tally.token_rate()
    return f"{tally.tokens:,} tokens, {format_rate(rate)} tok/s" if rate is not None else ""


def plain_line(tally: TaskTally, event: str) -> str | None:
    """The log line for `event` on `tally`, or None when that event prints nothing."""
    if event == "started":
        if tally.total is None:
            return f"{tally.key}: started"
        if tally.resumed:
            return f"{tally.key}: started, {count_text(tally)} already done (resumed)"
        return f"{tally.key}: started, {tally.total} docs"
    if event == "docs":
        return ": ".join((tally.key, ", ".join(p for p in (count_text(tally), rate_text(tally), token_text(tally)) if p)))
    if event == "finished" and tally.total is None:
        return f"{tally.key}: done in {format_seconds(tally.elapsed())}"
    return None


class PlainLines(TallyProgress):
    """One line per started task, finished chunk and finished native suite."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console

    def changed(self, tally: TaskTally, event: str) -> None:
        line = plain_line(tally, event)
        if line is not None:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class RichBars(TallyProgress):
    """A rich bar per task: documents done / total, docs/s, ETA, generated tokens and tok/s, elapsed time."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        columns = (TextColumn("{task.description}", markup=False), BarColumn(), TextColumn("{task.fields[count]}"),
                   TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[tokens]}"), TimeElapsedColumn())
        self.bars = Progress(*columns, console=console)
        self.ids: dict[str, TaskID] = {}

    def changed(self, tally: TaskTally, event: str) -> None:
        if event == "started":
            self.ids[tally.key] = self.bars.add_task(tally.key, total=tally.total, completed=tally.done,
                                                     count="", rate="", tokens="")
        task = self.ids[tally.key]
        done = event == "finished"
        self.bars.update(task, completed=tally.done if tally.total is not None or not done else 1,
                         total=tally.total if tally.total is not None or not done else 1,
                         count=count_text(tally) if tally.total is not None else "", rate=rate_text(tally),
                         tokens=token_text(tally))
        if done:
            self.bars.stop_task(task)


@contextmanager
def run_progress(console: Console, quiet: bool = False) -> Iterator[RunProgress]:
    """The listener `titan-eval run` hands the runner: `QUIET`, rich bars (terminal) or plain lines."""
    if quiet:
        yield QUIET
    elif console.is_terminal:
        view = RichBars(console)
        with view.bars:
            yield view
    else:
        yield PlainLines(console)
