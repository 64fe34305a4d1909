"""Comparison documents: the paired table `titan-eval compare` prints (`report.compare_runs`, same cells), and
its discordant documents both ways for every 0/1 metric."""

from __future__ import annotations

from typing import Any, Sequence

from titan_eval.report import CompareConfig, StoredRun, compare_runs
from titan_eval.report.compare import ALL
from titan_eval.view.samples_data import jsonable


def discordant(base: StoredRun, cand: StoredRun, key: str, metric: str) -> dict[str, list[dict[str, Any]]]:
    """{base_only: docs the baseline got right and the candidate wrong, cand_only: the reverse} over the documents
    both scored (compare's McNemar losses and gains). Each doc is {doc (compare's id), key, id}: the samples line
    it names (a group's doc `<leaf>/<doc_id>` is its leaf's line), for the side-by-side link."""
    a, b = base.values(key, metric), cand.values(key, metric)
    shared = [d for d in a if d in b]

    def ref(doc: Any) -> dict[str, Any]:
        line = base.samples[key][doc]
        return {"doc": doc, "key": str(line.get("task", key)), "id": str(line.get("doc_id", doc))}

    return {"base_only": [ref(d) for d in shared if a[d] > b[d]], "cand_only": [ref(d) for d in shared if b[d] > a[d]]}


def comparison(ids: Sequence[str], runs: Sequence[StoredRun]) -> dict[str, Any]:
    """{ids, labels, columns, rows (text cells as compare prints them), printed (compare's markdown), legend, notes,
    records (compare --format json's rows: value, delta, p, losses, gains, …), discordant: [{key, metric, base,
    cand, base_id, cand_id, losses, gains, base_only, cand_only}]}; the first run is the baseline."""
    table = compare_runs(list(runs), config=CompareConfig())
    lines = table.table_lines()
    columns = list(lines[0]) if lines else []
    found = []
    for row in table.rows:
        if row.group != ALL:
            continue
        for j, cell in enumerate(row.cells[1:], start=1):
            if cell.paired is None or cell.paired.losses is None:
                continue
            lists = discordant(runs[0], runs[j], row.key, row.metric)
            found.append({"key": row.key, "metric": row.metric, "base": table.runs[0], "cand": table.runs[j],
                          "base_id": ids[0], "cand_id": ids[j], "losses": cell.paired.losses,
                          "gains": cell.paired.gains, **lists})
    return jsonable({"ids": list(ids), "labels": list(table.runs), "columns": columns, "rows": lines,
                     "printed": table.to_markdown(),
                     "legend": table.legend(), "notes": list(table.notes), "records": table.records(),
                     "discordant": found})
