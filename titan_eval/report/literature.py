"""Published or reported scores for the literature columns of `titan-eval compare` (docs/literature-format.md).

A literature file is YAML:

    label: Mamba-130M (paper)          # title of the file's main column (default: the file stem)
    source: Gu & Dao 2023, Table 3     # citation for every score unless a task entry names its own
    metric: acc_norm                   # metric of bare numbers and of extra columns (default: unstated)
    scores:
      arc_easy: {acc: 0.480, acc_norm: 0.452}          # metric: value → main column
      hellaswag: 0.353                                 # bare number → main column, the file's `metric`
      arc_challenge: {literature: 0.329, author_base: 0.301, metric: acc, source: "…"}   # extra columns

In a task entry a key is a metric when it is in METRIC_NAMES or starts with `acc_`; `source`, `note` and `metric`
are reserved; any other numeric key names an extra column (one column per such name, in first-seen order). A model
card's `literature:` section is read the same way (it is a `scores` mapping); its columns are titled
`<card> (literature)` and `<card>: <name>`.

Glossary:
    key      a result key of the runs (`arc_easy`; `arc_easy_cot` for think-then-answer scores)
    metric   a metric name as in run.json (`acc`, `acc_norm`), same units (fractions, not percent); UNSTATED when the
             source does not say which metric a number is
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from titan_eval.errors import DataError
from titan_eval.textfiles import load_yaml

UNSTATED = "(metric unstated)"
METRIC_NAMES = frozenset({"acc", "exact_match", "f1", "mcc", "brier_score", "likelihood", "perplexity", "margin"})
_RESERVED = frozenset({"source", "note", "metric"})
_FILE_KEYS = frozenset({"label", "source", "metric", "scores"})


@dataclass(frozen=True)
class LiteratureScore:
    """One published number and where it comes from."""

    value: float
    source: str | None


@dataclass(frozen=True)
class Literature:
    """One literature column: `scores[key][metric]`."""

    label: str
    scores: Mapping[str, Mapping[str, LiteratureScore]]

    def get(self, key: str, metric: str) -> LiteratureScore | None:
        return self.scores.get(key, {}).get(metric)

    def sources(self) -> list[str]:
        """The distinct citations of the column, in first-seen order."""
        seen = [s.source for m in self.scores.values() for s in m.values() if s.source]
        return list(dict.fromkeys(seen))


def is_metric_name(name: str) -> bool:
    return name in METRIC_NAMES or name.startswith("acc_")


def _score(value: Any, metric: str, source: str | None, where: str) -> LiteratureScore:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(_float(value)):
        raise DataError(f"{where}: expected a finite number, got {_short(value)}")
    if (metric == "acc" or metric.startswith("acc_") or metric == "exact_match") and not 0.0 <= value <= 1.0:
        raise DataError(f"{where} = {value}: accuracies are fractions in [0, 1], not percent")
    return LiteratureScore(float(value), source)


def _float(value: int | float) -> float:
    """float(value), with integers beyond float range as inf (so they are refused, not an OverflowError)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_scores(
    raw: Any, where: str, main: str, *, metric: str | None = None, source: str | None = None, prefix: str = ""
) -> list[Literature]:
    """Columns from a `{key: number | {metric|column: value, source, metric}}` mapping; the main column first.

    `main` titles the metric-keyed values; extra columns are titled `prefix + name`. DataError names `where`.
    """
    if not isinstance(raw, Mapping):
        raise DataError(f"{where}: scores must map result keys to numbers or {{metric: value}}")
    columns: dict[str, dict[str, dict[str, LiteratureScore]]] = {main: {}}
    for key, entry in raw.items():
        key = str(key)
        if not isinstance(entry, Mapping):
            columns[main].setdefault(key, {})[metric or UNSTATED] = _score(entry, metric or UNSTATED, source,
                                                                           f"{where}: {key}")
            continue
        entry_source = entry.get("source", source)
        entry_source = None if entry_source is None else str(entry_source)
        entry_metric = str(entry.get("metric") or metric or UNSTATED)
        for name, value in entry.items():
            name = str(name)
            if name in _RESERVED:
                continue
            column, m = (main, name) if is_metric_name(name) else (prefix + name, entry_metric)
            columns.setdefault(column, {}).setdefault(key, {})[m] = _score(value, m, entry_source,
                                                                           f"{where}: {key}.{name}")
    return [Literature(label, scores) for label, scores in columns.items() if scores]


def _from_card(ref: str | Path) -> list[Literature]:
    from titan_eval.cards import load_card

    card = load_card(str(ref))
    if not card.literature:
        raise DataError(f"{card.source}: model card {card.name!r} has no literature section")
    return parse_scores(card.literature, card.source, f"{card.name} (literature)", prefix=f"{card.name}: ")


def load_literature(ref: str | Path) -> list[Literature]:
    """Literature columns from a literature YAML file, a model card YAML file, or a card name."""
    path = Path(ref)
    if not path.is_file():
        return _from_card(ref)
    raw = load_yaml(path, "literature file")
    if not isinstance(raw, Mapping):
        raise DataError(f"{path}: a literature file must be a YAML mapping")
    if "arch" in raw:
        return _from_card(path)
    unknown = sorted(set(map(str, raw)) - _FILE_KEYS)
    if unknown:
        raise DataError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_FILE_KEYS))}")
    if "scores" not in raw:
        raise DataError(f"{path}: a literature file needs 'scores'")
    source = None if raw.get("source") is None else str(raw["source"])
    metric = None if raw.get("metric") is None else str(raw["metric"])
    return parse_scores(raw["scores"], str(path), str(raw.get("label") or path.stem), metric=metric, source=source)
