"""Cluster keys declared by tasks: HellaSwag's `source_id` (task YAML metadata) and reasoning85's `cluster` (suite
field) reach samples.jsonl and run.json, and the stored runs give cluster-robust intervals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import statsmodels.api as sm
from suites_helpers import loaded
from test_suites_reasoning import ITEMS, scripted_model

from cli_helpers import titan_eval
from run_helpers import run_json
from titan_eval.errors import DataError
from titan_eval.report import compare_runs, load_run
from titan_eval.runner import RunOptions
from titan_eval.suites.suite_file import load_suite
from titan_eval.tasks.catalog import check_task_yaml, lm_eval_task_files
from titan_eval.tasks.clusters import cluster_label, declared_cluster_key
from titan_eval.textfiles import load_yaml


def _cr1_se(x: list[float], labels: list[str]) -> float:
    groups = np.unique(labels, return_inverse=True)[1]
    fit = sm.OLS(np.asarray(x), np.ones(len(x))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    return float(fit.bse[0])


def test_which_task_yamls_declare_a_cluster_key() -> None:
    from titan_eval.tasks.task_yaml import _task_yaml_loader

    declared = {}
    for name, path in lm_eval_task_files().items():
        check_task_yaml(path)
        cfg = load_yaml(path, "task YAML", loader=_task_yaml_loader())
        declared[name] = (cfg.get("metadata") or {}).get("cluster_key")
    code = {"humaneval": None, "humaneval_plus": None, "mbpp": None, "mbpp_plus": None}  # independent problems
    assert declared == {"arc_challenge": None, "arc_easy": None, "hellaswag": "source_id", "titan_sample": None,
                        **code}


def test_declared_cluster_key_and_labels() -> None:
    task = SimpleNamespace(config=SimpleNamespace(task="t", metadata={"version": 1.0, "cluster_key": "passage"}))
    assert declared_cluster_key(task) == "passage"
    assert declared_cluster_key(SimpleNamespace(config=SimpleNamespace(task="t", metadata={"version": 1.0}))) is None
    with pytest.raises(DataError, match="cluster_key must be a field name"):
        declared_cluster_key(SimpleNamespace(config=SimpleNamespace(task="t", metadata={"cluster_key": ["a"]})))
    assert cluster_label({"passage": "p7"}, 3, "passage", "t") == "p7"
    assert cluster_label({"passage": 3}, 3, "passage", "t") is None  # its own cluster: no field written
    with pytest.raises(DataError, match="t doc 4 has no 'passage'"):
        cluster_label({}, 4, "passage", "t")


def test_catalogue_tasks_cluster_on_a_field_their_own_template_reads() -> None:
    """lm-eval's multirc and mc_taco get their cluster key from the mapping; each field appears in the installed
    lm-eval YAML's doc_to_text, so every document has it. Long labels (a paragraph) are stored hashed."""
    import lm_eval

    from titan_eval.tasks.clusters import CATALOGUE_CLUSTER_KEYS

    root = Path(lm_eval.__file__).parent / "tasks"
    for name, field in CATALOGUE_CLUSTER_KEYS.items():
        task = SimpleNamespace(config=SimpleNamespace(task=name, metadata={"version": 1.0}))
        assert declared_cluster_key(task) == field
        yamls = [p for p in root.rglob("*.yaml") if f"task: {name}\n" in p.read_text(encoding="utf-8")]
        assert len(yamls) == 1, (name, yamls)
        text_line = next(ln for ln in yamls[0].read_text(encoding="utf-8").splitlines() if ln.startswith("doc_to_text"))
        assert "{{" + field + "}}" in text_line, (name, text_line)
    paragraph = "A long paragraph. " * 10
    label = cluster_label({"paragraph": paragraph}, 0, "paragraph", "multirc")
    assert label == "sha256:" + hashlib.sha256(paragraph.encode()).hexdigest()[:16]
    assert cluster_label({"sentence": "Short."}, 0, "sentence", "mc_taco") == "Short."


def test_suite_cluster_field_is_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rows = [dict(ITEMS[0]), {**ITEMS[0], "id": "q1b", "cluster": "q1"}, {**ITEMS[1], "cluster": "q2"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    _, items = load_suite(path)
    assert [i.cluster for i in items] == [None, "q1", None]  # naming its own id is the default
    path.write_text(json.dumps({**ITEMS[0], "cluster": 5}) + "\n")
    with pytest.raises(DataError, match=r"s.jsonl:1: `cluster` must be a non-empty string"):
        load_suite(path)


def test_reasoning85_records_its_cluster_key_and_clustered_intervals(tmp_path: Path) -> None:
    """q1 and its paraphrase q1b (cluster q1) are one cluster: 4 scored prompts, 3 clusters."""
    suite = tmp_path / "suite.jsonl"
    items = [ITEMS[0], {**ITEMS[0], "id": "q1b", "prompt": "Name the capital of France.", "cluster": "q1"},
             ITEMS[1], ITEMS[3]]
    suite.write_text("".join(json.dumps(i) + "\n" for i in items))
    out = tmp_path / "run"
    _, record = run_json(loaded(scripted_model()), RunOptions(
        tasks=("reasoning85",), output_dir=str(out), think={"think_budget": 12}, native={"suite": str(suite),
                                                                                      "answer_budget": 10}))
    lines = {ln["doc_id"]: ln for ln in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    assert lines["q1b"]["cluster"] == "q1" and "cluster" not in lines["q1"]
    entry = record["titan_eval"]["tasks"]["reasoning85"]
    strict = [lines[d]["strict"] for d in ("q1", "q1b", "q2", "q4")]
    assert strict == [1.0, 1.0, 0.0, 0.0] and entry["cluster_key"] == "cluster"
    ci = entry["ci95"]["strict"]
    assert ci["method"] == "cluster-normal" and ci["clusters"] == 3
    assert ci["se"] == pytest.approx(_cr1_se(strict, ["q1", "q1", "q2", "q4"]), abs=1e-12)
    run = load_run(out)
    assert run.clusters("reasoning85") == {"q1": "q1", "q1b": "q1", "q2": "q2", "q4": "q4"}


@pytest.mark.slow
def test_a_hellaswag_run_carries_source_id_clusters_into_compare(shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "hs"
    proc = titan_eval("run", "hellaswag", "--model", "mamba-tiny", "--data-dir", str(shared / "data"), "--limit", "12",
                      "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    docs = [json.loads(x) for x in (shared / "data" / "hellaswag" / "hellaswag_val_subset.jsonl").open()][:12]
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [ln["cluster"] for ln in lines] == [d["source_id"] for d in docs]
    entry = json.loads((out / "run.json").read_text())["titan_eval"]["tasks"]["hellaswag"]
    labels = [d["source_id"] for d in docs]
    acc = [ln["acc"] for ln in lines]
    assert entry["cluster_key"] == "source_id" and entry["ci95"]["acc"]["clusters"] == len(set(labels)) < 12
    assert entry["ci95"]["acc"]["se"] == pytest.approx(_cr1_se(acc, labels), abs=1e-12)
    assert "clusters" in proc.stdout.splitlines()[0] and "cluster-robust (CR1)" in proc.stdout
    cell = compare_runs([load_run(out)]).rows[0].cells[0]
    assert cell.estimate.clusters == len(set(labels)) and cell.estimate.se == pytest.approx(entry["ci95"]["acc"]["se"])
