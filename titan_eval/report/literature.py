"""Published scores for the `Literature …` columns of `titan-eval compare` (format: docs/literature-format.md).

A literature file is YAML:

    label: Mamba-130M (paper)          # column title (default: the file stem)
    source: Gu & Dao 2023, Table 3     # citation for every score unless a task names its own
    scores:
      arc_easy: {acc: 0.480, acc_norm: 0.452}
      hellaswag: {acc_norm: 0.353, source: "…"}

A model card's `literature:` section has the same shape as `scores`, so `--literature` also takes a card (its
YAML path or its name in `model/`); its column is titled `<card name> (literature)`.

Glossary:
    key      a result key of the runs (`arc_easy`; `arc_easy_cot` for think-then-answer scores)
    metric   a metric name as in run.json (`acc`, `acc_norm`); values in the same units (fractions, not percent)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from titan_eval.errors import DataError

_TASK_META_KEYS = frozenset({"source", "note"})
_FILE_KEYS = frozenset({"label", "source", "scores"})


@dataclass(frozen=True)
class LiteratureScore:
    """One published number and where it comes from."""

    value: float
    source: str | None


@dataclass(frozen=True)
class Literature:
    """A column of published scores: `scores[key][metric]`."""

    label: str
    source: str | None
    scores: Mapping[str, Mapping[str, LiteratureScore]]

    def get(self, key: str, metric: str) -> LiteratureScore | None:
        return self.scores.get(key, {}).get(metric)


def _is_fraction_metric(metric: str) -> bool:
    return metric == "acc" or metric.startswith("acc_") or metric == "exact_match"


def parse_scores(raw: Any, where: str, default_source: str | None) -> dict[str, dict[str, LiteratureScore]]:
    """Validate a `{key: {metric: value, source: str}}` mapping; DataError names `where` and the entry."""
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: scores must map result keys to {{metric: value}}")
    out: dict[str, dict[str, LiteratureScore]] = {}
    for key, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise DataError(f"{where}: {key}: expected {{metric: value, source: ...}}, got {type(entry).__name__}")
        source = entry.get("source", default_source)
        metrics: dict[str, LiteratureScore] = {}
        for metric, value in entry.items():
            if metric in _TASK_META_KEYS:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise DataError(f"{where}: {key}.{metric}: expected a finite number, got {value!r}")
            if _is_fraction_metric(str(metric)) and not 0.0 <= value <= 1.0:
                raise DataError(f"{where}: {key}.{metric} = {value}: accuracies are fractions in [0, 1], not percent")
            metrics[str(metric)] = LiteratureScore(float(value), None if source is None else str(source))
        out[str(key)] = metrics
    return out


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise DataError(f"{path}: cannot read literature file ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise DataError(f"{path}{where}: malformed YAML ({getattr(err, 'problem', err)})") from err


def _from_card(ref: str | Path) -> Literature:
    from titan_eval.cards import load_card

    card = load_card(str(ref))
    if not card.literature:
        raise DataError(f"{card.source}: model card {card.name!r} has no literature section")
    return Literature(f"{card.name} (literature)", None, parse_scores(card.literature, card.source, None))


def load_literature(ref: str | Path) -> Literature:
    """A literature column from a literature YAML file, a model card YAML file, or a card name."""
    path = Path(ref)
    if not path.is_file():
        return _from_card(ref)
    raw = _read_yaml(path)
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: a literature file must be a YAML mapping")
    if "arch" in raw:
        return _from_card(path)
    unknown = sorted(set(raw) - _FILE_KEYS)
    if unknown:
        raise DataError(f"{path}: unknown key(s) {', '.join(map(str, unknown))}; known: label, source, scores")
    if "scores" not in raw:
        raise DataError(f"{path}: a literature file needs 'scores'")
    source = raw.get("source")
    scores = parse_scores(raw["scores"], str(path), None if source is None else str(source))
    return Literature(str(raw.get("label") or path.stem), None if source is None else str(source), scores)
