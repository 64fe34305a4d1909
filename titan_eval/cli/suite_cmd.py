"""`titan-eval contamination`: flag suite prompts whose normalised word n-grams occur in training text."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.console import Console

from titan_eval.cli.errors import exits_on_error

console = Console(stderr=True)


def contamination_command(
    train: Annotated[list[str], typer.Option("--train", help="Training text file (.txt, or .jsonl: its string values); repeat for several.")],
    suite: Annotated[str, typer.Option(help="reasoning85 (the project's suite) or a suite JSONL file.")] = "reasoning85",
    ngram: Annotated[int, typer.Option(help="n-gram length in words (shorter prompts: the whole prompt).")] = 8,
    min_overlap: Annotated[float, typer.Option(help="Flag at this fraction of a prompt's n-grams found.")] = 0.5,
    out: Annotated[Optional[str], typer.Option(help="Write the JSON report here (for `run reasoning85 --contamination`).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the JSON report to stdout instead of the table.")] = False,
) -> None:
    """Report which prompts of SUITE overlap the training files; flagged ids go to the report's `flagged` list."""
    from titan_eval.suites.contamination import ContaminationConfig, check, write_report
    from titan_eval.suites.suite_file import load_suite

    path, items = load_suite(None if suite == "reasoning85" else suite)
    report = check(items, train, ContaminationConfig(ngram=ngram, min_overlap=min_overlap), path)
    if out:
        console.print(f"report written to {write_report(report, out)}", highlight=False)
    if json_out:
        typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    rows = [r for r in report["items"] if r["matched"]]
    lines = [f"{len(report['flagged'])} of {len(report['items'])} prompts flagged (ngram {ngram}, min overlap {min_overlap})", "",
             "| id | category | matched | n-grams | overlap | flagged |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['id']} | {r['category']} | {r['matched']} | {r['n_ngrams']} | {r['overlap']:.2f} | {'yes' if r['flagged'] else 'no'} |"
              for r in rows]
    typer.echo("\n".join(lines))


def register(app: typer.Typer) -> None:
    app.command("contamination")(exits_on_error(contamination_command))
