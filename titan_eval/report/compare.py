"""The comparison table: result keys × (literature columns, runs), each run's value with its 95% CI and n, and each
non-baseline run's paired delta against the baseline, Holm-adjusted across the whole table.

Rows are (key, metric[, group]); with `by="category"` every key gets one row per value of the per-sample
`category` field besides its overall row. A delta is computed only on the documents both runs scored (and, for a
group row, that both runs put in the group), and only when the runs' fingerprints agree on the key
(`runs.incomparable_reasons`); otherwise the delta cell says why. Tests and intervals: `titan_eval.report.stats`.

Clustered keys: when a run declares a cluster key for a key (`run_clusters.shared_clusters`; or `cluster_by` names a
per-sample field for every key), every value and delta on its rows uses the cluster-robust (CR1) standard error with
a Wald interval and test (`titan_eval.report.clustered`). Every delta also carries its minimum detectable effect at
its n (`stats.minimum_detectable_effect`).

Glossary:
    baseline   the run deltas are taken against (the first run unless one is named); Δ = candidate − baseline
    family     all deltas of one table: the set Holm's adjustment runs over (`p_holm`)
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from titan_eval.errors import UsageError
from titan_eval.report.literature import UNSTATED, Literature
from titan_eval.report.clustered import robust_estimate, robust_paired_test
from titan_eval.report.run_clusters import field_clusters, labels_for, shared_clusters
from titan_eval.report.runs import DocId, StoredRun, incomparable_reasons
from titan_eval.report.relative import RelativeChange, relative_change
from titan_eval.report.stats import (DEFAULT_POWER, DEFAULT_RESAMPLES, DEFAULT_SEED, Estimate, PairedTest, holm,
                                     minimum_detectable_effect)

ALL = "all"  # group label of a key's overall row


@dataclass(frozen=True)
class CompareConfig:
    """alpha: 1 − confidence level and test level; by: per-sample field to group rows by (None: no groups);
    power: the power the MDE is stated at; cluster_by: a per-sample field to cluster every key's documents on,
    overriding the keys' declared cluster keys (None: the declared ones)."""

    alpha: float = 0.05
    by: str | None = None
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    power: float = DEFAULT_POWER
    cluster_by: str | None = None


@dataclass(frozen=True)
class Cell:
    """One run on one row: its estimate (or `note` why none), and its delta against the baseline (or `not_compared`)
    with its minimum detectable effect `mde` at the delta's n (nan when the SE is unknown)."""

    run: str
    estimate: Estimate | None = None
    note: str | None = None
    paired: PairedTest | None = None
    p_holm: float | None = None
    not_compared: str | None = None
    mde: float | None = None
    relative: RelativeChange | None = None  # run mean / baseline mean − 1 with its paired-bootstrap interval


@dataclass(frozen=True)
class Row:
    """key × metric × group; `literature[i]` belongs to `Comparison.literature[i]`, `cells[j]` to
    `Comparison.runs[j]`; `cluster_key` is the field whose clusters the row's statistics are robust to (None:
    documents independent)."""

    key: str
    metric: str
    group: str
    literature: tuple[float | None, ...]
    cells: tuple[Cell, ...]
    cluster_key: str | None = None


@dataclass(frozen=True)
class Comparison:
    """The whole table. `runs[0]` is the baseline."""

    runs: tuple[str, ...]
    literature: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]
    config: CompareConfig

    @property
    def baseline(self) -> str:
        return self.runs[0]

    def family_size(self) -> int:
        return sum(c.paired is not None for r in self.rows for c in r.cells)

    def records(self) -> list[dict[str, Any]]:
        """Tidy records, one per (row, column): literature columns have kind "literature", runs kind "run"."""
        out: list[dict[str, Any]] = []
        for row in self.rows:
            head = {"key": row.key, "metric": row.metric, "group": row.group, "cluster_key": row.cluster_key}
            for label, value in zip(self.literature, row.literature):
                out.append({**head, "kind": "literature", "column": label, "value": value})
            for cell in row.cells:
                out.append({**head, "kind": "run", "column": cell.run, "baseline": cell.run == self.baseline,
                            **_cell_fields(cell)})
        return out

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.records())

    def to_csv(self) -> str:
        return self.to_frame().to_csv(index=False)

    def to_json(self) -> str:
        doc = {"baseline": self.baseline, "runs": list(self.runs), "literature": list(self.literature),
               "alpha": self.config.alpha, "power": self.config.power, "by": self.config.by,
               "cluster_by": self.config.cluster_by, "bootstrap": {"resamples": self.config.n_resamples,
               "seed": self.config.seed}, "rows": self.records(), "notes": list(self.notes)}
        return json.dumps(doc, indent=2, allow_nan=False, default=str)

    def to_markdown(self) -> str:
        """The wide table (one line per row) followed by the method legend and notes."""
        table = pd.DataFrame(self.table_lines()).to_markdown(index=False, disable_numparse=True)
        return "\n".join([table, "", *self.legend(), *(f"- {n}" for n in self.notes)]) + "\n"

    def legend(self) -> list[str]:
        """The method legend printed under the table."""
        return _legend(self)

    def table_lines(self) -> list[dict[str, str]]:
        """The wide table's text cells, one {column title: text} per row, as `to_markdown` prints them."""
        group_col = self.config.by or "group"
        clustered = any(row.cluster_key for row in self.rows)
        lines = []
        for row in self.rows:
            line: dict[str, str] = {"Benchmark": row.key, "Metric": row.metric}
            if self.config.by:
                line[group_col] = row.group
            if clustered:
                line["Clusters"] = row.cluster_key or "—"
            for label, value in zip(self.literature, row.literature):
                line[label] = "—" if value is None else f"{value:.4f}"
            for i, cell in enumerate(row.cells):
                title = f"{cell.run} (baseline)" if i == 0 else cell.run
                line[title] = _value_text(cell)
                if i > 0:
                    line[f"Δ {cell.run}"] = _delta_text(cell)
            lines.append(line)
        return lines


def _nan_none(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def _cell_fields(cell: Cell) -> dict[str, Any]:
    e, t = cell.estimate, cell.paired
    return {
        "value": e.value if e else None, "ci_low": _nan_none(e.ci_low) if e else None,
        "ci_high": _nan_none(e.ci_high) if e else None, "n": e.n if e else None, "ci_method": e.method if e else None,
        "se": _nan_none(e.se) if e else None, "clusters": e.clusters if e else None,
        "delta": t.delta if t else None, "delta_ci_low": _nan_none(t.ci_low) if t else None,
        "delta_ci_high": _nan_none(t.ci_high) if t else None, "n_paired": t.n if t else None,
        "test": t.test if t else None, "p": t.p_value if t else None, "p_holm": cell.p_holm,
        "delta_se": _nan_none(t.se) if t else None, "delta_clusters": t.clusters if t else None,
        "mde": _nan_none(cell.mde) if t else None,
        "losses": t.losses if t else None, "gains": t.gains if t else None,
        "relative": _nan_none(cell.relative.value) if cell.relative else None,
        "relative_ci_low": _nan_none(cell.relative.ci_low) if cell.relative else None,
        "relative_ci_high": _nan_none(cell.relative.ci_high) if cell.relative else None,
        "note": cell.note or cell.not_compared,
    }


def _interval(low: float, high: float) -> str:
    return "[n/a]" if math.isnan(low) else f"[{low:.4f}, {high:.4f}]"


def _value_text(cell: Cell) -> str:
    if cell.estimate is None:
        return cell.note or "—"
    e = cell.estimate
    clusters = "" if e.clusters is None else f" G={e.clusters}"
    return f"{e.value:.4f} {_interval(e.ci_low, e.ci_high)} n={e.n}{clusters}"


def _delta_text(cell: Cell) -> str:
    if cell.paired is None:
        return f"not compared: {cell.not_compared}" if cell.not_compared else "—"
    t = cell.paired
    clusters = "" if t.clusters is None else f" G={t.clusters}"
    mde = "n/a" if cell.mde is None or math.isnan(cell.mde) else f"{cell.mde:.4f}"
    return (f"{t.delta:+.4f} {_interval(t.ci_low, t.ci_high)} {_relative_text(cell.relative)} p={t.p_value:.3g} "
            f"p_holm={cell.p_holm:.3g} n={t.n}{clusters} mde={mde}")


def _relative_text(rel: RelativeChange | None) -> str:
    if rel is None or math.isnan(rel.value):
        return "rel n/a"
    interval = "[n/a]" if math.isnan(rel.ci_low) else f"[{rel.ci_low:+.1%}, {rel.ci_high:+.1%}]"
    return f"rel {rel.value:+.1%} {interval}"


def _legend(table: Comparison) -> list[str]:
    c = table.config
    level = round(100 * (1 - c.alpha))
    power = round(100 * c.power)
    lines = [
        f"Values: mean [{level}% CI] n=documents; CI is Wilson for 0/1 metrics, normal (mean ± z·s/√n) otherwise.",
        f"Δ = run − {table.baseline} on the documents both scored (n), [{level}% CI]: normal paired interval for "
        f"0/1 metrics, bootstrap percentile otherwise; p: exact McNemar for 0/1 metrics, paired bootstrap otherwise "
        f"({c.n_resamples} resamples, seed {c.seed}); p_holm: Holm across the {table.family_size()} deltas of this "
        f"table.",
        f"rel: relative change run / {table.baseline} − 1 on the same documents, [{level}% CI] paired bootstrap "
        f"(documents resampled together, {c.n_resamples} resamples, seed {c.seed}); n/a when the baseline is 0.",
        f"mde: minimum detectable effect at this n, (z_(1−α/2) + z_power)·s_d/√n with α = {c.alpha:g} two-sided and "
        f"power {power}% (s_d: SD of the per-document differences, ddof 1; cluster-robust SE·√n on clustered "
        f"rows; n/a when the differences never vary): a true |Δ| this large is found {power}% of the time, a smaller one "
        f"may be missed (Miller 2024, arXiv:2411.00640; Connor 1987, Biometrics 43:207–211).",
    ]
    if any(row.cluster_key for row in table.rows):
        lines.append(
            "G=clusters: on rows with a Clusters field the documents are not independent (documents sharing that "
            "field's value form a cluster); the value's CI is mean ± z·SE and Δ is tested with z = Δ/SE, SE the "
            "cluster-robust (CR1, Liang–Zeger) standard error over G clusters (Miller 2024 §clustered standard "
            "errors; for 0/1 metrics the cluster-adjusted McNemar test of Obuchowski 1998 / Durkalski et al. 2003); "
            "with few clusters (G < 30) these z intervals are too narrow.")
    return lines


def _docs(run: StoredRun, key: str, metric: str, by: str | None, group: str) -> dict[DocId, float] | str:
    """The run's values on the row (only documents whose `by` field is `group` on a group row), or a note saying
    why there are none."""
    if key not in run.keys():
        return "not run"
    if metric not in run.metrics(key):
        return "—" if metric == UNSTATED else f"no {metric}"
    if metric in run.not_paired.get(key, {}):
        return f"not paired: {run.not_paired[key][metric]}"
    values = run.values(key, metric)
    if group != ALL and by is not None:
        labels = run.groups(key, by)
        values = {d: v for d, v in values.items() if labels.get(d) == group}
        return values if values else f"no {by}={group} documents"
    return values if values else "no samples"


def _against_baseline(
    cell: Cell, base: StoredRun, base_values: dict[DocId, float] | str, run: StoredRun, values: dict[DocId, float],
    key: str, config: CompareConfig, clusters: dict[DocId, str] | None,
) -> Cell:
    """`cell` with its paired delta against the baseline, or with the reason there is none."""
    if isinstance(base_values, str):
        return dataclasses.replace(cell, not_compared=f"baseline: {base_values}")
    reasons = incomparable_reasons(base, run, key)
    if reasons:
        return dataclasses.replace(cell, not_compared="; ".join(reasons))
    shared = [d for d in base_values if d in values]
    if not shared:
        return dataclasses.replace(cell, not_compared="no shared documents")
    base_x, cand_x = np.array([base_values[d] for d in shared]), np.array([values[d] for d in shared])
    labels = None if clusters is None else labels_for(shared, clusters)
    test = robust_paired_test(base_x, cand_x, labels, alpha=config.alpha, n_resamples=config.n_resamples,
                              seed=config.seed)
    relative = relative_change(base_x, cand_x, n_resamples=config.n_resamples, seed=config.seed, alpha=config.alpha)
    return dataclasses.replace(cell, paired=test, mde=minimum_detectable_effect(test.se, config.alpha, config.power),
                               relative=relative)


def row_clusters(runs: Sequence[StoredRun], key: str, config: CompareConfig) -> tuple[str, dict[DocId, str]] | None:
    """(cluster key, {doc_id: cluster}) the rows of `key` use: `config.cluster_by`'s per-sample field when set, else
    the cluster key the runs declare (`shared_clusters`, baseline first); None: documents independent."""
    if config.cluster_by is not None:
        return config.cluster_by, field_clusters(runs, key, config.cluster_by)
    return shared_clusters(runs, key)


def _row_cells(runs: Sequence[StoredRun], key: str, metric: str, group: str, config: CompareConfig,
               clusters: dict[DocId, str] | None = None) -> tuple[Cell, ...]:
    per_run = [_docs(r, key, metric, config.by, group) for r in runs]
    cells = []
    for i, (run, values) in enumerate(zip(runs, per_run)):
        if isinstance(values, str):
            cells.append(Cell(run.label, note=values))
            continue
        labels = None if clusters is None else labels_for(list(values), clusters)
        cell = Cell(run.label, estimate=robust_estimate(np.fromiter(values.values(), float), labels, config.alpha))
        if i > 0:
            cell = _against_baseline(cell, runs[0], per_run[0], run, values, key, config, clusters)
        cells.append(cell)
    return tuple(cells)


def _with_holm(rows: list[Row]) -> tuple[Row, ...]:
    where = [(i, j) for i, r in enumerate(rows) for j, c in enumerate(r.cells) if c.paired is not None]
    adjusted = holm([rows[i].cells[j].paired.p_value for i, j in where])  # type: ignore[union-attr]
    cells = [list(r.cells) for r in rows]
    for (i, j), p in zip(where, adjusted):
        cells[i][j] = dataclasses.replace(cells[i][j], p_holm=p)
    return tuple(dataclasses.replace(r, cells=tuple(c)) for r, c in zip(rows, cells))


def order_runs(runs: Sequence[StoredRun], baseline: StoredRun | None) -> list[StoredRun]:
    """Baseline first (the first run when none is named), then the others in their given order; labels made unique."""
    if not runs and baseline is None:
        raise UsageError("compare needs at least one run")
    ordered = list(runs)
    if baseline is not None:
        ordered = [baseline] + [r for r in ordered if r.path.resolve() != baseline.path.resolve()]
    seen: dict[str, int] = {}
    out = []
    for run in ordered:
        seen[run.label] = seen.get(run.label, 0) + 1
        out.append(run if seen[run.label] == 1 else dataclasses.replace(run, label=f"{run.label}#{seen[run.label]}"))
    return out


def compare_runs(
    runs: Sequence[StoredRun],
    baseline: StoredRun | None = None,
    literature: Sequence[Literature] = (),
    config: CompareConfig = CompareConfig(),
) -> Comparison:
    """Build the comparison table (see module docstring)."""
    if not 0.0 < config.power < 1.0:
        raise UsageError(f"power must lie in (0, 1), got {config.power}")
    ordered = order_runs(runs, baseline)
    keys = sorted({k for r in ordered for k in r.keys()})
    rows: list[Row] = []
    for key in keys:
        metrics = sorted({m for r in ordered if key in r.keys() for m in r.metrics(key)}
                         | {m for col in literature for m in col.scores.get(key, {})})
        groups = [ALL]
        if config.by:
            groups += sorted({g for r in ordered for g in r.groups(key, config.by).values()})
        found = row_clusters(ordered, key, config)
        name, clusters = found if found is not None else (None, None)
        for metric in metrics:
            lit = tuple(None if (s := col.get(key, metric)) is None else s.value for col in literature)
            for group in groups:
                rows.append(Row(key, metric, group, lit if group == ALL else (None,) * len(literature),
                                _row_cells(ordered, key, metric, group, config, clusters), name))
    notes = [f"{r.label}: status is {r.status!r}; its scores cover only the documents it finished"
             for r in ordered if r.status != "complete"]
    notes += [f"{col.label}: {'; '.join(col.sources())}" for col in literature if col.sources()]
    return Comparison(tuple(r.label for r in ordered), tuple(c.label for c in literature), _with_holm(rows),
                      tuple(notes), config)
