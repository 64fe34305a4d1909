"""Runs and run documents: one row per found run for the runs table, and a run's page (the results table as
`titan-eval run` prints it, provenance, think statistics, telemetry plots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from titan_eval.records import RunRecord
from titan_eval.summary import markdown_summary, summary_rows
from titan_eval.view.samples_data import jsonable

PLOT_SUFFIXES = (".png", ".svg")
LOCK_FILE = "run.lock"


def status_of(record: RunRecord, folder: Path) -> str:
    """run.json's status; `running` without a run.lock left by a writer reads `running (no writer)` (killed)."""
    if record.status == "running" and not (folder / LOCK_FILE).exists():
        return "running (no writer)"
    return record.status


def headline(record: RunRecord) -> list[dict[str, Any]]:
    """Per result key its first metric as the run table prints it: [{key, metric, value, ci95}]."""
    out, seen = [], set()
    for row in summary_rows(record):
        if row["task"] in seen:
            continue
        seen.add(row["task"])
        out.append({"key": row["task"], "metric": row["metric"], "value": f"{row['value']:.4f}",
                    "ci95": row["ci95"] or "N/A"})
    return out


def _git(record: RunRecord) -> str:
    git = record.environment.get("git")
    if not isinstance(git, Mapping):
        return ""
    commit = str(git.get("commit") or "")[:10]
    return commit + ("+dirty" if git.get("dirty") else "") if commit else str(git.get("source") or "")


def run_row(run_id: str, record: RunRecord, folder: Path) -> dict[str, Any]:
    """{id, run_id, card, checkpoint (sha256 prefix), tasks, modes, seed, date, status, git, headline, error}."""
    card = record.model.get("card")
    options = record.options
    sha = record.model.get("checkpoint_sha256")
    keys = [r.key for r in record.results]
    return jsonable({
        "id": run_id, "run_id": record.run_id or folder.name,
        "card": card.get("name", "") if isinstance(card, Mapping) else "",
        "checkpoint": str(sha)[:12] if sha else "",
        "tasks": list(options.get("tasks") or keys), "keys": keys,
        "modes": list(options.get("modes") or sorted({r.fingerprint.mode for r in record.results
                                                      if r.fingerprint.mode})),
        "seed": record.seeds.get("seed", options.get("seed")), "date": record.created_utc or "",
        "status": status_of(record, folder), "git": _git(record), "headline": headline(record),
        "error": record.extra.get("error"),
    })


def printed_cells(markdown: str) -> tuple[list[str], list[dict[str, str]]]:
    """A printed github-markdown table as (column titles, rows of {title: cell text}), the cells exactly as printed
    (tabulate's number formatting included: `0.25`, not `0.2500`); text after the table (a note) is left out."""
    table = []
    for line in markdown.splitlines():
        if not line.startswith("|"):
            if table:
                break
            continue
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    if len(table) < 2:
        return [], []
    columns = table[0]
    return columns, [dict(zip(columns, row)) for row in table[2:]]


def plots(folder: Path) -> list[str]:
    """Names of the plot files a run folder holds (telemetry: `titan-eval run --telemetry`)."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix.lower() in PLOT_SUFFIXES)


def think_charts(record: RunRecord) -> list[dict[str, Any]]:
    """Per cot key its think statistics (run.json `think_stats`) and budget."""
    out = []
    for result in record.results:
        stats = result.meta.get("think_stats")
        if isinstance(stats, Mapping) and stats.get("n"):
            fmt = result.meta.get("think")
            out.append({"key": result.key, "stats": dict(stats),
                        "budget": fmt.get("think_budget") if isinstance(fmt, Mapping) else None})
    return out


def run_page(run_id: str, record: RunRecord, raw: Mapping[str, Any], folder: Path, n_lines: int,
             skipped: int) -> dict[str, Any]:
    """{row, table: {columns, rows} (the cells of `printed`), printed (the markdown `titan-eval run` prints), think, plots, lines,
    skipped_lines, raw (the whole run.json)}."""
    printed = markdown_summary(record)
    columns, rows = printed_cells(printed)
    return jsonable({
        "row": run_row(run_id, record, folder), "table": {"columns": columns, "rows": rows}, "printed": printed, "think": think_charts(record), "plots": plots(folder),
        "lines": n_lines, "skipped_lines": skipped, "raw": raw,
    })
