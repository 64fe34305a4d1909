"""The cluster key an lm-eval task declares, and each document's cluster label (docs/gates.md "Clustered standard
errors").

A task YAML declares the document field its non-independent documents share under `metadata`, e.g.
`metadata: {version: 1.0, cluster_key: source_id}` (HellaSwag: contexts cut from one ActivityNet video or WikiHow
article). The run records the key as `titan_eval.tasks[key].cluster_key` and writes each document's value as the
samples line's `cluster` when it differs from str(doc_id), so stored runs can be re-analysed.
"""

from __future__ import annotations

from typing import Any, Mapping

from titan_eval.errors import DataError

CLUSTER_KEY = "cluster_key"
"""The task YAML `metadata` entry naming the cluster field."""


def declared_cluster_key(task: Any) -> str | None:
    """The cluster field an lm-eval Task's YAML declares (`metadata.cluster_key`), or None. DataError if it is not a
    non-empty string."""
    metadata = getattr(task.config, "metadata", None) or {}
    value = metadata.get(CLUSTER_KEY) if isinstance(metadata, Mapping) else None
    if value is None:
        return None
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
    return None if label == str(doc_id) else label
