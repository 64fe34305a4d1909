"""Typer application. Each command lives in its own module under `titan_eval.cli` and registers itself through
`register(app)`; `main()` maps the project's exceptions to exit codes (see `titan_eval.errors`)."""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator

os.environ.setdefault("TQDM_DISABLE", "1")  # lm-eval's / datasets' bars; the CLI shows its own status

import typer
from typer.core import TyperGroup

from titan_eval.cli.errors import report
from titan_eval.errors import TitanEvalError, UsageError
from titan_eval.textfiles import one_line


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """A bad command line (unknown option, a value of the wrong type, a missing argument) → the project's one
    `error:` line and exit 2, instead of click's usage block or Typer's boxed panel. No arguments at all still
    shows the help."""
    try:
        yield
    except typer.TyperException as err:  # click's ClickException family (typer vendors click)
        if type(err).__name__ == "NoArgsIsHelpError":
            raise
        ctx = getattr(err, "ctx", None)
        hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        report(UsageError(one_line(err.format_message()).rstrip(".") + hint))
        raise typer.Exit(UsageError.exit_code) from None


class OneLineErrorsGroup(TyperGroup):
    """The app's command group: parsing its own and its commands' arguments goes through
    `_one_line_usage_errors`, so the console script and Typer's CliRunner print the same line."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent=parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _one_line_usage_errors():  # a command's own arguments are parsed here
            return super().invoke(ctx)


app = typer.Typer(cls=OneLineErrorsGroup, add_completion=False, no_args_is_help=True,
                  help="Trustworthy evaluation of small custom LMs.")

COMMAND_MODULES = (
    "titan_eval.cli.run_cmd",
    "titan_eval.cli.info_cmd",
    "titan_eval.cli.report_cmd",
    "titan_eval.cli.probe_cmd",
    "titan_eval.cli.suite_cmd",
    "titan_eval.cli.sweep_cmd",
    "titan_eval.cli.view_cmd",
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
