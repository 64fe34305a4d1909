"""`titan-eval run` on lm-eval catalogue tasks of the non-multiple-choice output types (lambada_openai:
loglikelihood, wikitext: loglikelihood_rolling, gsm8k: generate_until) from a tiny local Hub mirror: run.json keys
per metric and filter, samples.jsonl lines (docs/results-format.md), resume, the NaN guard, the cot refusals (think mode itself: test_cot_generate.py), and
`compare` / `gate` on such runs (McNemar-type bounds for 0/1 metrics, the bootstrap for continuous ones)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch

from catalogue_mirror import build_mirror
from model_helpers import nan_card
from cli_helpers import invoke

TASKS = ("lambada_openai", "wikitext", "gsm8k")
LIMIT = 3


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"), long_page_words=200)


def _run(mirror: Path, out: Path, *extra: str, tasks: tuple[str, ...] = TASKS, model: str = "mamba-tiny") -> Any:
    return invoke("run", *tasks, "--model", model, "--data-dir", str(mirror), "--limit", str(LIMIT),
                  "--output", str(out), *extra)


@pytest.fixture(scope="module")
def stored(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "a"
    result = _run(mirror, out)
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    return out


def _lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]


def test_run_json_has_lm_eval_result_keys_per_metric_and_filter(stored: Path) -> None:
    run = json.loads((stored / "run.json").read_text())
    results = run["results"]
    assert set(results["lambada_openai"]) == {"alias", "perplexity,none", "perplexity_stderr,none", "acc,none",
                                              "acc_stderr,none"}
    assert set(results["wikitext"]) == {"alias"} | {f"{m}{s},none" for m in ("word_perplexity", "byte_perplexity",
                                                                              "bits_per_byte") for s in ("", "_stderr")}
    assert set(results["gsm8k"]) == {"alias"} | {f"exact_match{s},{f}" for s in ("", "_stderr")
                                                 for f in ("strict-match", "flexible-extract")}
    tasks = run["titan_eval"]["tasks"]
    assert {k: tasks[k]["scorer"] for k in TASKS} == {"lambada_openai": "lm-eval-loglikelihood-v1",
                                                      "wikitext": "lm-eval-rolling-v1",
                                                      "gsm8k": "lm-eval-generate-v1"}
    assert set(tasks["gsm8k"]["ci95"]) == {"exact_match,strict-match", "exact_match,flexible-extract"}
    assert set(tasks["lambada_openai"]["ci95"]) == {"acc"}  # perplexity is not a mean of per-document values
    assert all(run["n-samples"][k]["effective"] == LIMIT for k in TASKS)
    assert all(len(tasks[k]["data_files"]) >= 1 for k in TASKS)  # provenance: the mirror files, hashed


def test_sample_lines_per_output_type(stored: Path) -> None:
    lines = {(ln["task"], ln["doc_id"]): ln for ln in _lines(stored)}
    assert sorted(lines) == sorted((t, d) for t in TASKS for d in range(LIMIT))
    lam = lines[("lambada_openai", 0)]
    (request,) = lam["requests"]
    assert lam["target"] == request["continuation"] == " grandmother"
    assert lam["prompt"].endswith("written by her") and request["n_tokens"] == len(" grandmother")
    assert lam["doc_metrics"] == {"perplexity": request["loglikelihood"], "acc": int(request["is_greedy"])}
    assert lam["acc"] == float(request["is_greedy"]) and lam["perplexity"] == pytest.approx(
        torch.tensor(-request["loglikelihood"], dtype=torch.float64).exp().item())
    wiki = lines[("wikitext", 2)]
    assert wiki["target"].startswith(" = Brick mill =") and wiki["n_tokens"] == len(wiki["target"].encode())
    assert wiki["doc_metrics"]["word_perplexity"] == [wiki["loglikelihood"], wiki["words"]]
    assert wiki["doc_metrics"]["bits_per_byte"] == [wiki["loglikelihood"], wiki["bytes"]]
    assert wiki["bits_per_byte"] == pytest.approx(-wiki["loglikelihood"] / wiki["bytes"] / 0.6931471805599453)
    gsm = lines[("gsm8k", 1)]
    assert gsm["prompt"].endswith("Question: A book costs $12. How much do 3 books cost?\nAnswer:")
    assert gsm["target"].endswith("#### 36") and isinstance(gsm["generation"], str)
    assert set(gsm["filtered"]) == {"strict-match", "flexible-extract"}
    assert gsm["stop_reason"] in ("max_tokens", "stop_id", "stop_string") and 1 <= gsm["n_tokens"] <= 256
    assert {k: gsm[k] for k in gsm["doc_metrics"]} == gsm["doc_metrics"]
    assert set(gsm["doc_metrics"]) == {"exact_match,strict-match", "exact_match,flexible-extract"}


def test_resume_reuses_written_lines_of_every_type(stored: Path, mirror: Path, tmp_path: Path) -> None:
    """A run stopped after lambada and wikitext resumes with gsm8k only and ends with the same lines and results."""
    resumed = tmp_path / "b"
    shutil.copytree(stored, resumed)
    kept = [ln for ln in _lines(stored) if ln["task"] != "gsm8k"]
    (resumed / "samples.jsonl").write_text("".join(json.dumps(ln, sort_keys=True) + "\n" for ln in kept))
    run = json.loads((resumed / "run.json").read_text())
    run["titan_eval"]["status"] = "interrupted"
    (resumed / "run.json").write_text(json.dumps(run))
    result = invoke("run", *TASKS, "--model", "mamba-tiny", "--data-dir", str(mirror), "--limit", str(LIMIT),
                    "--resume", str(resumed))
    assert result.returncode == 0, (result.stderr, result.exception)
    after = json.loads((resumed / "run.json").read_text())
    assert after["titan_eval"]["resumed_docs"] == len(kept)
    assert after["results"] == json.loads((stored / "run.json").read_text())["results"]
    key = lambda ln: (ln["task"], ln["doc_id"])  # noqa: E731
    assert sorted(_lines(resumed), key=key) == sorted(_lines(stored), key=key)


def test_gate_and_compare_on_catalogue_runs(stored: Path, tmp_path: Path) -> None:
    from titan_eval.report import GateConfig, evaluate_gate, load_run

    twin = tmp_path / "twin"
    shutil.copytree(stored, twin)
    passed = invoke("gate", str(stored), str(twin), "--metric", "all", "--max-drop", "0.95")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    verdict = evaluate_gate(load_run(stored), load_run(twin), GateConfig(metrics=("all",), max_drop=0.95))
    methods = {(c.key, c.metric): c.method for c in verdict.checks}
    assert methods == {
        ("lambada_openai", "acc"): "tango-score", ("lambada_openai", "perplexity"): "paired-bootstrap",
        ("wikitext", "word_perplexity"): "paired-bootstrap", ("wikitext", "byte_perplexity"): "paired-bootstrap",
        ("wikitext", "bits_per_byte"): "paired-bootstrap",
        ("gsm8k", "exact_match,strict-match"): "tango-score", ("gsm8k", "exact_match,flexible-extract"): "tango-score"}
    assert all(c.drop == 0 for c in verdict.checks) and verdict.passed
    bare = evaluate_gate(load_run(stored), load_run(twin), GateConfig(metrics=("exact_match",), tasks=("gsm8k",)))
    assert [c.metric for c in bare.checks] == ["exact_match,flexible-extract", "exact_match,strict-match"]
    run = load_run(stored)
    assert not run.higher_better("wikitext", "bits_per_byte") and run.higher_better("gsm8k", "exact_match,strict-match")
    table = invoke("compare", str(stored), str(twin), "--format", "csv")
    assert table.returncode == 0, table.stderr
    assert "exact_match,strict-match" in table.stdout and "bits_per_byte" in table.stdout


@pytest.mark.parametrize(("task", "extra", "why"), [("wikitext", (), "nothing to answer")])
def test_cot_refuses_rolling_tasks(mirror: Path, tmp_path: Path, task: str, extra: tuple[str, ...], why: str) -> None:
    result = _run(mirror, tmp_path / "cot", "--cot", *extra, tasks=(task,))
    assert result.returncode == 2 and result.exception is None
    error = [x for x in (result.stdout + result.stderr).splitlines() if x.startswith("error:")]
    assert len(error) == 1 and why in error[0] and task in error[0], result.stdout + result.stderr



def test_non_finite_log_likelihoods_make_documents_invalid(mirror: Path, tmp_path: Path) -> None:
    """A 'k' in lambada doc 1 ('kids') and wikitext page 2 ('Brick mill') meets a NaN embedding row: the run
    fails naming them (exit 3); with --allow-invalid the other documents are scored."""
    card = str(nan_card(tmp_path, "k"))
    failed = _run(mirror, tmp_path / "r", tasks=("lambada_openai", "wikitext"), model=card)
    assert failed.returncode == 3, failed.stdout + failed.stderr
    allowed = _run(mirror, tmp_path / "a", "--allow-invalid", tasks=("lambada_openai", "wikitext"), model=card)
    assert allowed.returncode == 0, allowed.stderr
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["titan_eval"]["tasks"]["lambada_openai"]["invalid_docs"] == [1]
    assert run["titan_eval"]["tasks"]["wikitext"]["invalid_docs"] == [2]
    assert run["n-samples"]["wikitext"]["effective"] == LIMIT - 1
    invalid = [ln for ln in _lines(tmp_path / "a") if ln.get("invalid")]
    assert {(ln["task"], ln["doc_id"]) for ln in invalid} == {("lambada_openai", 1), ("wikitext", 2)}
    assert all(ln[m] is None for ln in invalid for m in ln["doc_metrics"])
