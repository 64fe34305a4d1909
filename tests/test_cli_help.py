"""`titan-eval run --help` reads well at 80 columns, in a terminal and piped: options grouped in panels, and every
description column wide enough for a phrase per line (it used to get 17 columns: two or three words a line)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

PANELS = ("Arguments", "Options", "Model", "Selection", "Think mode (cot)", "lm-eval prompt", "Prompt", "Native suites", "Code tasks",
          "Output")
ROW = re.compile(r"^│ (--[\w-]+)(?: +-\w)?(?: +--no-[\w-]+)? +<[^>]+> +(\S.*?) *│$")


def _run_help(columns: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "TERMINAL_WIDTH")}
    env.update({"COLUMNS": columns} if columns else {})
    proc = subprocess.run([sys.executable, "-m", "titan_eval", "run", "--help"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("columns", ["80", None])  # None: piped with no COLUMNS, rich's default width
def test_run_help_fits_80_columns_in_panels_with_room_for_the_descriptions(columns: str | None) -> None:
    lines = _run_help(columns)
    assert max(map(len, lines)) == 80
    titles = [m.group(1) for ln in lines if (m := re.match(r"^╭─ (.+?) ─+╮$", ln))]
    assert titles == list(PANELS)
    rows = {m.group(1): (m.start(2), m.group(2)) for ln in lines if (m := ROW.match(ln))}
    assert len(rows) >= 30, lines
    assert max(start for start, _ in rows.values()) <= 50  # ≥ 28 columns for every description (was 20)
    assert rows["--think-budget"][1] == "Think tokens before a forced close."
    assert rows["--limit"][1] == "Score N docs per task."
    assert rows["--no-prefix-reuse"][1] == "Score every choice's full row."
