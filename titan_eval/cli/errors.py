"""The one place the project's exceptions become exit codes: every command is wrapped by `exits_on_error`, so a
`TitanEvalError` prints one `error:` line on stderr and exits with its code (titan_eval.errors), also under
Typer's `CliRunner`."""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import typer
from rich.console import Console

from titan_eval.errors import TitanEvalError

F = TypeVar("F", bound=Callable[..., Any])
err_console = Console(stderr=True)


def report(err: TitanEvalError) -> None:
    """The one line an expected failure prints."""
    err_console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)


def exits_on_error(command: F) -> F:
    """Wrap a Typer command: `TitanEvalError` → its message and `typer.Exit(err.exit_code)`."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TitanEvalError as err:
            report(err)
            raise typer.Exit(err.exit_code) from None

    return wrapper  # type: ignore[return-value]
