"""Task YAMLs are code (lm-eval's `!function` imports the Python file next to them), so titan-eval lets lm-eval read
only the project's own tasks/ folder, its own installed package and a folder the user names with --include-path: a
YAML path given as a task, or a YAML nested below tasks/, is never loaded, and a broken task YAML is a one-line
DataError with file and line, parsed without importing anything."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cli_helpers import titan_eval as cli
from titan_eval.errors import DataError, UsageError
from titan_eval.paths import TASKS_DIR
from titan_eval.tasks import catalog

EVIL_YAML = """task: evil
custom_dataset: !function evil_mod.dataset
output_type: multiple_choice
test_split: test
doc_to_text: "{{question}}"
doc_to_target: 0
doc_to_choice: ["a", "b"]
metric_list:
  - metric: acc
"""


def _evil(folder: Path) -> tuple[Path, Path]:
    """evil.yaml + evil_mod.py in `folder`; importing evil_mod writes `marker`."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / "imported-evil-module"
    (folder / "evil_mod.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
                                        "def dataset(**kwargs):\n    raise SystemExit('never')\n")
    (folder / "evil.yaml").write_text(EVIL_YAML)
    return folder / "evil.yaml", marker


@pytest.fixture()
def tasks_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's tasks/ folder standing in for it."""
    folder = tmp_path / "tasks"
    shutil.copytree(TASKS_DIR, folder)
    monkeypatch.setattr(catalog, "TASKS_DIR", folder)
    catalog.lm_eval_task_files.cache_clear()
    yield folder
    catalog.lm_eval_task_files.cache_clear()


def test_lm_eval_itself_would_import_the_module_of_a_yaml_path(tmp_path: Path) -> None:
    """Why the guard exists: handed a YAML path as a task name, lm-eval loads it and runs its `!function` module."""
    from lm_eval.tasks import TaskManager

    path, marker = _evil(tmp_path / "elsewhere")
    try:
        TaskManager(include_path=str(TASKS_DIR), include_defaults=False).load([str(path)])
    except BaseException:  # the module's dataset() refuses; importing it is what matters here
        pass
    assert marker.exists()


def test_a_yaml_path_is_refused_before_lm_eval_sees_it(tmp_path: Path) -> None:
    path, marker = _evil(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match="a task is named, not given as a file"):
        catalog.load_lm_eval_tasks([str(path)], None)
    with pytest.raises(UsageError, match="--include-path FOLDER"):
        catalog.check_task_names([str(path)])
    assert not marker.exists()


def test_cli_run_with_a_yaml_path_as_task(tmp_path: Path) -> None:
    path, marker = _evil(tmp_path / "elsewhere")
    proc = cli("run", str(path), "--model", "mamba-tiny", "--output", str(tmp_path / "run"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len([ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]) == 1
    assert not marker.exists()


def test_only_yamls_directly_in_tasks_dir_are_tasks(tasks_copy: Path) -> None:
    _, marker = _evil(tasks_copy / "nested")
    assert "evil" not in catalog.lm_eval_task_names() and "titan_sample" in catalog.lm_eval_task_names()
    with pytest.raises(UsageError, match=r"unknown task\(s\) evil"):
        catalog.load_lm_eval_tasks(["evil"], None)
    assert not marker.exists()


def test_lm_eval_is_given_the_tasks_dir_and_not_its_own(tasks_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lm_eval.tasks

    seen = {}

    class Recorder:
        def __init__(self, **kwargs) -> None:
            seen.update(kwargs)

        def load(self, names: list[str]) -> dict:
            return {"tasks": {}, "groups": {}, "group_map": {}}

    monkeypatch.setattr(lm_eval.tasks, "TaskManager", Recorder)
    with pytest.raises(DataError, match="lm-eval built no task named titan_sample"):
        catalog.load_lm_eval_tasks(["titan_sample"], None)
    assert seen["include_path"] == [str(tasks_copy)] and seen["include_defaults"] is False


def test_a_broken_task_yaml_names_file_and_line_without_importing(tasks_copy: Path) -> None:
    _, marker = _evil(tasks_copy / "nested")
    yaml_path = tasks_copy / "titan_sample.yaml"
    text = yaml_path.read_text().replace("custom_dataset: !function titan_data.titan_sample",
                                         "custom_dataset: !function nested.evil_mod.dataset\nbroken: [unclosed")
    yaml_path.write_text(text)
    line = text.splitlines().index("broken: [unclosed") + 2  # the parser notices at the next line
    with pytest.raises(DataError, match=rf"titan_sample\.yaml:{line}: malformed YAML"):
        catalog.load_lm_eval_tasks(["titan_sample"], None)
    assert not marker.exists()


def test_the_project_task_yamls_pass_the_check() -> None:
    for path in catalog.lm_eval_task_files().values():
        catalog.check_task_yaml(path)


def test_tasks_are_built_with_task_managers_load_and_match_the_deprecated_call(recwarn: pytest.WarningsRecorder) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    tasks = catalog.load_lm_eval_tasks(["titan_sample"], None)
    assert not [w for w in recwarn if "deprecated" in str(w.message)], [str(w.message) for w in recwarn]
    manager = TaskManager(include_path=str(catalog.TASKS_DIR), include_defaults=False)
    with pytest.warns(DeprecationWarning):
        old = get_task_dict(["titan_sample"], manager)
    assert list(tasks) == list(old) == ["titan_sample"]
    docs, old_docs = list(tasks["titan_sample"].eval_docs), list(old["titan_sample"].eval_docs)
    assert len(docs) == 24 and docs == old_docs
    task, old_task = tasks["titan_sample"], old["titan_sample"]
    assert [task.doc_to_text(d) for d in docs] == [old_task.doc_to_text(d) for d in old_docs]
    assert [task.doc_to_choice(d) for d in docs] == [old_task.doc_to_choice(d) for d in old_docs]
