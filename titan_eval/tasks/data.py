"""Offline loaders for the original benchmark release files, returning the Hugging Face layouts that lm-eval's
task configs expect.

ARC (ARC-V1-Feb2018 jsonl: `id`, `question.stem`, `question.choices[{text,label}]`, `answerKey`) becomes the
`allenai/ai2_arc` layout (`id, question, choices{text,label}, answerKey`). HellaSwag rows (rowanz layout:
`ind, activity_label, ctx_a, ctx_b, ctx, split, split_type, label, endings, source_id`) keep their columns, with
`label` as a string, as in `Rowan/hellaswag`. Without a data dir the Hub datasets are used (needs network or cache).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from titan_eval.errors import DataError
from titan_eval.jsonl import read_jsonl
from titan_eval.tasks.fingerprint import sha256_file

ARC_FILES = {"test": "{name}-Test.jsonl", "validation": "{name}-Dev.jsonl"}
HELLASWAG_FILES = ("hellaswag_val.jsonl", "hellaswag_val_subset.jsonl")
USED_FILES: dict[str, dict[str, str]] = {}
"""task → {path: sha256} of every local data file read in this process (provenance)."""


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


def load_rows(path: Path, convert: Callable[[Path, int, dict[str, Any]], dict[str, Any]], task: str) -> list[dict[str, Any]]:
    """Read and convert one file, recording its sha256 for provenance."""
    USED_FILES.setdefault(task, {})[str(path)] = sha256_file(path)
    return [convert(path, n, obj) for n, obj in read_jsonl(path)]


def _to_datasets(splits: dict[str, list[dict[str, Any]]]) -> Any:
    import datasets

    return datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()})


def load_arc(name: str, data_dir: str | None = None, **_: Any) -> Any:
    """ARC-Easy / ARC-Challenge as {validation, test}: local release files, else the Hub."""
    task = "arc_easy" if name == "ARC-Easy" else "arc_challenge"
    if data_dir is None:
        import datasets

        return datasets.load_dataset("allenai/ai2_arc", name)
    splits = {}
    for split, pattern in ARC_FILES.items():
        path = find_file(Path(data_dir), (pattern.format(name=name),), ("arc", "ARC-V1-Feb2018", name))
        splits[split] = load_rows(path, _arc_row, task)
    return _to_datasets(splits)


def load_hellaswag(data_dir: str | None = None, **_: Any) -> Any:
    """HellaSwag validation: local `hellaswag_val.jsonl` (or the shared 1000-row subset), else the Hub."""
    if data_dir is None:
        import datasets

        return datasets.load_dataset("Rowan/hellaswag")
    path = find_file(Path(data_dir), HELLASWAG_FILES, ("hellaswag",))
    return _to_datasets({"validation": load_rows(path, _hellaswag_row, "hellaswag")})


def load_arc_layout_file(path: str, task: str, **_: Any) -> Any:
    """A project task stored in the ARC release layout (one file, evaluated as `test`)."""
    return _to_datasets({"test": load_rows(Path(path), _arc_row, task)})
