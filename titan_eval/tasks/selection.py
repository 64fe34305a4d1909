"""Which documents a run scores: all, the first N (lm-eval's `--limit`), or a seeded stratified sample.

Stratified sampling allocates N across strata in proportion to their sizes (largest-remainder rounding, ties
broken by stratum name), draws within each stratum with `numpy.random.default_rng(seed)`, and returns the chosen
doc ids sorted. The stratum field per task is documented in `STRATA` (and recorded in the run).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from titan_eval.errors import UsageError

STRATA: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "arc_easy": ("exam source: id prefix before '_'", lambda d: str(d["id"]).split("_")[0]),
    "arc_challenge": ("exam source: id prefix before '_'", lambda d: str(d["id"]).split("_")[0]),
    "hellaswag": ("source: source_id prefix before '~' (activitynet / wikihow)", lambda d: str(d.get("source_id", "")).split("~")[0]),
    "titan_sample": ("answer letter", lambda d: str(d["answerKey"])),
}


@dataclass(frozen=True)
class Selection:
    """The chosen doc ids and how they were chosen."""

    doc_ids: tuple[int, ...]
    limit: int | None
    stratify: str | None  # the stratum field description, or None
    strata: dict[str, int] | None  # chosen docs per stratum
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "stratify": self.stratify, "strata": self.strata, "total": self.total,
                "doc_ids": list(self.doc_ids)}


def select_docs(task: str, docs: Sequence[dict[str, Any]], limit: int | None, stratify: bool, seed: int) -> Selection:
    """Pick doc ids from `docs` (the task's evaluated split, in order)."""
    total = len(docs)
    if limit is not None and limit < 1:
        raise UsageError("--limit must be at least 1")
    if limit is None or limit >= total:
        if stratify and limit is None:
            raise UsageError("--stratify needs --limit N")
        return Selection(tuple(range(total)), limit, None, None, total)
    if not stratify:
        return Selection(tuple(range(limit)), limit, None, None, total)
    if task not in STRATA:
        raise UsageError(f"task {task!r} has no documented stratum field; stratified tasks: {', '.join(sorted(STRATA))}")
    label, key = STRATA[task]
    groups: dict[str, list[int]] = {}
    for i, doc in enumerate(docs):
        groups.setdefault(key(doc), []).append(i)
    names = sorted(groups)
    quotas = np.array([len(groups[n]) for n in names], dtype=float) * limit / total
    counts = np.floor(quotas).astype(int)
    order = sorted(range(len(names)), key=lambda j: (-(quotas[j] - counts[j]), names[j]))
    for j in order[: limit - int(counts.sum())]:
        counts[j] += 1
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for name, count in zip(names, counts):
        chosen.extend(int(x) for x in rng.choice(groups[name], size=int(count), replace=False))
    strata = {n: int(c) for n, c in zip(names, counts) if c}
    return Selection(tuple(sorted(chosen)), limit, label, strata, total)
