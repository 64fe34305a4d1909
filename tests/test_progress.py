"""Progress of a run (titan_eval.progress, titan_eval.cli.progress_view): tallies count resumed documents as done
and give rate and ETA; a log (not a terminal) gets one plain line per chunk, a terminal rich bars, `--quiet`
nothing; end to end, a non-TTY `titan-eval run` prints those lines for ll, cot and a native suite."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from cli_helpers import titan_eval
from titan_eval.cli.progress_view import PlainLines, RichBars, format_seconds, run_progress
from titan_eval.progress import QUIET, TallyProgress, as_progress

KEY = "arc_easy [ll]"


def test_tally_counts_resumed_docs_as_done_and_estimates_rate_and_eta() -> None:
    progress = TallyProgress()
    progress.task_started(KEY, 200, done=40)
    tally = progress.tallies[KEY]
    assert (tally.done, tally.rate(), tally.eta()) == (40, None, None)
    tally.started -= 10.0
    progress.docs_done(KEY, 32)
    now = tally.started + 10.0
    assert tally.done == 72 and tally.rate(now) == pytest.approx(3.2) and tally.eta(now) == pytest.approx(40.0)
    progress.tokens(100)
    assert tally.tokens == 100 and tally.token_rate(now) == pytest.approx(10.0)
    progress.task_finished(KEY)
    progress.tokens(5)  # no task running: nobody to attribute them to
    assert tally.tokens == 100 and tally.finished is not None


def test_a_log_gets_one_plain_line_per_chunk_and_native_suites_their_start_and_finish() -> None:
    out = io.StringIO()
    view = PlainLines(Console(file=out, width=30))  # narrower than a line: lines must not wrap
    view.task_started(KEY, 70)
    view.tallies[KEY].started -= 10.0
    for n in (32, 32, 6):
        view.docs_done(KEY, n)
    view.task_finished(KEY)
    view.task_started("arc_easy [cot]", 70, done=64)
    view.task_started("fact_margins", None)
    view.tallies["fact_margins"].started -= 75.0
    view.task_finished("fact_margins")
    lines = out.getvalue().splitlines()
    assert lines[0] == "arc_easy [ll]: started, 70 docs"
    assert re.fullmatch(r"arc_easy \[ll\]: 32/70 docs, 3\.2 docs/s, ETA 12 s", lines[1]), lines[1]
    assert re.fullmatch(r"arc_easy \[ll\]: 64/70 docs, 6\.\d docs/s, ETA 1 s", lines[2]), lines[2]
    assert re.fullmatch(r"arc_easy \[ll\]: 70/70 docs, 7\.0 docs/s", lines[3]), lines[3]
    assert lines[4:] == ["arc_easy [cot]: started, 64/70 docs already done (resumed)", "fact_margins: started",
                         "fact_margins: done in 1 min 15 s"]


def test_cot_lines_keep_the_generated_token_rate() -> None:
    out = io.StringIO()
    view = PlainLines(Console(file=out, width=200))
    view.task_started("arc_easy [cot]", 64)
    view.tallies["arc_easy [cot]"].started -= 10.0
    view.tokens(960)
    view.docs_done("arc_easy [cot]", 32)
    assert re.fullmatch(r"arc_easy \[cot\]: 32/64 docs, 3\.2 docs/s, ETA 10 s, 960 tokens, 96 tok/s",
                        out.getvalue().splitlines()[-1])


def test_a_terminal_gets_rich_bars_and_quiet_gets_nothing() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    with run_progress(console) as view:
        assert isinstance(view, RichBars)
        view.task_started(KEY, 70, done=32)
        view.docs_done(KEY, 38)
        view.task_finished(KEY)
        view.task_started("bpb", None)
        view.task_finished("bpb")
    assert "70/70 docs" in out.getvalue() and "bpb" in out.getvalue()
    with run_progress(Console(file=io.StringIO()), quiet=True) as view:
        assert view is QUIET
    with run_progress(Console(file=io.StringIO(), force_terminal=False)) as view:
        assert isinstance(view, PlainLines)


def test_formats_and_the_token_callback_interface() -> None:
    assert [format_seconds(s) for s in (0.4, 44, 192, 3720)] == ["0 s", "44 s", "3 min 12 s", "1 h 02 min"]
    heard: list[int] = []
    progress = as_progress(heard.append)
    progress.task_started(KEY, 3)
    progress.tokens(7)
    assert heard == [7] and as_progress(None) is QUIET


# -- end to end: the CLI with stderr captured (not a terminal) ---------------------------------------------------

@pytest.mark.slow
def test_a_non_tty_run_prints_progress_lines_for_every_mode_and_native_suites(tmp_path: Path) -> None:
    proc = titan_eval("run", "titan_sample", "fact_margins", "--model", "titan-tiny", "--mode", "ll,cot",
                      "--limit", "8", "--think-budget", "4", "--output", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert "titan_sample [ll]: started, 8 docs" in lines and "titan_sample [cot]: started, 8 docs" in lines
    assert any(re.fullmatch(r"titan_sample \[ll\]: 8/8 docs, [\d.]+ docs/s", ln) for ln in lines), lines
    assert any(re.fullmatch(r"titan_sample \[cot\]: 8/8 docs, [\d.]+ docs/s, \d+ tokens, [\d.]+ tok/s", ln)
               for ln in lines), lines
    assert "fact_margins: started" in lines
    assert any(re.fullmatch(r"fact_margins: done in \d+ s", ln) for ln in lines), lines


@pytest.mark.slow
def test_quiet_prints_no_progress(tmp_path: Path) -> None:
    proc = titan_eval("run", "titan_sample", "--model", "titan-tiny", "--limit", "4", "--quiet",
                      "--output", str(tmp_path / "q"))
    assert proc.returncode == 0, proc.stderr
    assert "titan_sample" not in proc.stderr and "docs" not in proc.stderr and "started" not in proc.stderr
    assert "run stored in" in proc.stderr
