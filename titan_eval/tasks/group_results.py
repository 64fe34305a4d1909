"""lm-eval groups (mmlu, or a group YAML under --include-path) as result keys: after a mode's leaf tasks ran, each
group's metrics are lm-eval 0.4.13's own aggregation of its leaves' results (`lm_eval.evaluator_utils.
aggregate_groups` → `Group.aggregate`: for every `aggregate_metric_list` entry and filter, `aggregate_subtask_metrics`
of the leaf values weighted by their document counts when `weight_by_size`, with `pooled_sample_stderr` — or
`unweighted_mean_stderr` without `weight_by_size` — when every leaf has a stderr, else "N/A"). Nested groups aggregate
from all their leaves, bottom-up as lm-eval does; a group without `aggregate_metric_list` gets no metrics.

A group's key is its name (`<group>_cot` in think mode); its n is the sum of its leaves' documents. Its fingerprint
hashes its leaves' fingerprints and its aggregation, and its per-document values — for `compare`, `gate` and the
95% CI — are the union of its leaves' documents (ids `<leaf key>/<doc_id>`) for every metric whose group value is
the mean over that union: a size-weighted mean of leaf means, or an unweighted one over leaves of equal sizes.
Other metrics are recorded under `group.not_pooled` with the reason.

Glossary:
    leaf      a task under a group (directly or through nested groups), run like any other task
    children  a group's direct members (tasks and groups), lm-eval's `group_subtasks`
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Mapping, Sequence

from titan_eval.hashing import sha256_json
from titan_eval.records import TaskFingerprint, TaskResult

GROUP_SCORER = "lm-eval-group-v1"
"""Fingerprint `scorer` of a group key (its leaves' scorers are hashed into its `prompt_sha256`)."""


def group_key(name: str, mode: str) -> str:
    """A group's (or task's) result key in `mode`: the name in ll mode, `<name>_cot` in think mode."""
    return name if mode == "ll" else f"{name}_cot"


def group_results(groups: Mapping[str, Any], leaves: Sequence[TaskResult], mode: str) -> list[TaskResult]:
    """One `TaskResult` per lm-eval Group in `groups` (children before parents), from this mode's leaf results
    `leaves` (keyed by their fingerprint's task name)."""
    from lm_eval.evaluator_utils import EvalAcc, _propagate_higher_is_better, aggregate_groups

    by_task = {r.fingerprint.task: r for r in leaves}
    acc = EvalAcc(metrics={name: {**dict(r.metrics), "name": name, "sample_len": r.n}  # lm-eval's task entries
                           for name, r in by_task.items()}, groups=dict(groups))
    aggregate_groups(acc)
    better = {name: dict(r.higher_is_better) for name, r in by_task.items()}
    _propagate_higher_is_better(list(groups.values()), better)
    return [_group_result(groups[name], acc.metrics[name], by_task, better.get(name, {}), mode)
            for name in acc.metrics if name in groups]


def _group_result(group: Any, aggregated: Mapping[str, Any], by_task: Mapping[str, TaskResult],
                  higher_is_better: Mapping[str, Any], mode: str) -> TaskResult:
    key = group_key(group.name, mode)
    leaves = [by_task[t.task_name] for t in group.get_all_tasks() if t.task_name in by_task]
    aggregates = [asdict(a) for a in group.aggregate_metric_list or []]
    metrics = {"alias": key, **{k: v for k, v in aggregated.items()
                                if k not in ("alias", "name", "sample_len", "sample_count")}}
    per_doc, not_pooled = _pooled_values(metrics, aggregates, leaves)
    fingerprint = TaskFingerprint(
        task=group.name, mode=mode, scorer=GROUP_SCORER,
        data_sha256=sha256_json([[r.key, r.fingerprint.data_sha256] for r in leaves]),
        prompt_sha256=sha256_json({"aggregate_metric_list": aggregates,
                                   "tasks": [[r.key, r.fingerprint.scorer, r.fingerprint.prompt_sha256]
                                             for r in leaves]}),
        doc_ids_sha256=sha256_json([[r.key, r.fingerprint.doc_ids_sha256] for r in leaves]))
    meta = {"group": {"children": [group_key(c, mode) for c in group.child_names],
                      "tasks": [r.key for r in leaves], "aggregate_metric_list": aggregates,
                      "not_pooled": not_pooled}}
    n_original = sum(r.n if r.n_original is None else r.n_original for r in leaves)
    return TaskResult(key=key, metrics=metrics, n=sum(r.n for r in leaves), fingerprint=fingerprint,
                      n_original=n_original, higher_is_better=dict(higher_is_better), meta=meta, per_doc=per_doc,
                      version=group.version, config=group.to_dict() or {})


def _pooled_values(metrics: Mapping[str, Any], aggregates: Sequence[Mapping[str, Any]],
                   leaves: Sequence[TaskResult]) -> tuple[dict[str, list[float]], dict[str, str]]:
    """({metric: the union of the leaves' per-document values}, {metric: why it has none}) for the group's
    metrics (module docstring). A metric is named as `report.runs.metric_name` names it (`acc`,
    `exact_match,strict-match`)."""
    weighted = {a["metric"]: bool(a.get("weight_by_size", True)) for a in aggregates}
    per_doc: dict[str, list[float]] = {}
    not_pooled: dict[str, str] = {}
    for result_key in metrics:
        if "," not in result_key or "_stderr," in result_key:
            continue
        bare = result_key.split(",")[0]
        metric = bare if result_key.endswith(",none") else result_key
        sizes = {r.n for r in leaves}
        if not all(len(r.per_doc.get(metric, ())) == r.n for r in leaves):
            not_pooled[metric] = "a subtask has no per-document values of it (not a mean of documents)"
        elif not weighted.get(bare, True) and len(sizes) > 1:
            not_pooled[metric] = "an unweighted mean of subtasks of unequal sizes, not a mean of their documents"
        else:
            per_doc[metric] = [float(v) for r in leaves for v in r.per_doc[metric]]
    return per_doc, not_pooled
