"""Typed run records: what a task produced (`TaskResult`, `TaskOutput`), what makes two runs comparable on a result
key (`TaskFingerprint`), and the whole run (`RunRecord`). `store` writes a `RunRecord` as run.json in lm-eval's
layout plus a `titan_eval` section (docs/results-format.md); `report.runs` reads run.json back through
`RunRecord.from_json`, so writer and readers share one schema.

Glossary:
    key        a result key: the task name in log-likelihood mode (`arc_easy`), `<task>_cot` in think mode, an
               lm-eval group's name (`mmlu`, `mmlu_cot`: `tasks.group_results`, its entry's meta holds `group`), or
               a suite's group key (`reasoning85:arithmetic`)
    metrics    lm-eval-style values of one key: `"<metric>,none"` and `"<metric>_stderr,none"` (plus `alias`)
    per_doc    metric → the per-document values the mean was taken over, in samples order (for the 95% CI)
    cluster    the group a document shares with documents it is not independent of (same video, paraphrase twin);
               a key's `cluster_key` names the document field it comes from (docs/gates.md "Clustered standard
               errors"); its CIs are then cluster-robust
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

from titan_eval.errors import DataError

SCHEMA_VERSION = 1
FINGERPRINT_FIELDS: tuple[str, ...] = ("task", "mode", "scorer", "data_sha256", "prompt_sha256", "doc_ids_sha256")


@dataclass(frozen=True)
class TaskFingerprint:
    """What must agree for two runs to be compared on one result key."""

    task: str | None = None
    """The task the key belongs to (`arc_easy` for `arc_easy_cot`)."""
    mode: str | None = None
    """ll | cot | generate."""
    scorer: str | None = None
    """Versioned name of the scoring rule (`lm-eval-mc-v1`, ...)."""
    data_sha256: str | None = None
    """sha256 over the data files' sha256s (sorted), or "hub" for Hub data."""
    prompt_sha256: str | None = None
    """sha256 of every document's id, prompt(s), choices and gold."""
    doc_ids_sha256: str | None = None
    """sha256 of the scored documents' ids, in order."""

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in FINGERPRINT_FIELDS}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> "TaskFingerprint":
        """The fingerprint fields of a `titan_eval.tasks[key]` entry (others ignored; absent ones None)."""
        values = {f: raw.get(f) for f in FINGERPRINT_FIELDS}
        for name, value in values.items():
            if value is not None and not isinstance(value, str):
                raise DataError(f"fingerprint field {name!r} must be a string, got {type(value).__name__}")
        return cls(**values)


@dataclass(frozen=True)
class TaskResult:
    """One result key of a run."""

    key: str
    metrics: Mapping[str, Any]
    """`"<metric>,none"` values and stderrs (lm-eval layout), `alias` included."""
    n: int
    """Documents scored (lm-eval's n-samples.effective)."""
    fingerprint: TaskFingerprint
    n_original: int | None = None
    """Documents in the task before --limit (n-samples.original); None = same as n."""
    higher_is_better: Mapping[str, bool] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)
    """Everything else recorded about the key in `titan_eval.tasks[key]` (selection, think stats, routing, ...)."""
    per_doc: Mapping[str, Sequence[float]] = field(default_factory=dict, repr=False)
    """metric → per-document values (used for the CI; not stored: samples.jsonl holds them)."""
    version: Any = None
    config: Mapping[str, Any] = field(default_factory=dict)
    """lm-eval's resolved task config (lm-eval tasks only)."""
    cluster_key: str | None = None
    """The document field the task declares as its cluster key (None: documents independent). Stored as
    `titan_eval.tasks[key].cluster_key`; optional, so older runs without it still load."""
    clusters: Sequence[str] | None = field(default=None, repr=False)
    """Per-document cluster labels aligned with every `per_doc` list (not stored: samples.jsonl holds them)."""

    def task_entry(self) -> dict[str, Any]:
        """This key's `titan_eval.tasks[key]` entry: fingerprint, cluster key, meta, and the 95% CI of every metric
        (cluster-robust when the key has clusters)."""
        entry = {**self.fingerprint.to_dict(), **dict(self.meta)}
        if self.cluster_key is not None:
            entry["cluster_key"] = self.cluster_key
        cis = confidence_intervals(self.per_doc, clusters=self.clusters if self.cluster_key is not None else None)
        if cis:
            entry["ci95"] = cis
        return entry


@dataclass(frozen=True)
class TaskOutput:
    """What one task run produced: its samples.jsonl lines (in order) and its result keys."""

    lines: tuple[Mapping[str, Any], ...]
    results: tuple[TaskResult, ...]
    seconds: float = 0.0


def confidence_intervals(per_doc: Mapping[str, Sequence[float]], alpha: float = 0.05,
                         clusters: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """metric → {low, high, method}: the interval `compare` reports for the same values (Wilson for 0/1 values,
    normal otherwise; `titan_eval.report.stats.estimate`). Metrics without values are skipped.

    With `clusters` (labels aligned with each metric's values) that group some documents together, the interval is
    the cluster-robust one (`titan_eval.report.clustered.robust_estimate`: method "cluster-normal", or
    "cluster-wilson" for 0/1 values that all agree) and the entry adds `se` (the CR1 standard error) and `clusters`
    (G)."""
    from titan_eval.report.clustered import robust_estimate

    out: dict[str, dict[str, Any]] = {}
    for metric, values in per_doc.items():
        if clusters is not None and len(clusters) != len(values):
            raise ValueError(f"{metric}: {len(values)} values but {len(clusters)} cluster labels")
        keep = [i for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
        if not keep:
            continue
        finite = [float(values[i]) for i in keep]
        est = robust_estimate(finite, None if clusters is None else [clusters[i] for i in keep], alpha)
        if math.isfinite(est.ci_low) and math.isfinite(est.ci_high):
            out[metric] = {"low": est.ci_low, "high": est.ci_high, "method": est.method}
            if est.clusters is not None:
                out[metric].update(se=est.se, clusters=est.clusters)
    return out


@dataclass(frozen=True)
class RunRecord:
    """A whole run: run.json is `to_json()`."""

    run_id: str
    status: str
    """running | complete | error | interrupted (SIGINT / SIGTERM; resumable like running and error)."""
    results: tuple[TaskResult, ...] = ()
    created_utc: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)
    """Model provenance (`LoadedModel.provenance()`)."""
    seeds: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    """lm-eval's `config` section."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Further `titan_eval` fields (telemetry, error message, ...)."""
    schema_version: int = SCHEMA_VERSION

    def result(self, key: str) -> TaskResult | None:
        return next((r for r in self.results if r.key == key), None)

    def with_results(self, results: Sequence[TaskResult]) -> "RunRecord":
        return replace(self, results=tuple(results))

    def to_json(self) -> dict[str, Any]:
        """lm-eval's layout plus the `titan_eval` section."""
        return {
            "results": {r.key: dict(r.metrics) for r in self.results},
            "n-samples": {r.key: {"original": r.n if r.n_original is None else r.n_original, "effective": r.n}
                          for r in self.results},
            "versions": {r.key: r.version for r in self.results},
            "higher_is_better": {r.key: dict(r.higher_is_better) for r in self.results},
            "configs": {r.key: dict(r.config) for r in self.results},
            **self._group_sections(),
            "config": dict(self.config),
            "titan_eval": {
                "schema_version": self.schema_version, "run_id": self.run_id, "status": self.status,
                "created_utc": self.created_utc, "options": dict(self.options),
                "tasks": {r.key: r.task_entry() for r in self.results}, "model": dict(self.model),
                "seeds": dict(self.seeds), "environment": dict(self.environment), "timings": dict(self.timings),
                **dict(self.extra),
            },
        }

    def _group_sections(self) -> dict[str, Any]:
        """lm-eval's `groups` (groups with an aggregation: their metrics) and `group_subtasks` (each group's direct
        members) sections; empty without group keys (`tasks.group_results`)."""
        groups = [r for r in self.results if isinstance(r.meta.get("group"), Mapping)]
        if not groups:
            return {}
        aggregated = {r.key: dict(r.metrics) for r in groups if r.meta["group"].get("aggregate_metric_list")}
        return {**({"groups": aggregated} if aggregated else {}),
                "group_subtasks": {r.key: list(r.meta["group"].get("children", ())) for r in groups}}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], where: str = "run.json") -> "RunRecord":
        """Parse a run.json object; `DataError` (naming `where`) when a section has the wrong shape. Fields a
        killed or older run lacks are left empty."""
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: run.json must hold a JSON object")
        section = _mapping(raw.get("titan_eval"), f"{where}: titan_eval")
        results = _mapping(raw.get("results"), f"{where}: results")
        n_samples = _mapping(raw.get("n-samples"), f"{where}: n-samples")
        better = _mapping(raw.get("higher_is_better"), f"{where}: higher_is_better")
        tasks = _mapping(section.get("tasks"), f"{where}: titan_eval.tasks")
        out = []
        for key in dict.fromkeys([*results, *tasks]):
            metrics = _mapping(results.get(key), f"{where}: results[{key!r}]")
            entry = _mapping(tasks.get(key), f"{where}: titan_eval.tasks[{key!r}]")
            counts = _mapping(n_samples.get(key), f"{where}: n-samples[{key!r}]")
            try:
                fingerprint = TaskFingerprint.from_dict(entry)
            except DataError as err:
                raise DataError(f"{where}: titan_eval.tasks[{key!r}]: {err}") from err
            n = counts.get("effective")
            cluster_key = entry.get("cluster_key")
            if cluster_key is not None and not isinstance(cluster_key, str):
                raise DataError(f"{where}: titan_eval.tasks[{key!r}].cluster_key must be a string, got "
                                f"{type(cluster_key).__name__}")
            meta = {k: v for k, v in entry.items() if k not in FINGERPRINT_FIELDS and k != "cluster_key"}
            out.append(TaskResult(
                key=str(key), metrics=metrics, n=n if isinstance(n, int) else 0, fingerprint=fingerprint,
                n_original=counts.get("original") if isinstance(counts.get("original"), int) else None,
                higher_is_better=_mapping(better.get(key), f"{where}: higher_is_better[{key!r}]"), meta=meta,
                cluster_key=cluster_key))
        known = {f.name for f in fields(cls)} | {"tasks"}
        run_id = section.get("run_id")
        return cls(
            run_id=str(run_id) if run_id is not None else "", status=str(section.get("status") or "unknown"),
            results=tuple(out), created_utc=section.get("created_utc"),
            options=_mapping(section.get("options"), f"{where}: titan_eval.options"),
            model=_mapping(section.get("model"), f"{where}: titan_eval.model"),
            seeds=_mapping(section.get("seeds"), f"{where}: titan_eval.seeds"),
            environment=_mapping(section.get("environment"), f"{where}: titan_eval.environment"),
            timings=_mapping(section.get("timings"), f"{where}: titan_eval.timings"),
            config=_mapping(raw.get("config"), f"{where}: config"),
            extra={k: v for k, v in section.items() if k not in known},
            schema_version=section.get("schema_version") if isinstance(section.get("schema_version"), int) else SCHEMA_VERSION,
        )


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise DataError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value
