"""The viewer's documents (`titan_eval.view`) against what the CLI prints for the same runs: the run table equals
`titan-eval run`'s, the comparison equals `titan-eval compare`'s (markdown and discordant counts), the samples rows
and sample pages carry what the lines hold; runs are found recursively and re-read on change; exports are made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from cli_helpers import invoke
from view_helpers import lines, write_lines
from titan_eval.records import RunRecord
from titan_eval.summary import markdown_summary
from titan_eval.view import ViewerData, find_runs
from titan_eval.view.api import to_json


def _markdown_cells(text: str) -> list[list[str]]:
    """A printed markdown table's body rows as stripped cells (header and rule skipped)."""
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    return [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in rows[2:]]


@pytest.fixture(scope="module")
def data(view_runs: Path) -> ViewerData:
    return ViewerData([view_runs])


def test_runs_are_found_recursively_with_ids_relative_to_the_root(view_runs: Path, tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b"
    shutil.copytree(view_runs / "titan", nested / "titan")
    (tmp_path / ".hidden").mkdir()
    shutil.copytree(view_runs / "mamba", tmp_path / ".hidden" / "mamba")
    assert [r.id for r in find_runs([tmp_path])] == ["a/b/titan"]
    assert [r.id for r in find_runs([view_runs / "titan", view_runs])] == ["titan", "mamba", "titan~2"]


def test_runs_rows_show_run_json_headline_numbers(data: ViewerData, view_runs: Path) -> None:
    for row in data.runs():
        raw = json.loads((view_runs / row["id"] / "run.json").read_text())
        assert row["run_id"] == raw["titan_eval"]["run_id"] and row["status"] == "complete"
        assert row["card"] == raw["titan_eval"]["model"]["card"]["name"]
        for head in row["headline"]:
            assert head["value"] == f"{raw['results'][head['key']][head['metric'] + ',none']:.4f}"
            ci = raw["titan_eval"]["tasks"][head["key"]]["ci95"][head["metric"]]
            assert head["ci95"] == f"[{ci['low']:.4f}, {ci['high']:.4f}]"


def test_run_table_is_the_table_titan_eval_run_prints(data: ViewerData, view_runs: Path) -> None:
    for run in ("titan", "mamba"):
        doc = data.document(f"run/{run}")
        record = RunRecord.from_json(json.loads((view_runs / run / "run.json").read_text()))
        assert doc["printed"] == markdown_summary(record)
        shown = [[row[c] for c in doc["table"]["columns"]] for row in doc["table"]["rows"]]
        assert shown == _markdown_cells(markdown_summary(record))
        assert [t["key"] for t in doc["think"]] == ["arc_easy_cot"] and doc["think"][0]["stats"]["n"] == 12
        assert doc["lines"] == 24 and doc["raw"]["titan_eval"]["run_id"] == doc["row"]["run_id"]


def test_printed_cells_keep_tabulates_text_and_drop_the_note() -> None:
    from titan_eval.view.runs_data import printed_cells

    text = "| task | value |\n|------|-------|\n| a    |  0.25 |\n\nRows with clusters: a note | with a bar"
    assert printed_cells(text) == (["task", "value"], [{"task": "a", "value": "0.25"}])
    assert printed_cells("(no results)") == ([], [])


def test_samples_rows_follow_the_lines(data: ViewerData, view_runs: Path) -> None:
    rows = data.document("samples/titan")["rows"]
    source = lines(view_runs / "titan")
    assert [(r["key"], r["doc"]) for r in rows] == [(ln["task"], ln["doc_id"]) for ln in source]
    assert sum(r["correct"] == 0 for r in rows) == sum(ln["acc"] == 0.0 for ln in source)
    cot = [r for r in rows if r["mode"] == "cot"]
    assert all(r["think"] == THINK_LEN and r["stop"] == "forced" and r["forced"] for r in cot)
    assert all(r["lls"] == ln["logprobs"] for r, ln in zip(rows, source))


THINK_LEN = 8


def test_samples_flags_agree_with_the_runs_think_statistics(data: ViewerData, view_runs: Path) -> None:
    for run in ("titan", "mamba"):
        rows = [r for r in data.document(f"samples/{run}")["rows"] if r["mode"] == "cot"]
        stats = json.loads((view_runs / run / "run.json").read_text())["titan_eval"]["tasks"]["arc_easy_cot"]
        stats = stats["think_stats"]
        assert sum(r["locked"] for r in rows) == round(stats["attractor_lock_rate"] * stats["n"])
        assert sum(r["forced"] for r in rows) == stats["forced_close_count"]


def test_sample_page_marks_opener_forced_close_and_cue(data: ViewerData, view_runs: Path) -> None:
    line = next(ln for ln in lines(view_runs / "titan") if ln["task"] == "arc_easy_cot")
    doc = data.document(f"sample/titan/arc_easy_cot/{line['doc_id']}")
    (trace,) = doc["traces"]
    kinds = [s["kind"] for s in trace["segments"]]
    assert kinds == ["prompt", "opener", "trace", "forced-closer", "cue"]
    assert "".join(s["text"] for s in trace["segments"][:2]) == line["think"]["prompt"]
    assert trace["segments"][2]["text"] == line["think"]["text"]
    assert trace["segments"][3]["text"] == "</think>" and trace["segments"][4]["text"] == "\n"
    choices = doc["choices"]
    assert [c["ll"] for c in choices] == line["logprobs"]
    assert [c["gold"] for c in choices].index(True) == line["gold"]
    best_norm = max(range(len(choices)), key=lambda i: choices[i]["norm"])
    assert best_norm == line["pred_norm"]  # the bars' normalised ll is lm-eval's acc_norm (per character)
    assert doc["line"]["doc_hash"] == line["doc_hash"]


def test_comparison_is_what_titan_eval_compare_prints(data: ViewerData, view_runs: Path) -> None:
    doc = data.document("compare/mamba,titan")
    printed = invoke("compare", str(view_runs / "mamba"), str(view_runs / "titan"))
    assert printed.returncode == 0, printed.stderr
    assert doc["printed"] == printed.stdout
    assert [[row[c] for c in doc["columns"]] for row in doc["rows"]] == _markdown_cells(printed.stdout)
    records = json.loads(invoke("compare", str(view_runs / "mamba"), str(view_runs / "titan"),
                                "--format", "json").stdout)["rows"]
    counts = {(r["key"], r["metric"]): (r["losses"], r["gains"]) for r in records if r["losses"] is not None}
    assert counts and {(d["key"], d["metric"]): (d["losses"], d["gains"]) for d in doc["discordant"]} == counts
    for d in doc["discordant"]:
        assert (len(d["base_only"]), len(d["cand_only"])) == (d["losses"], d["gains"])


def test_a_new_run_and_new_sample_lines_show_on_reload(view_runs: Path, tmp_path: Path) -> None:
    shutil.copytree(view_runs / "titan", tmp_path / "one")
    data = ViewerData([tmp_path])
    before = len(data.document("samples/one")["rows"])
    rows = lines(tmp_path / "one")
    write_lines(tmp_path / "one", rows + [{**rows[0], "doc_id": 999}])
    with (tmp_path / "one" / "samples.jsonl").open("a") as handle:
        handle.write('{"task": "arc_easy", "doc_')  # a running run's torn last line
    samples = data.document("samples/one")
    assert len(samples["rows"]) == before + 1 and samples["skipped_lines"] == 1
    shutil.copytree(view_runs / "mamba", tmp_path / "two")
    assert [r["id"] for r in data.document("runs")] == ["one", "two"]


def test_a_running_run_without_its_writer_and_an_unreadable_one_are_listed(view_runs: Path, tmp_path: Path) -> None:
    shutil.copytree(view_runs / "titan", tmp_path / "live")
    raw = json.loads((tmp_path / "live" / "run.json").read_text())
    raw["titan_eval"]["status"] = "running"
    (tmp_path / "live" / "run.json").write_text(json.dumps(raw))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    rows = {r["id"]: r for r in ViewerData([tmp_path]).document("runs")}
    assert rows["live"]["status"] == "running (no writer)"
    assert rows["broken"]["status"] == "unreadable" and rows["broken"]["error"]


def test_export_writes_a_folder_and_a_single_html(data: ViewerData, tmp_path: Path) -> None:
    from titan_eval.view.export import export

    index = export(data, tmp_path / "site")
    assert index == tmp_path / "site" / "index.html"
    assert {p.name for p in (tmp_path / "site" / "static").iterdir()} >= {"main.js", "viewer.css"}
    assert "compare/mamba,titan" in (tmp_path / "site" / "data.js").read_text()
    single = export(data, tmp_path / "one.html")
    text = single.read_text()
    assert "<script src=" not in text and 'href="static/' not in text and "http://" not in text.split("<body>")[0]
    assert "Content-Security-Policy" in text and "script-src 'sha256-" in text and "unsafe-inline" not in text


def test_export_cli_and_to_json_keep_markup_out_of_script_blocks(view_runs: Path, tmp_path: Path) -> None:
    done = invoke("view", "--export", str(tmp_path / "v.html"), str(view_runs / "titan"))
    assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    assert "exported 1 run(s)" in done.stdout and (tmp_path / "v.html").is_file()
    assert "<" not in to_json({"q": "</script><script>alert(1)</script>\u2028"})


def test_telemetry_plots_are_served_and_exported(view_runs: Path, tmp_path: Path) -> None:
    import base64

    from titan_eval.view.export import export

    shutil.copytree(view_runs / "titan", tmp_path / "r" / "t")
    png = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
    (tmp_path / "r" / "t" / "routing_x.png").write_bytes(png)
    data = ViewerData([tmp_path / "r"])
    assert data.document("run/t")["plots"] == ["routing_x.png"]
    assert data.file("t", "routing_x.png").read_bytes() == png
    export(data, tmp_path / "site")
    assert (tmp_path / "site" / "files" / "0" / "routing_x.png").read_bytes() == png
    assert "data:image/png;base64," + base64.b64encode(png).decode() in export(data, tmp_path / "one.html").read_text()


def test_k_traces_per_document_are_all_shown(shared: Path, tmp_path: Path) -> None:
    done = invoke("run", "arc_easy", "--cot", "--model", "titan-tiny", "--data-dir", str(shared / "data"), "--limit",
                  "2", "--think-budget", "6", "--samples", "2", "--temperature", "0.8", "--output", str(tmp_path / "k"))
    assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    line = lines(tmp_path / "k")[0]
    doc = ViewerData([tmp_path]).document(f"sample/k/arc_easy_cot/{line['doc_id']}")
    assert [t["segments"][2]["text"] for t in doc["traces"]] == [s["text"] for s in line["think"]["samples"]]
    assert doc["row"]["think"] == sum(s["length"] for s in line["think"]["samples"])
