"""`--samples K` on a generate_until task (issue 30, sampled metrics): K seeded generations per document (lm-eval's
`repeats`), each through the task's own filters and metrics, and per metric and filter the document's avg@K, maj@K
and pass@k, aggregated over documents — in ll mode (gsm8k on mamba-tiny) and in cot mode (titan-tiny, a trace per
sample). Two runs are byte-identical; sample 0 is the K = 1 run's generation; lm-eval's own keys score sample 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalogue_mirror import build_mirror
from cli_helpers import invoke
from run_helpers import assert_same_tree
from titan_eval.tasks.sampled_metrics import majority

ARGS = ("gsm8k", "--limit", "3", "--gen-kwargs", "max_gen_toks=6", "--num-fewshot", "1", "--temperature", "0.9",
        "--seed", "7")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"), long_page_words=50)


def _run(mirror: Path, out: Path, *extra: str, model: str = "mamba-tiny") -> tuple[list[dict[str, Any]], dict]:
    result = invoke("run", *ARGS, "--model", model, "--data-dir", str(mirror), "--output", str(out), *extra)
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    return lines, json.loads((out / "run.json").read_text())


def test_majority_breaks_ties_by_the_lowest_sample_index() -> None:
    assert majority(["7", "8", "8", "7"]) == "7"
    assert majority(["[invalid]", "3", "3"]) == "3"
    assert majority(["5"]) == "5"


def test_k_samples_per_document_with_avg_maj_and_pass_at_k(mirror: Path, tmp_path: Path) -> None:
    lines, run = _run(mirror, tmp_path / "a", "--samples", "4", "--pass-k", "1,2,4")
    again, _ = _run(mirror, tmp_path / "b", "--samples", "4", "--pass-k", "1,2,4")
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()
    single, single_run = _run(mirror, tmp_path / "one", "--samples", "1")
    for ln, one in zip(lines, single):
        sampled = ln["sampled"]
        assert sampled["k"] == 4 and len(sampled["samples"]) == 4 == len(ln["generation"])
        assert [s["generation"] for s in sampled["samples"]] == ln["generation"]
        assert len({s["seed"] for s in sampled["samples"]}) == 4
        assert sampled["samples"][0]["generation"] == one["generation"]  # sample 0 = the K = 1 run
        assert ln["filtered"] == sampled["samples"][0]["filtered"]  # lm-eval's own keys: sample 0
        for f in ("strict-match", "flexible-extract"):
            per_sample = [s["metrics"][f"exact_match,{f}"] for s in sampled["samples"]]
            assert sampled["values"][f"exact_match_avg@4,{f}"] == pytest.approx(sum(per_sample) / 4)
            assert ln[f"exact_match_avg@4,{f}"] == sampled["values"][f"exact_match_avg@4,{f}"]
            assert sampled["values"][f"exact_match_pass@4,{f}"] == float(any(per_sample))
            assert sampled["values"][f"exact_match_pass@1,{f}"] == pytest.approx(sum(per_sample) / 4)
            answers = [s["filtered"][f] for s in sampled["samples"]]
            assert sampled["values"][f"exact_match_maj@4,{f}"] in (0.0, 1.0)
            assert answers.count(majority(answers)) == max(answers.count(a) for a in answers)
    results = run["results"]["gsm8k"]
    for label in ("exact_match_avg@4", "exact_match_maj@4", "exact_match_pass@1", "exact_match_pass@2",
                  "exact_match_pass@4"):
        value = results[f"{label},strict-match"]
        assert value == pytest.approx(sum(ln[f"{label},strict-match"] for ln in lines) / len(lines))
        assert f"{label}_stderr,strict-match" in results
    assert results["exact_match,strict-match"] == single_run["results"]["gsm8k"]["exact_match,strict-match"]
    assert run["titan_eval"]["options"]["pass_k"] == [1, 2, 4]


def test_cot_samples_each_have_their_own_trace(mirror: Path, tmp_path: Path) -> None:
    lines, run = _run(mirror, tmp_path / "cot", "--samples", "3", "--cot", "--think-budget", "4", model="titan-tiny")
    for ln in lines:
        samples = ln["sampled"]["samples"]
        assert [s["think"]["seed"] for s in samples] == sorted({s["think"]["seed"] for s in samples}, key=[
            s["think"]["seed"] for s in samples].index)  # three distinct trace seeds
        assert samples[0]["think"] == ln["think"]
        assert all(0 <= s["think"]["length"] <= 4 and s["think"]["stop_reason"] in {"closed", "forced", "eos"} for s in samples)
    assert "exact_match_avg@3,flexible-extract" in run["results"]["gsm8k_cot"]


def test_pass_k_beyond_the_samples_is_refused(mirror: Path, tmp_path: Path) -> None:
    result = invoke("run", *ARGS, "--model", "mamba-tiny", "--data-dir", str(mirror), "--samples", "2",
                    "--pass-k", "1,4", "--output", str(tmp_path / "x"))
    assert result.returncode == 2 and "--pass-k values must lie between 1 and --samples (2)" in result.stdout + result.stderr


def test_cot_samples_do_not_depend_on_the_batch_size(mirror: Path, tmp_path: Path) -> None:
    """gsm8k in cot mode on titan-tiny, K = 3, T = 0.8: --batch-size 1 and 8 give the same tokens, texts, answers and
    metrics (floats such as P(closer) within 1e-5: a shared prefill runs in a different batch); with --deterministic
    the files are byte-identical."""
    extra = ("--samples", "3", "--cot", "--think-budget", "5", "--temperature", "0.8", "--limit", "2")

    def lines(name: str, *more: str) -> list[dict[str, Any]]:
        return _run(mirror, tmp_path / name, *extra, *more, model="titan-tiny")[0]

    assert_same_tree(lines("b1", "--batch-size", "1"), lines("b8", "--batch-size", "8"), rel=1e-5, abs_=1e-7)
    lines("d1", "--batch-size", "1", "--deterministic")
    lines("d8", "--batch-size", "8", "--deterministic")
    assert (tmp_path / "d1" / "samples.jsonl").read_bytes() == (tmp_path / "d8" / "samples.jsonl").read_bytes()
