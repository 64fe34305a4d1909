"""`titan-eval models | tasks | env`: what is available here."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from titan_eval.cli.errors import exits_on_error


def models_command() -> None:
    """List the model cards titan-eval ships (exit 2 when none is found: a broken installation)."""
    from titan_eval.cards import list_cards, load_card
    from titan_eval.errors import DataError
    from titan_eval.paths import CARDS_DIR

    names = list_cards()
    if not names:
        raise DataError(f"no model cards found in {CARDS_DIR}; the installation is incomplete (reinstall titan-eval)")
    for name in names:
        card = load_card(name)
        typer.echo(f"{name:24s} {card.arch:7s} {card.description}")


def tasks_command(
    all_tasks: Annotated[bool, typer.Option("--all", help="Also list the installed lm-eval's whole catalogue.")] = False,
    pattern: Annotated[Optional[str], typer.Argument(help="Only names matching this (glob, or a substring).",
                                                     show_default=False)] = None,
) -> None:
    """List the project's tasks; --all adds lm-eval's catalogue with each entry's kind and output type (exit 2 when
    no task definition is found: a broken installation)."""
    from titan_eval.errors import DataError
    from titan_eval.paths import TASKS_DIR
    from titan_eval.tasks.catalog import all_task_names, lm_eval_task_names
    from titan_eval.tasks.task_listing import catalogue_lines, matches

    if not lm_eval_task_names():
        raise DataError(f"no task definitions found in {TASKS_DIR}; the installation is incomplete (reinstall "
                        "titan-eval)")
    if not all_tasks:
        for name in all_task_names():
            if matches(name, pattern):
                typer.echo(name)
        return
    typer.echo("\n".join(catalogue_lines(pattern)))


def env_command() -> None:
    """Versions, device, and which optional kernels import (JSON)."""
    from titan_eval.provenance import environment

    typer.echo(json.dumps(environment(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("models")(exits_on_error(models_command))
    app.command("tasks")(exits_on_error(tasks_command))
    app.command("env")(exits_on_error(env_command))
