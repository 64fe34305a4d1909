"""Reading a reasoning-suite JSONL file (schema: tasks/reasoning85/README.md).

One JSON object per line with `id` (unique string), `category` (string), `prompt` (the question, without any
prompt format), `answers` (list of expected strings), `scored` (bool), `scorer` (`match` | `keyword` | `yesno` |
`none`), `notes` (free text) and, optionally, `cluster` (a string: items sharing it are not independent, e.g. a
paraphrase names its original's id; by default an item is its own cluster). Scored items need a scoring scorer and
at least one answer; unscored items use `none`. Blank lines are skipped. Any defect raises `DataError` naming the
file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from titan_eval.errors import DataError
from titan_eval.jsonl import read_jsonl
from titan_eval.paths import TASKS_DIR
from titan_eval.suites.scorers import SCORERS

DEFAULT_SUITE = TASKS_DIR / "reasoning85" / "suite.jsonl"
FIELDS = ("id", "category", "prompt", "answers", "scored", "scorer", "notes")


@dataclass(frozen=True)
class SuiteItem:
    """One prompt of a reasoning suite (fields as in the schema)."""

    id: str
    category: str
    prompt: str
    answers: tuple[str, ...]
    scored: bool
    scorer: str
    notes: str = ""
    cluster: str | None = None
    """The item's cluster when it is not its own (a paraphrase: its original's id); None = its own id."""


def slug(category: str) -> str:
    """A category name as a result-key suffix: lower case, runs of non-alphanumerics → '_'
    ("History/Science" → "history_science")."""
    return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_") or "uncategorised"


def _item(obj: object, where: str) -> SuiteItem:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object")
    missing = [f for f in FIELDS if f not in obj and f != "notes"]
    if missing:
        raise DataError(f"{where}: missing field(s) {', '.join(missing)}")
    answers = obj["answers"]
    if not isinstance(answers, list) or not all(isinstance(a, str) and a.strip() for a in answers):
        raise DataError(f"{where}: `answers` must be a list of non-empty strings")
    if not isinstance(obj["scored"], bool):
        raise DataError(f"{where}: `scored` must be true or false")
    scorer = obj["scorer"]
    if scorer not in SCORERS:
        raise DataError(f"{where}: unknown scorer {scorer!r}; known: {', '.join(SCORERS)}")
    if obj["scored"] and (scorer == "none" or not answers):
        raise DataError(f"{where}: a scored item needs a scorer other than 'none' and at least one answer")
    if not obj["scored"] and scorer != "none":
        raise DataError(f"{where}: an unscored item must use scorer 'none'")
    if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
        raise DataError(f"{where}: `prompt` must be a non-empty string")
    cluster = obj.get("cluster")
    if cluster is not None and (not isinstance(cluster, str) or not cluster.strip()):
        raise DataError(f"{where}: `cluster` must be a non-empty string")
    return SuiteItem(str(obj["id"]), str(obj["category"]), obj["prompt"], tuple(answers), obj["scored"], scorer,
                     str(obj.get("notes", "")), cluster if cluster != str(obj["id"]) else None)


def load_suite(path: str | Path | None = None) -> tuple[Path, list[SuiteItem]]:
    """(resolved path, items in file order) of a suite file (default: the project's reasoning85)."""
    file = Path(path) if path is not None else DEFAULT_SUITE
    if not file.is_file():
        raise DataError(f"suite file {file} does not exist")
    items = [_item(obj, f"{file}:{number}") for number, obj in read_jsonl(file)]
    if not items:
        raise DataError(f"suite file {file} holds no items")
    ids = [i.id for i in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise DataError(f"{file}: duplicate id(s) {', '.join(dupes)}")
    return file.resolve(), items
