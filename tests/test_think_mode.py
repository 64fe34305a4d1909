"""Think-then-answer mode: traces and statistics recorded, deterministic, batch-size invariant, and the same
through lm-eval's own CLI."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from titan_eval.loading import load
from run_helpers import run_json
from titan_eval.runner import RunOptions
from titan_eval.think_stats import LockRule, attractor_period

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite


def _run(card: str, shared: Path, out: Path, **kw) -> tuple[Path, dict]:
    options = RunOptions(tasks=(kw.pop("task", "arc_challenge"),), data_dir=str(shared / "data"),
                         limit=kw.pop("limit", 30), output_dir=str(out), **kw)
    return run_json(load(card, device="cpu"), options)


def _traces(run_dir: Path) -> list[dict]:
    return [json.loads(x)["think"] for x in (run_dir / "samples.jsonl").read_text().splitlines() if '"think"' in x]


def test_titan_cot_writes_traces_stats_and_both_modes(shared: Path, tmp_path: Path) -> None:
    out, rec = _run("titan-tiny", shared, tmp_path / "r", modes=("ll", "cot"), think={"think_budget": 12})
    assert {"arc_challenge", "arc_challenge_cot"} <= set(rec["results"])
    traces = _traces(out)
    assert len(traces) == 30
    for t in traces:
        assert t["stop_reason"] in ("closed", "forced", "eos") and t["length"] == len(t["ids"]) <= 12
        assert isinstance(t["text"], str)
    stats = rec["titan_eval"]["tasks"]["arc_challenge_cot"]["think_stats"]
    for key in ("termination_rate", "median_think_length", "think_length_histogram", "forced_close_count",
                "attractor_lock_rate", "attractor_rule"):
        assert key in stats
    assert stats["forced_close_count"] == sum(t["stop_reason"] == "forced" for t in traces)
    assert rec["titan_eval"]["tasks"]["arc_challenge_cot"]["think"]["preamble"]


def test_cot_is_deterministic_and_batch_size_invariant(shared: Path, tmp_path: Path) -> None:
    think = {"think_budget": 10, "temperature": 0.8, "top_p": 0.9}
    a, _ = _run("mamba-tiny", shared, tmp_path / "a", modes=("cot",), limit=12, think=think, batch_size=8)
    b, _ = _run("mamba-tiny", shared, tmp_path / "b", modes=("cot",), limit=12, think=think, batch_size=8)
    c, _ = _run("mamba-tiny", shared, tmp_path / "c", modes=("cot",), limit=12, think=think, batch_size=1)
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    assert [t["ids"] for t in _traces(a)] == [t["ids"] for t in _traces(c)]  # sampled, same seed, other batch size
    g8, _ = _run("mamba-tiny", shared, tmp_path / "g8", modes=("cot",), limit=12, think={"think_budget": 10}, batch_size=8)
    g1, _ = _run("mamba-tiny", shared, tmp_path / "g1", modes=("cot",), limit=12, think={"think_budget": 10}, batch_size=1)
    assert [t["ids"] for t in _traces(g8)] == [t["ids"] for t in _traces(g1)]  # greedy
    assert [t["ids"] for t in _traces(g8)] != [t["ids"] for t in _traces(a)]


def test_attractor_lock_detector() -> None:
    looping = [5, 9, 2, 7, 56, 56, 56, 56, 56]
    assert attractor_period(looping) == 1
    assert attractor_period([1, 2, 3, 4, 3, 4, 3, 4, 3, 4]) == 2
    normal = [12, 7, 99, 3, 41, 8, 7, 12, 5, 66, 2, 19]
    assert attractor_period(normal) is None
    assert attractor_period([56, 56, 56]) is None  # fewer than min_repeats
    assert attractor_period([1, 1, 1], LockRule(min_repeats=3)) == 1


def test_lm_eval_cli_think_mode_gives_the_same_scores(shared: Path, tmp_path: Path) -> None:
    ours, rec = _run("mamba-tiny", shared, tmp_path / "ours", modes=("cot",), limit=8, task="arc_easy",
                     think={"think_budget": 6})
    script = ("import sys, titan_eval.lm_eval_hook as h; h.activate(); from lm_eval.__main__ import cli_evaluate; "
              "sys.argv = ['lm_eval'] + sys.argv[1:]; cli_evaluate()")
    args = ["--model", "titan-eval", "--model_args", "card=mamba-tiny,mode=think,think_budget=6", "--device", "cpu",
            "--tasks", "arc_easy", "--include_path", str(Path(__file__).parents[1] / "tasks"),
            "--metadata", json.dumps({"data_dir": str(shared / "data")}), "--limit", "8", "--batch_size", "8",
            "--output_path", str(tmp_path / "lm"), "--seed", "0"]
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "TQDM_DISABLE": "1"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result_file = next((tmp_path / "lm").rglob("results_*.json"))
    theirs = json.loads(result_file.read_text())["results"]["arc_easy"]
    for metric in ("acc,none", "acc_norm,none"):
        assert theirs[metric] == rec["results"]["arc_easy_cot"][metric]


def test_k_sampled_traces_average_choices_and_report_trace_accuracy(shared: Path, tmp_path: Path) -> None:
    import numpy as np

    think = {"think_budget": 6, "temperature": 0.8, "samples": 3}
    out, rec = _run("mamba-tiny", shared, tmp_path / "k", modes=("cot",), limit=6, task="arc_easy", think=think)
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    per_doc = []
    for ln in lines:
        samples = ln["think"]["samples"]
        assert len(samples) == 3 and len({s["seed"] for s in samples}) == 3
        table = ln["think"]["choice_logprobs"]
        for i, lp in enumerate(ln["logprobs"]):
            assert abs(lp - float(np.mean(table[str(i)]))) < 1e-6  # lm-eval saw the mean over traces
        preds = [int(np.argmax([table[str(i)][k] for i in range(len(table))])) for k in range(3)]
        per_doc.append(np.mean([p == ln["gold"] for p in preds]))
    assert rec["results"]["arc_easy_cot"]["acc_trace_mean,none"] == pytest.approx(float(np.mean(per_doc)))
    assert rec["titan_eval"]["tasks"]["arc_easy_cot"]["think_stats"]["n"] == 18


def test_template_option_switches_to_plain_prompts() -> None:
    from titan_eval.cards import load_card
    from titan_eval.cli.run_cmd import with_template
    from titan_eval.errors import UsageError
    from titan_eval.think import ThinkOptions

    card = with_template(load_card("helix-tiny"), "plain-qa-de")
    opts = ThinkOptions.from_card(card, preamble="")
    assert opts.prompt("Was ist 2+2?") == "Frage: Was ist 2+2?\nAntwort:" + opts.think_open
    assert with_template(card, "Q: {question}\nA:").prompt.template == "Q: {question}\nA:"
    with pytest.raises(UsageError, match="plain-qa-de"):
        with_template(card, "no-such-template")


def test_progress_hears_every_generated_token(shared: Path, tmp_path: Path) -> None:
    heard: list[int] = []
    options = RunOptions(tasks=("arc_easy",), modes=("cot",), data_dir=str(shared / "data"), limit=5,
                         output_dir=str(tmp_path / "p"), think={"think_budget": 7})
    out, _ = run_json(load("mamba-tiny", device="cpu"), options, progress=heard.append)
    generated = sum(t["length"] + (t["stop_reason"] != "forced") for t in _traces(out))  # + the stop token
    assert sum(heard) == generated > 0
