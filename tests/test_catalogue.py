"""lm-eval's catalogue through titan-eval: names resolved without importing lm-eval (the project's tasks win a
clash, tags expand, unknown names get the closest ones), the on-disk index, `tasks --all`, a user's
--include-path folder, and the Hub mirror layout under --data-dir."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import invoke
from titan_eval.errors import DataError, UsageError
from titan_eval.tasks import catalog, hub_mirror
from titan_eval.tasks.catalogue_index import catalogue, index_path
from titan_eval.tasks.task_names import CATALOGUE, INCLUDE, PROJECT, catalogue_folders

PIQA_ROWS = [{"goal": "How to open a jar?", "sol1": "Twist the lid.", "sol2": "Eat the lid.", "label": 0},
             {"goal": "How to cool tea?", "sol1": "Heat it.", "sol2": "Wait a while.", "label": 1},
             {"goal": "How to dry hair?", "sol1": "Use a towel.", "sol2": "Use water.", "label": 0}]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_names_resolve_with_the_project_first_and_tags_expanded() -> None:
    assert catalog.resolve_names(["arc_easy", "piqa", "reasoning85"]) == {"arc_easy": PROJECT, "piqa": CATALOGUE,
                                                            "reasoning85": "native"}
    assert catalogue()["arc_easy"].kind == "task"  # lm-eval has its own arc_easy; the project's wins
    assert catalog.expand_names(["ai2_arc"]) == {"arc_challenge": PROJECT, "arc_easy": PROJECT}
    folders = catalogue_folders(["piqa"])
    assert len(folders) == 1 and folders[0].name == "piqa" and (folders[0] / "piqa.yaml").exists()


def test_groups_expand_to_their_leaf_tasks_or_stay_whole() -> None:
    """mmlu nests four groups over its 57 subjects (through tags); a run keeps the group to aggregate it."""
    leaves = catalog.expand_names(["mmlu"])
    assert len(leaves) == 57 and all(n.startswith("mmlu_") and s == CATALOGUE for n, s in leaves.items())
    assert catalog.expand_names(["mmlu"], keep_groups=True) == {"mmlu": CATALOGUE}
    assert catalog.group_members("mmlu", CATALOGUE, None) == ["mmlu_stem", "mmlu_other", "mmlu_social_sciences",
                                                              "mmlu_humanities"]
    assert catalog.group_members("piqa", CATALOGUE, None) is None


@pytest.mark.parametrize(("name", "message"), [
    ("piqaa", r"unknown task\(s\) piqaa \(did you mean piqa"),
    ("tasks/x.yaml", "a task is named, not given as a file"),
])
def test_unusable_names_are_refused_with_a_reason(name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        catalog.check_task_names([name])


def test_name_checks_do_not_import_lm_eval() -> None:
    catalogue()  # the index exists (built once per lm-eval install)
    probe = ("import sys\nfrom titan_eval.tasks.catalog import check_task_names\ncheck_task_names(['piqa', 'ai2_arc'])\n"
             "print(sorted(m for m in ('lm_eval', 'torch', 'datasets') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


def test_the_index_is_read_from_disk_and_rebuilt_when_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = index_path()
    entries = catalogue()
    assert path.exists() and len(entries) > 10_000
    copy = tmp_path / "cache"
    monkeypatch.setenv("TITAN_EVAL_CACHE", str(copy))
    target = index_path()
    target.parent.mkdir(parents=True)
    target.write_text(path.read_text())
    catalogue.cache_clear()
    try:
        assert catalogue() == entries  # read back, not rebuilt
        target.write_text("{ damaged")
        catalogue.cache_clear()
        assert catalogue() == entries  # rebuilt (in a child process) and rewritten
        assert json.loads(target.read_text())["version"] == 1
    finally:
        catalogue.cache_clear()


def test_tasks_all_lists_the_catalogue_with_output_types() -> None:
    done = invoke("tasks", "--all", "piqa*")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["piqa", "task", "multiple_choice", "lm-eval"] in rows
    assert all(r[0].startswith("piqa") for r in rows)
    project = [line.split() for line in invoke("tasks", "--all", "arc_easy").stdout.splitlines()]
    assert project[0] == ["arc_easy", "task", "multiple_choice", "titan-eval"]
    assert [r[0] for r in project].count("arc_easy") == 1  # lm-eval's own arc_easy is hidden by the project's
    assert invoke("tasks").stdout.split() == catalog.all_task_names()


def test_a_catalogue_task_reads_its_hub_mirror(tmp_path: Path) -> None:
    folder = hub_mirror.mirror_folder(tmp_path, "baber/piqa", None)
    _jsonl(folder / "validation.jsonl", PIQA_ROWS)
    _jsonl(folder / "train.jsonl", PIQA_ROWS[:2])
    assert hub_mirror.mirror_files(tmp_path, "baber/piqa", None) == {"train": folder / "train.jsonl",
                                                                     "validation": folder / "validation.jsonl"}
    task = catalog.load_lm_eval_tasks(["piqa"], str(tmp_path))["piqa"]
    docs = list(task.validation_docs())
    assert [d["goal"] for d in docs] == [r["goal"] for r in PIQA_ROWS]
    assert task.doc_to_text(docs[0]) == "Question: How to open a jar?\nAnswer:"
    assert task.doc_to_choice(docs[1]) == ["Heat it.", "Wait a while."]


def test_mirror_layout_errors_name_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = hub_mirror.mirror_folder(tmp_path, "org/ds", "cfg")
    _jsonl(folder / "test.jsonl", PIQA_ROWS)
    (folder / "train.parquet").write_bytes(b"PAR1")
    with pytest.raises(DataError, match=r"org/ds/cfg: mirror folder mixes \.jsonl and \.parquet"):
        hub_mirror.mirror_files(tmp_path, "org/ds", "cfg")
    (folder / "train.parquet").unlink()
    calls: list[tuple] = []
    monkeypatch.setattr("datasets.load_dataset", lambda *a, **k: calls.append((a, k)) or "hub")
    import datasets

    with hub_mirror.serving(tmp_path):
        with pytest.raises(DataError, match="no validation split in the mirror"):
            datasets.load_dataset(path="org/ds", name="cfg", split="validation")
        assert datasets.load_dataset(path="elsewhere/ds", name=None) == "hub"  # not mirrored: the Hub as usual
    assert calls == [(("elsewhere/ds", None), {})]
    assert datasets.load_dataset.__name__ == "<lambda>"  # restored


USER_TASK = """task: my_quiz
dataset_path: me/quiz
output_type: multiple_choice
test_split: test
doc_to_text: "Q: {{q}}\\nA:"
doc_to_target: "{{gold}}"
doc_to_choice: "{{options}}"
metric_list:
  - metric: acc
"""


def test_a_user_task_folder_is_read_only_when_named(tmp_path: Path) -> None:
    mine = tmp_path / "my_tasks"
    mine.mkdir()
    (mine / "quiz.yaml").write_text(USER_TASK)
    _jsonl(hub_mirror.mirror_folder(tmp_path / "data", "me/quiz", None) / "test.jsonl",
           [{"q": "2+2?", "options": ["3", "4"], "gold": 1}, {"q": "Sky?", "options": ["blue", "red"], "gold": 0}])
    with pytest.raises(UsageError, match=r"unknown task\(s\) my_quiz"):
        catalog.check_task_names(["my_quiz"])
    assert catalog.resolve_names(["my_quiz"], mine) == {"my_quiz": INCLUDE}
    task = catalog.load_lm_eval_tasks(["my_quiz"], str(tmp_path / "data"), include_path=mine)["my_quiz"]
    docs = list(task.test_docs())
    assert task.doc_to_text(docs[0]) == "Q: 2+2?\nA:" and task.doc_to_target(docs[0]) == 1
    with pytest.raises(DataError, match="not a folder"):
        catalog.resolve_names(["my_quiz"], tmp_path / "absent")
