"""Offline loaders for the original benchmark release files, returning the Hugging Face layouts that lm-eval's
task configs expect.

ARC (ARC-V1-Feb2018 jsonl: `id`, `question.stem`, `question.choices[{text,label}]`, `answerKey`) becomes the
`allenai/ai2_arc` layout (`id, question, choices{text,label}, answerKey`). HellaSwag rows (rowanz layout:
`ind, activity_label, ctx_a, ctx_b, ctx, split, split_type, label, endings, source_id`) keep their columns, with
`label` as a string, as in `Rowan/hellaswag`. Without a data dir the Hub datasets are used (needs network or cache).

Which files a task reads for a data dir is decided in one place (`task_files`), used both by the loaders and by
`data_files`, the provenance the runner records; nothing about a load is kept in module state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from titan_eval.errors import DataError
from titan_eval.jsonl import read_jsonl
from titan_eval.paths import TASKS_DIR
from titan_eval.hashing import sha256_file

ARC_FILES = {"test": "{name}-Test.jsonl", "validation": "{name}-Dev.jsonl"}
ARC_NAMES = {"arc_easy": "ARC-Easy", "arc_challenge": "ARC-Challenge"}
HELLASWAG_FILES = ("hellaswag_val.jsonl", "hellaswag_val_subset.jsonl")
PROJECT_FILES = {"titan_sample": TASKS_DIR / "sample" / "titan_sample.jsonl"}
"""The project's own tasks stored in the ARC release layout (one file each, evaluated as `test`)."""


def find_file(data_dir: Path, names: tuple[str, ...], subdirs: tuple[str, ...]) -> Path:
    """The first of `names` found in data_dir or data_dir/<subdir>; `DataError` listing where it looked."""
    if not data_dir.is_dir():
        raise DataError(f"data dir {data_dir} does not exist")
    for name in names:
        for sub in ("", *subdirs):
            candidate = data_dir / sub / name
            if candidate.exists():
                return candidate
    raise DataError(f"data dir {data_dir} has none of {', '.join(names)} (looked in ., {', '.join(subdirs)})")


def _arc_row(path: Path, number: int, obj: dict[str, Any]) -> dict[str, Any]:
    try:
        question = obj["question"]
        choices = question["choices"]
        row = {"id": obj["id"], "question": question["stem"], "answerKey": obj["answerKey"],
               "choices": {"text": [c["text"] for c in choices], "label": [c["label"] for c in choices]}}
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}:{number}: not an ARC release row (missing {err})") from err
    texts = [row["id"], row["question"], row["answerKey"], *row["choices"]["text"], *row["choices"]["label"]]
    if not all(isinstance(t, str) for t in texts):
        raise DataError(f"{path}:{number}: ARC id, question.stem, choice texts/labels and answerKey must be strings")
    if row["answerKey"] not in row["choices"]["label"]:
        raise DataError(f"{path}:{number}: answerKey {row['answerKey']!r} is not among the choice labels")
    return row


def _hellaswag_field_ok(key: str, value: Any, required: bool) -> bool:
    """Text fields are strings, `ind` an int64; optional fields may be null."""
    if value is None:
        return not required
    return type(value) is int and abs(value) < 2**63 if key == "ind" else isinstance(value, str)


def _hellaswag_row(path: Path, number: int, obj: dict[str, Any]) -> dict[str, Any]:
    needed = ("activity_label", "ctx_a", "ctx_b", "endings", "label")
    missing = [k for k in needed if k not in obj]
    if missing:
        raise DataError(f"{path}:{number}: not a HellaSwag row (missing {', '.join(missing)})")
    endings = obj["endings"]
    if not isinstance(endings, list) or len(endings) != 4 or not all(isinstance(e, str) for e in endings):
        raise DataError(f"{path}:{number}: HellaSwag 'endings' must be a list of 4 strings")
    row = {k: obj.get(k) for k in ("ind", "activity_label", "ctx_a", "ctx_b", "ctx", "split", "split_type", "source_id")}
    wrong = [k for k, v in row.items() if not _hellaswag_field_ok(k, v, k in needed)]
    if wrong or str(obj["label"]) not in ("0", "1", "2", "3") or isinstance(obj["label"], bool):
        raise DataError(f"{path}:{number}: HellaSwag {', '.join(wrong) or 'label'} has the wrong type "
                        "(text fields are strings, ind an integer, label 0-3)")
    row["endings"] = [str(e) for e in obj["endings"]]
    row["label"] = str(obj["label"])
    return row


def task_files(task: str, data_dir: str | None, task_obj: Any = None) -> dict[str, Path]:
    """split → local file that `task` reads; {} when its data comes from the Hub. The project's ARC and HellaSwag
    read release files from the data dir; any other lm-eval task (`task_obj`, its config naming the dataset) reads
    the Hub mirror under the data dir when there is one (`tasks.hub_mirror`)."""
    if task in PROJECT_FILES:
        return {"test": PROJECT_FILES[task]}
    if data_dir is None:
        return {}
    if task in ARC_NAMES:
        name = ARC_NAMES[task]
        return {split: find_file(Path(data_dir), (pattern.format(name=name),), ("arc", "ARC-V1-Feb2018", name))
                for split, pattern in ARC_FILES.items()}
    if task == "hellaswag":
        return {"validation": find_file(Path(data_dir), HELLASWAG_FILES, ("hellaswag",))}
    if task_obj is None:
        raise DataError(f"task {task!r} has no local data loader")
    from titan_eval.tasks.hub_mirror import mirror_files

    config = getattr(task_obj, "config", None)
    return mirror_files(Path(data_dir), getattr(config, "dataset_path", None), getattr(config, "dataset_name", None))


def data_files(task: str, data_dir: str | None, task_obj: Any = None) -> dict[str, str]:
    """{path: sha256} of the local files `task` reads from `data_dir` (provenance; {} for Hub data)."""
    return {str(path): sha256_file(path) for path in task_files(task, data_dir, task_obj).values()}


def load_rows(path: Path, convert: Callable[[Path, int, dict[str, Any]], dict[str, Any]]) -> list[dict[str, Any]]:
    """Read and convert one file; `DataError` names the file and line of a bad row, or the file when it holds no
    rows at all (lm-eval would otherwise fail deep inside task building, blaming the task YAML)."""
    rows = [convert(path, n, obj) for n, obj in read_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: empty data file (no JSON lines)")
    return rows


def _to_datasets(splits: dict[str, list[dict[str, Any]]]) -> Any:
    import datasets

    return datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()})


def load_arc(name: str, data_dir: str | None = None, **_: Any) -> Any:
    """ARC-Easy / ARC-Challenge as {validation, test}: local release files, else the Hub."""
    if data_dir is None:
        import datasets

        return datasets.load_dataset("allenai/ai2_arc", name)
    task = {v: k for k, v in ARC_NAMES.items()}[name]
    return _to_datasets({split: load_rows(path, _arc_row) for split, path in task_files(task, data_dir).items()})


def load_hellaswag(data_dir: str | None = None, **_: Any) -> Any:
    """HellaSwag validation: local `hellaswag_val.jsonl` (or the shared 1000-row subset), else the Hub."""
    if data_dir is None:
        import datasets

        return datasets.load_dataset("Rowan/hellaswag")
    return _to_datasets({"validation": load_rows(task_files("hellaswag", data_dir)["validation"], _hellaswag_row)})


def load_project_task(task: str, **_: Any) -> Any:
    """A project task stored in the ARC release layout (`PROJECT_FILES`), evaluated as `test`."""
    return _to_datasets({"test": load_rows(PROJECT_FILES[task], _arc_row)})
