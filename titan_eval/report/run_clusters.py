"""The clusters of a stored run's documents: the cluster key a run declared for a result key, and one
{doc_id: cluster} map for several runs compared on that key (the statistics are in `titan_eval.report.clustered`).

Glossary:
    cluster key   the per-document field a task declares (`hellaswag`: `source_id`), recorded per result key as
                  run.json `titan_eval.tasks[key].cluster_key`
    label         a document's cluster value (the samples line's `cluster`, or str(doc_id) when it has none)
"""

from __future__ import annotations

from typing import Mapping, Sequence

from titan_eval.report.runs import DocId, StoredRun


def cluster_key_of(run: StoredRun, key: str) -> str | None:
    """The per-document field `run` declared as `key`'s cluster key (run.json `titan_eval.tasks[key].cluster_key`),
    or None (documents independent, or a run written before cluster keys were recorded)."""
    return run.cluster_keys.get(key)


def shared_clusters(runs: Sequence[StoredRun], key: str) -> tuple[str, dict[DocId, str]] | None:
    """(cluster key, {doc_id: cluster}) for `key` from the runs that declare a cluster key for it, in the given
    order (put the baseline first): the first declaring run fixes the cluster key; every run declaring the same key
    adds the documents the earlier ones did not have. None when no run declares one.

    Runs that compare on a key score the same data (`data_sha256`), so a document's cluster is a property of the
    document and an older run without the field borrows it from a newer one."""
    found: tuple[str, dict[DocId, str]] | None = None
    for run in runs:
        name, labels = cluster_key_of(run, key), run.clusters(key)
        if name is None or labels is None:
            continue
        if found is None:
            found = (name, dict(labels))
        elif name == found[0]:
            for doc_id, label in labels.items():
                found[1].setdefault(doc_id, label)
    return found


def labels_for(doc_ids: Sequence[DocId], clusters: Mapping[DocId, str]) -> list[str]:
    """Cluster labels [len(doc_ids)] for `doc_ids`; a document missing from `clusters` is its own cluster
    (labelled by its id in a namespace no declared label uses)."""
    return [clusters[d] if d in clusters else f"\x00doc:{d!r}" for d in doc_ids]


def field_clusters(runs: Sequence[StoredRun], key: str, field_name: str) -> dict[DocId, str]:
    """{doc_id: value of the per-sample field `field_name`} for `key` over `runs` (earlier runs first: put the
    baseline first), for clustering on a field no task declared (e.g. reasoning85's `category`). Documents
    without the field are left out (`labels_for` makes each its own cluster)."""
    out: dict[DocId, str] = {}
    for run in runs:
        for doc_id, label in run.groups(key, field_name).items():
            out.setdefault(doc_id, label)
    return out
