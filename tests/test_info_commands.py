"""`titan-eval models` / `tasks` list what the installation carries, and say so (exit 2) when it carries nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_helpers import invoke
from titan_eval import cards, paths
from titan_eval.tasks import catalog


def test_models_and_tasks_list_the_projects_own(tmp_path: Path) -> None:
    models = invoke("models")
    assert models.returncode == 0
    assert {line.split()[0] for line in models.stdout.splitlines()} >= {"titan-tiny", "mamba-tiny", "helix-tiny"}
    tasks = invoke("tasks")
    assert tasks.returncode == 0 and {"titan_sample", "arc_easy", "reasoning85"} <= set(tasks.stdout.split())


def test_no_cards_is_an_error_naming_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cards, "CARDS_DIR", tmp_path)
    monkeypatch.setattr(paths, "CARDS_DIR", tmp_path)
    proc = invoke("models")
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"no model cards found in {tmp_path}" in proc.stderr and "reinstall" in proc.stderr


def test_no_task_definitions_is_an_error_naming_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "TASKS_DIR", tmp_path)
    monkeypatch.setattr(paths, "TASKS_DIR", tmp_path)
    catalog.lm_eval_task_files.cache_clear()
    try:
        proc = invoke("tasks")
    finally:
        catalog.lm_eval_task_files.cache_clear()
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"no task definitions found in {tmp_path}" in proc.stderr
