"""Reading stored runs (`docs/results-format.md`): a run directory's `run.json` plus its `samples.jsonl`.

Glossary:
    key          a result key: the task name in log-likelihood mode (`arc_easy`), `<name>_cot` in think-then-answer
    doc_id       a document's id inside its task (int index, or a suite's str prompt id); pairing is on (key, doc_id)
    fingerprint  the per-key `data_sha256`, `prompt_sha256`, `doc_ids_sha256`, `mode` and `scorer` in
                 `run.json["titan_eval"]["tasks"][key]`
    metric       a per-document number in a samples line (`acc`, `acc_norm`, ...), averaged into `run.json` results
    group key    an lm-eval group's key (`mmlu`): its documents are its subtasks' (`<leaf key>/<doc_id>`, `pooled_groups`)
    cluster      the group of documents a document is not independent of (`titan_eval.tasks[key].cluster_key` names
                 the task's field; a samples line's `cluster` holds the value when it differs from str(doc_id))
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from titan_eval.errors import DataError
from titan_eval.jsonl import describe_json_error, read_jsonl
from titan_eval.records import RunRecord, TaskFingerprint
from titan_eval.textfiles import read_text

DocId = int | str

#: Fingerprint fields (`records.TaskFingerprint`) that must agree for two runs to be compared on a key.
COMPARABILITY_FIELDS: tuple[str, ...] = ("data_sha256", "prompt_sha256", "mode", "scorer")
#: Numeric sample fields that are not metrics (used only when run.json has no results entry for a key).
NON_METRIC_FIELDS: frozenset[str] = frozenset({"doc_id", "pred", "pred_norm", "gold"})


@dataclass(frozen=True)
class StoredRun:
    """One stored run, read once.

    `samples[key][doc_id]` is the parsed samples line; `lines[(key, doc_id)]` its 1-based line number, so errors
    about a value can name the line. `cluster_keys[key]` is the cluster key the run declared for `key` (keys
    without one are absent; runs written before cluster keys existed have none).
    """

    path: Path
    label: str
    status: str
    results: Mapping[str, Mapping[str, Any]]
    tasks: Mapping[str, TaskFingerprint]
    higher_is_better: Mapping[str, Mapping[str, bool]]
    samples: Mapping[str, Mapping[DocId, Mapping[str, Any]]]
    lines: Mapping[tuple[str, DocId], int] = field(repr=False)
    cluster_keys: Mapping[str, str] = field(default_factory=dict)
    not_paired: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """{group key: {metric: why its documents cannot be paired}} (`pooled_groups`)."""

    @property
    def samples_path(self) -> Path:
        return self.path / "samples.jsonl"

    def keys(self) -> list[str]:
        """Result keys the run has data for (results or samples), sorted."""
        return sorted(set(self.results) | set(self.samples))

    def metrics(self, key: str) -> list[str]:
        """Metric names of a key: from `results[key]` (`"acc,none"` → `acc`; under another filter lm-eval's whole
        key, `"exact_match,strict-match"`, which is also the samples field; stderr entries skipped); for a key
        without a results entry (a killed run), the numeric fields shared by all of its samples."""
        entry = self.results.get(key)
        if entry:
            names = [metric_name(k) for k, v in entry.items() if "," in k and _is_number(v)]
            return sorted({n for n in names if not n.split(",")[0].endswith("_stderr")})
        docs = list(self.samples.get(key, {}).values())
        if not docs:
            return []
        common = set.intersection(*({k for k, v in d.items() if _is_number(v)} for d in docs))
        return sorted(common - NON_METRIC_FIELDS)

    def values(self, key: str, metric: str) -> dict[DocId, float]:
        """Per-document values of one metric: {doc_id: value}. DataError (file:line) on a missing or non-finite
        value."""
        out: dict[DocId, float] = {}
        for doc_id, sample in self.samples.get(key, {}).items():
            value = sample.get(metric)
            if not _is_number(value) or not _is_finite(value):
                line = self.lines[(key, doc_id)]
                raise DataError(f"{self.samples_path}:{line}: {key} doc {doc_id!r} has no finite number for {metric!r}")
            out[doc_id] = float(value)
        return out

    def groups(self, key: str, field_name: str) -> dict[DocId, str]:
        """Per-document group label from a per-sample field (e.g. `category`); documents without it are left out."""
        return {d: str(s[field_name]) for d, s in self.samples.get(key, {}).items() if s.get(field_name) is not None}

    def clusters(self, key: str) -> dict[DocId, str] | None:
        """{doc_id: cluster label} for every document of `key` when the run declared a cluster key for it, else None.

        A line's label is its `cluster` field, or str(doc_id) when it has none (the writer omits the field when the
        document is its own cluster). DataError (file:line) for a `cluster` that is not a string."""
        if key not in self.cluster_keys:
            return None
        out: dict[DocId, str] = {}
        for doc_id, sample in self.samples.get(key, {}).items():
            label = sample.get("cluster", str(doc_id))
            if not isinstance(label, str):
                line = self.lines[(key, doc_id)]
                raise DataError(f"{self.samples_path}:{line}: {key} doc {doc_id!r}: 'cluster' must be a string")
            out[doc_id] = label
        return out

    def higher_better(self, key: str, metric: str) -> bool:
        """Direction of a metric from `higher_is_better` (true when not recorded: accuracies); a metric under a
        filter (`exact_match,strict-match`) has its metric's direction (lm-eval records it per metric)."""
        recorded = self.higher_is_better.get(key, {})
        return bool(recorded.get(metric, recorded.get(metric.split(",")[0], True)))


def metric_name(result_key: str) -> str:
    """The metric a run.json results key names: `acc` for `"acc,none"`, the key itself under another filter
    (`"exact_match,strict-match"`: lm-eval's name, and the per-document field in samples.jsonl)."""
    return result_key[: -len(",none")] if result_key.endswith(",none") else result_key


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: int | float) -> bool:
    """False for NaN, ±inf and integers beyond float range."""
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _read_run_json(path: Path) -> dict[str, Any]:
    text = read_text(path, "run file")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(f"{path}:{err.lineno}: malformed JSON ({describe_json_error(err)})") from err
    except RecursionError as err:
        raise DataError(f"{path}: JSON nested too deeply to read") from err
    except ValueError as err:  # e.g. an integer literal beyond Python's digit limit
        raise DataError(f"{path}: malformed JSON ({str(err).split(';')[0]})") from err
    if not isinstance(raw, dict):
        raise DataError(f"{path}: run.json must hold a JSON object")
    return raw


def read_samples(path: Path) -> tuple[dict[str, dict[DocId, dict[str, Any]]], dict[tuple[str, DocId], int]]:
    """Parse a samples.jsonl: ({key: {doc_id: line}}, {(key, doc_id): line number}).

    Blank lines are skipped; a malformed line, a line without `task`/`doc_id`, or a repeated (task, doc_id) raises
    DataError naming the file and line.
    """
    samples: dict[str, dict[DocId, dict[str, Any]]] = {}
    lines: dict[tuple[str, DocId], int] = {}
    for number, record in read_jsonl(path):
        key, doc_id = record.get("task"), record.get("doc_id")
        if not isinstance(key, str) or not isinstance(doc_id, (int, str)) or isinstance(doc_id, bool):
            raise DataError(f"{path}:{number}: a samples line needs a string 'task' and an int or str 'doc_id'")
        if (key, doc_id) in lines:
            raise DataError(f"{path}:{number}: {key} doc {doc_id!r} repeats line {lines[(key, doc_id)]}")
        samples.setdefault(key, {})[doc_id] = record
        lines[(key, doc_id)] = number
    return samples, lines


def load_run(ref: str | Path) -> StoredRun:
    """A stored run from its directory or its `run.json`; `samples.jsonl` must sit beside `run.json`."""
    path = Path(ref)
    run_json = path if path.is_file() else path / "run.json"
    if not run_json.exists():
        raise DataError(f"{path}: not a stored run (no run.json there)")
    record = RunRecord.from_json(_read_run_json(run_json), str(run_json))
    directory = run_json.parent
    samples_path = directory / "samples.jsonl"
    if not samples_path.exists():
        raise DataError(f"{samples_path}: missing; compare and gate pair per-document scores, so they need it")
    samples, lines = read_samples(samples_path)
    not_paired = pooled_groups(record, samples, lines)
    not_paired.update(bpb_window_values(record, samples))
    return StoredRun(
        path=directory,
        label=record.run_id or directory.name,
        status=record.status,
        results={r.key: r.metrics for r in record.results if r.metrics},
        tasks={r.key: r.fingerprint for r in record.results if r.fingerprint != TaskFingerprint()},
        higher_is_better={r.key: r.higher_is_better for r in record.results},
        samples=samples,
        lines=lines,
        cluster_keys={r.key: r.cluster_key for r in record.results if r.cluster_key},
        not_paired=not_paired,
    )


def pooled_groups(record: RunRecord, samples: dict[str, dict[DocId, dict[str, Any]]],
                  lines: dict[tuple[str, DocId], int]) -> dict[str, dict[str, str]]:
    """Give every lm-eval group key of `record` the samples of its leaf tasks (ids `<leaf key>/<doc_id>`, lines
    shared), so a group is compared and gated over the union of its subtasks' documents (`tasks.group_results`);
    returns {group key: {metric: why it is not the mean of that union}} for the metrics that cannot be paired.
    Mutates `samples` and `lines`."""
    not_paired: dict[str, dict[str, str]] = {}
    for result in record.results:
        info = result.meta.get("group")
        if not isinstance(info, Mapping):
            continue
        pooled: dict[DocId, dict[str, Any]] = {}
        for leaf in info.get("tasks") or ():
            for doc_id, line in samples.get(str(leaf), {}).items():
                pooled[f"{leaf}/{doc_id}"] = line
                lines[(result.key, f"{leaf}/{doc_id}")] = lines[(str(leaf), doc_id)]
        samples[result.key] = pooled
        reasons = info.get("not_pooled")
        not_paired[result.key] = {str(k): str(v) for k, v in reasons.items()} if isinstance(reasons, Mapping) else {}
    return not_paired


def bpb_window_values(record: RunRecord, samples: dict[str, dict[DocId, dict[str, Any]]]) -> dict[str, dict[str, str]]:
    """Give each window line of a bpb result its share of the bpb as the field `bpb` (`suites.bpb.window_shares`:
    their mean is the run's bpb) and of its NLL per token as `nll_per_token` (NLL_j · J / N tokens), so compare
    and gate pair two runs' bpb window by window; returns {"bpb":
    {bpb_<lang>: why not paired}} for per-language metrics (`titan-eval sweep` pairs those over their own
    windows). Mutates `samples`; a run without a bpb result is left as it is."""
    from titan_eval.suites.bpb import window_shares

    result = record.result("bpb")
    docs = samples.get("bpb")
    if result is None or not docs or not _is_number(result.meta.get("bytes")):
        return {}
    ids = sorted(docs)
    nll = [docs[d].get("nll") for d in ids]
    if not all(_is_number(x) for x in nll):
        return {}
    shares = window_shares([float(x) for x in nll], int(result.meta["bytes"]))
    tokens = result.meta.get("tokens")
    per_token = [x * len(nll) / tokens for x in nll] if _is_number(tokens) and tokens else [None] * len(ids)
    for doc_id, share, token_share in zip(ids, shares, per_token):
        docs[doc_id] = {**docs[doc_id], "bpb": share, "nll_per_token": token_share}
    langs = [metric_name(k) for k in result.metrics if k.startswith("bpb_") and "_stderr" not in k]
    return {"bpb": {m: "a language's windows are a subset of the text's: `titan-eval sweep` pairs them"
                    for m in langs}} if langs else {}


def incomparable_reasons(base: StoredRun, cand: StoredRun, key: str, *, same_docs: bool = False) -> list[str]:
    """Why `cand` cannot be compared with `base` on `key` (empty when it can).

    Compares COMPARABILITY_FIELDS (and `doc_ids_sha256` when `same_docs`); a fingerprint either run did not record
    is a reason too, since agreement cannot be checked.
    """
    if key not in base.tasks or key not in cand.tasks:
        missing = [r.label for r in (base, cand) if key not in r.tasks]
        return [f"no fingerprints for {key} in {', '.join(missing)}"]
    names = COMPARABILITY_FIELDS + (("doc_ids_sha256",) if same_docs else ())
    reasons = []
    for name in names:
        a, b = getattr(base.tasks[key], name), getattr(cand.tasks[key], name)
        if a is None or b is None:
            reasons.append(f"{name} not recorded")
        elif a != b:
            reasons.append(f"{name} differs ({_short(a)} vs {_short(b)})")
    return reasons


def _short(value: str) -> str:
    return value[:10] if len(value) > 16 else value
