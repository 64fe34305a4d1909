"""`titan-eval models | tasks | env`: what is available here."""

from __future__ import annotations

import json

import typer

from titan_eval.cli.errors import exits_on_error


def models_command() -> None:
    """List the model cards in model/."""
    from titan_eval.cards import list_cards, load_card

    for name in list_cards():
        card = load_card(name)
        typer.echo(f"{name:24s} {card.arch:7s} {card.description}")


def tasks_command() -> None:
    """List the tasks titan-eval can run."""
    from titan_eval.tasks.catalog import all_task_names

    for name in all_task_names():
        typer.echo(name)


def env_command() -> None:
    """Versions, device, and which optional kernels import (JSON)."""
    from titan_eval.provenance import environment

    typer.echo(json.dumps(environment(), indent=2))


def register(app: typer.Typer) -> None:
    app.command("models")(exits_on_error(models_command))
    app.command("tasks")(exits_on_error(tasks_command))
    app.command("env")(exits_on_error(env_command))
