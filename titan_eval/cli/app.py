"""Typer application. Each command lives in its own module under `titan_eval.cli` and registers itself through
`register(app)`; `main()` maps the project's exceptions to exit codes (see `titan_eval.errors`)."""

from __future__ import annotations

import importlib
import os
import sys

os.environ.setdefault("TQDM_DISABLE", "1")  # lm-eval's / datasets' bars; the CLI shows its own status

import typer

from titan_eval.cli.errors import report
from titan_eval.errors import TitanEvalError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Trustworthy evaluation of small custom LMs.")

COMMAND_MODULES = (
    "titan_eval.cli.run_cmd",
    "titan_eval.cli.info_cmd",
    "titan_eval.cli.report_cmd",
    "titan_eval.cli.probe_cmd",
    "titan_eval.cli.suite_cmd",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # that command module is not written yet
                continue
            raise
        module.register(app)


_register_all()


def main() -> None:
    """Console entry point: run the app; a `TitanEvalError` prints one line and exits with its code."""
    try:
        code = app(standalone_mode=False)  # click returns a command's typer.Exit code instead of raising it
        if isinstance(code, int) and code:
            sys.exit(code)
    except TitanEvalError as err:  # raised outside a command (commands map their own: cli.errors)
        report(err)
        sys.exit(err.exit_code)
    except (typer.Exit, SystemExit) as done:
        code = getattr(done, "exit_code", getattr(done, "code", 0))
        sys.exit(code or 0)
    except Exception as err:  # usage errors from (typer's vendored or the standalone) click
        if type(err).__name__ == "Abort":
            sys.exit(130)
        if hasattr(err, "show") and hasattr(err, "exit_code"):
            err.show()
            sys.exit(2 if err.exit_code in (1, 2) else err.exit_code)
        raise
