"""The cluster key an lm-eval task declares, and each document's cluster label (docs/gates.md "Clustered standard
errors").

A task YAML declares the document field its non-independent documents share under `metadata`, e.g.
`metadata: {version: 1.0, cluster_key: source_id}` (HellaSwag: contexts cut from one ActivityNet video or WikiHow
article). lm-eval's own catalogue tasks, whose YAMLs we do not edit, get theirs from `CATALOGUE_CLUSTER_KEYS`. The run
records the key as `titan_eval.tasks[key].cluster_key` and writes each document's value as the samples line's
`cluster` when it differs from str(doc_id), so stored runs can be re-analysed; a value longer than `LABEL_CHARS`
(a whole paragraph) is written as `sha256:` + the first 16 hex digits of its sha256.
"""

from __future__ import annotations

import hashlib
from types import MappingProxyType
from typing import Any, Mapping

from titan_eval.errors import DataError

CLUSTER_KEY = "cluster_key"
"""The task YAML `metadata` entry naming the cluster field."""
CATALOGUE_CLUSTER_KEYS: Mapping[str, str] = MappingProxyType({
    "multirc": "paragraph",  # SuperGLUE MultiRC: every (question, candidate answer) of one paragraph is a document
    "mc_taco": "sentence",   # MC-TACO: several candidate answers (and questions) per sentence
})
"""Cluster keys of lm-eval catalogue tasks (by task name), used when the task's YAML declares none. Each field is
one the task's own `doc_to_text` template reads (tested), so every document has it."""
LABEL_CHARS = 64


def declared_cluster_key(task: Any) -> str | None:
    """The cluster field an lm-eval Task's YAML declares (`metadata.cluster_key`), else `CATALOGUE_CLUSTER_KEYS`'
    entry for its name, else None. DataError if the YAML's value is not a non-empty string."""
    metadata = getattr(task.config, "metadata", None) or {}
    value = metadata.get(CLUSTER_KEY) if isinstance(metadata, Mapping) else None
    if value is None:
        return CATALOGUE_CLUSTER_KEYS.get(task.config.task)
    if not isinstance(value, str) or not value:
        raise DataError(f"task {task.config.task}: metadata.{CLUSTER_KEY} must be a field name, got {value!r}")
    return value


def cluster_label(doc: Mapping[str, Any], doc_id: Any, cluster_key: str, task_name: str) -> str | None:
    """The document's cluster as the samples line's `cluster` value: str(doc[cluster_key]), or None when that equals
    str(doc_id) (a document alone in its cluster needs no field). DataError when the document lacks the field."""
    value = doc.get(cluster_key)
    if value is None:
        raise DataError(f"{task_name} doc {doc_id!r} has no {cluster_key!r}, the field the task declares as its "
                        f"cluster key")
    label = str(value)
    if len(label) > LABEL_CHARS:
        label = "sha256:" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:16]
    return None if label == str(doc_id) else label
