"""Run the CLI: the real console entry point in a subprocess (`titan_eval`), or in-process (`invoke`)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest


def titan_eval(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "titan_eval", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


@dataclass(frozen=True)
class Invocation:
    """An in-process CLI run through Typer's CliRunner, shaped like a CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str
    exception: BaseException | None


def invoke(*args: str) -> Invocation:
    """`titan-eval ARGS` in-process (CliRunner): the commands' own error mapping (`cli.errors`) gives the exit code
    and the `error:` line; an exception that escaped it is kept in `exception` (and makes returncode 1)."""
    from typer.testing import CliRunner

    from titan_eval.cli.app import app

    result = CliRunner().invoke(app, list(args))
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    return Invocation(result.exit_code, result.stdout, result.stderr, escaped)


def main_exit_code(monkeypatch: "pytest.MonkeyPatch", *args: str) -> int:
    """Run the real console entry point (`cli.app.main`) in-process with `titan-eval ARGS` and return its exit code;
    output goes to the test's captured stdout/stderr."""
    import pytest

    from titan_eval.cli import app as cli_app

    monkeypatch.setattr(sys, "argv", ["titan-eval", *args])
    with pytest.raises(SystemExit) as done:
        cli_app.main()
        raise SystemExit(0)
    return int(done.value.code or 0)
