"""Which documents a run scores: all, the first N (lm-eval's `--limit`), or a seeded stratified sample.

Stratified sampling allocates N across strata in proportion to their sizes (largest-remainder rounding, ties
broken by stratum name), draws within each stratum with `numpy.random.default_rng(seed)`, and returns the chosen
doc ids sorted. The stratum field per task is documented in `STRATA` (and recorded in the run). An lm-eval group
is stratified on its subtasks (`group_selections`): N documents for the whole group, allocated across its leaf tasks
the same way; without --stratify a group's --limit N is per leaf task, as lm-eval's --limit is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

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
    counts = proportional_counts({n: len(g) for n, g in groups.items()}, limit)
    chosen = draw_strata(groups, counts, seed)
    strata = {n: c for n, c in counts.items() if c}
    return Selection(tuple(sorted(d for ids in chosen.values() for d in ids)), limit, label, strata, total)


def proportional_counts(sizes: Mapping[str, int], limit: int) -> dict[str, int]:
    """{stratum: documents drawn}: `limit` split across the strata in proportion to their `sizes` (floors, then one
    more for the largest remainders, ties broken by stratum name), in stratum-name order."""
    names = sorted(sizes)
    quotas = np.array([sizes[n] for n in names], dtype=float) * limit / sum(sizes.values())
    counts = np.floor(quotas).astype(int)
    order = sorted(range(len(names)), key=lambda j: (-(quotas[j] - counts[j]), names[j]))
    for j in order[: limit - int(counts.sum())]:
        counts[j] += 1
    return {n: int(c) for n, c in zip(names, counts)}


def draw_strata(members: Mapping[str, Sequence[int]], counts: Mapping[str, int], seed: int) -> dict[str, list[int]]:
    """{stratum: drawn doc ids}: `counts[s]` of `members[s]` without replacement, strata in name order from one
    `numpy.random.default_rng(seed)`."""
    rng = np.random.default_rng(seed)
    return {n: [int(x) for x in rng.choice(list(members[n]), size=counts[n], replace=False)] for n in sorted(counts)}


GROUP_STRATUM = "subtask of group {group}: --limit {limit} split across its {k} subtasks in proportion to their sizes"


def group_selections(group: str, sizes: Mapping[str, int], limit: int, seed: int) -> dict[str, Selection]:
    """{leaf task: Selection} for `--limit N --stratify` on a group (`sizes`: each leaf's document count): N is the
    group's total, split across its leaves as strata (`proportional_counts`; the stratum is the subtask, e.g. the
    MMLU subject) and drawn within each (`draw_strata`); a leaf whose share rounds to 0 scores no documents. With N
    at least the group's size every document is scored."""
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    if limit >= sum(sizes.values()):
        return {leaf: Selection(tuple(range(n)), limit, None, None, n) for leaf, n in sizes.items()}
    counts = proportional_counts(sizes, limit)
    chosen = draw_strata({leaf: range(n) for leaf, n in sizes.items()}, counts, seed)
    label = GROUP_STRATUM.format(group=group, limit=limit, k=len(sizes))
    return {leaf: Selection(tuple(sorted(chosen[leaf])), limit, label, {leaf: counts[leaf]}, n)
            for leaf, n in sizes.items()}


def run_selections(tasks: Mapping[str, Any], groups: Mapping[str, Sequence[str]], limit: int | None,
                   stratify: bool, seed: int) -> dict[str, Selection]:
    """{leaf task: Selection} chosen per group rather than per task: with `--limit N --stratify`, the leaves of
    every group the run names (`groups`: group → its leaf task names; `tasks`: lm-eval Tasks by name). Empty
    otherwise: every task then selects alone (`select_docs`)."""
    if not stratify or limit is None:
        return {}
    out: dict[str, Selection] = {}
    for group, leaves in groups.items():
        out.update(group_selections(group, {leaf: len(tasks[leaf].eval_docs) for leaf in leaves}, limit, seed))
    return out
