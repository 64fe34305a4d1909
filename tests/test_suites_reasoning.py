"""reasoning85 end to end with a scripted bigram model (its greedy trace and answer are known): the answer is the
text after the think closer, both scorers land in samples and per-category results, unscored prompts count for
termination only, and a contamination list splits clean and flagged subsets. Plus the contamination check and
its CLI command."""

import json

import torch
from typer.testing import CliRunner

from suites_helpers import TOK, BigramLM, loaded
from titan_eval.cli.app import app
from run_helpers import run_json
from titan_eval.runner import RunOptions
from titan_eval.suites.contamination import ContaminationConfig, check, read_flagged
from titan_eval.suites.suite_file import load_suite

ITEMS = [
    {"id": "q1", "category": "Geography", "prompt": "What is the capital of France?", "answers": ["paris"],
     "scored": True, "scorer": "match", "notes": ""},
    {"id": "q2", "category": "Yes/No", "prompt": "Is Paris in Spain?", "answers": ["no"], "scored": True,
     "scorer": "yesno", "notes": ""},
    {"id": "q3", "category": "Stress", "prompt": "Explain rain.", "answers": [], "scored": False, "scorer": "none",
     "notes": ""},
    {"id": "q4", "category": "Geography", "prompt": "Which word ends this list?", "answers": ["is"], "scored": True,
     "scorer": "match", "notes": "substring 'is' is inside 'Paris'"},
]


def scripted_model() -> BigramLM:
    """Greedy: after "\\n" it writes "Paris", then the closer; with the closer banned, EOS."""
    model = BigramLM(seed=0)
    with torch.no_grad():
        model.table.mul_(0.1)
    model.boost(TOK.encode("\nParis</think>"), 30.0)
    model.boost([ord("s"), TOK.eos_id], 20.0)
    return model


def write_suite(tmp_path):
    path = tmp_path / "suite.jsonl"
    path.write_text("".join(json.dumps(i) + "\n" for i in ITEMS))
    return path


def test_reasoning_run_scores_the_answer_after_the_closer(tmp_path) -> None:
    suite = write_suite(tmp_path)
    flags = tmp_path / "flagged.txt"
    flags.write_text("# contaminated\nq1\n")
    out = tmp_path / "run"
    _, record = run_json(loaded(scripted_model()), RunOptions(
        tasks=("reasoning85",), output_dir=str(out), think={"think_budget": 12},
        native={"suite": str(suite), "contamination": str(flags), "answer_budget": 10}))
    lines = {ln["doc_id"]: ln for ln in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    assert set(lines) == {"q1", "q2", "q3", "q4"}
    for ln in lines.values():
        assert ln["think"]["text"] == "Paris" and ln["think"]["stop_reason"] == "closed"
        assert ln["answer"] == "Paris" and ln["continuation"] == "Paris</think>\nParis"
        assert ln["prompt"].endswith("Assistant: <think>\n")
    assert (lines["q1"]["strict"], lines["q1"]["author"]) == (1.0, 1.0)
    assert (lines["q2"]["strict"], lines["q2"]["author"]) == (0.0, 0.0)
    assert (lines["q4"]["strict"], lines["q4"]["author"]) == (0.0, 1.0)  # the substring defect, kept visible
    assert "strict" not in lines["q3"] and lines["q3"]["task"] == "reasoning85:unscored"
    res = record["results"]
    assert res["reasoning85"]["strict,none"] == 1 / 3 and res["reasoning85"]["author,none"] == 2 / 3
    assert res["reasoning85:geography"]["strict,none"] == 0.5 and res["reasoning85:geography"]["author,none"] == 1.0
    assert res["reasoning85:yes_no"]["strict,none"] == 0.0
    assert "strict,none" not in res["reasoning85:stress"] and res["reasoning85:stress"]["terminated,none"] == 1.0
    assert res["reasoning85:all_prompts"]["terminated,none"] == 1.0
    assert res["reasoning85:all_prompts"]["median_think_length,none"] == 5.0
    assert res["reasoning85:clean"]["strict,none"] == 0.0 and record["n-samples"]["reasoning85:clean"]["effective"] == 2
    assert res["reasoning85:flagged"]["strict,none"] == 1.0
    meta = record["titan_eval"]["tasks"]["reasoning85"]
    assert meta["think_stats"]["termination_rate"] == 1.0 and meta["decoding"]["answer_budget"] == 10
    assert meta["contamination"]["flagged_in_suite"] == ["q1"]


def test_contamination_flags_prompts_found_in_training_text(tmp_path) -> None:
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"text": "User: what is the CAPITAL of france?\nAssistant: Paris"}) + "\n"
                     + json.dumps({"text": "Rain: explain it"}) + "\n")
    suite = write_suite(tmp_path)
    _, items = load_suite(suite)
    report = check(items, [train], ContaminationConfig(ngram=4, min_overlap=0.5), suite)
    rows = {r["id"]: r for r in report["items"]}
    assert report["flagged"] == ["q1"]
    assert rows["q1"]["overlap"] == 1.0 and rows["q3"]["matched"] == 0  # word order matters
    assert rows["q2"]["n_ngrams"] == 1  # shorter than n: the whole prompt is its one n-gram


def test_contamination_command_writes_a_report_the_run_reads(tmp_path) -> None:
    train = tmp_path / "train.txt"
    train.write_text("Is Paris in\nSpain? No.\n")
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["contamination", "--train", str(train), "--suite", str(write_suite(tmp_path)),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "1 of 4 prompts flagged" in result.output
    flagged, _ = read_flagged(out)
    assert flagged == {"q2"}
