"""Acceptance (issue 24): `titan-eval run` scores lm-eval catalogue tasks of every output type — multiple choice
(piqa), loglikelihood (lambada_openai), loglikelihood_rolling (wikitext) and generate_until (gsm8k, two filters) —
with lm-eval's own semantics: on one seeded random transformers Mamba and tiny local Hub mirrors, its per-request
values, generations, filtered answers and metrics equal lm-eval's own `simple_evaluate` with HFLM on the same
mirror — with the tasks' own few-shot settings and with `--num-fewshot 2 --fewshot-seed 3`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from model_helpers import tiny_hf_mamba

from catalogue_mirror import build_mirror

pytest.importorskip("transformers")

TASKS = ["piqa", "lambada_openai", "wikitext", "gsm8k"]
MAX_GEN_TOKS = 24
SETTINGS = {"task-defaults": (None, 1234), "2-shot-seed-3": (2, 3)}
"""(--num-fewshot, --fewshot-seed) on both sides: the tasks' own numbers (gsm8k 5-shot, the others 0) with lm-eval's
default seed 1234, then two examples for every task drawn with seed 3."""


@pytest.fixture(scope="module", params=list(SETTINGS))
def setting(request: pytest.FixtureRequest) -> tuple[int | None, int]:
    return SETTINGS[request.param]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="module")
def hf_dir(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random transformers Mamba; seed 1: its greedy gsm8k answers hold numbers, so flexible-extract
    finds some."""
    return tiny_hf_mamba(tmp_path_factory.mktemp("hf-mamba"), shared, seed=1)


@pytest.fixture(scope="module")
def theirs(hf_dir: Path, mirror: Path, setting: tuple[int | None, int]) -> dict[str, Any]:
    """lm-eval's own `simple_evaluate` with HFLM over the mirror (`--num_fewshot`, `--fewshot_random_seed`,
    `--gen_kwargs max_gen_toks=24`): its output with the samples."""
    import os

    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from titan_eval.tasks.hub_mirror import serving

    num_fewshot, seed = setting
    hflm = HFLM(pretrained=str(hf_dir), backend="causal", device="cpu", batch_size=1, dtype="float32")
    os.environ["DISABLE_MULTIPROC"] = "1"  # lm-eval's bootstrap in-process (same draws)
    try:
        with serving(mirror):
            return simple_evaluate(model=hflm, tasks=TASKS, num_fewshot=num_fewshot, fewshot_random_seed=seed,
                                   gen_kwargs=f"max_gen_toks={MAX_GEN_TOKS}", task_manager=TaskManager(),
                                   log_samples=True, verbosity="ERROR")
    finally:
        del os.environ["DISABLE_MULTIPROC"]


@pytest.fixture(scope="module")
def ours(hf_dir: Path, mirror: Path, setting: tuple[int | None, int]) -> dict[str, Any]:
    """titan-eval's lm-eval runner on the same directory, built as `titan-eval run … --model mamba --checkpoint DIR
    --num-fewshot N --fewshot-seed S --gen-kwargs max_gen_toks=24` builds it: {task: (sample lines by doc_id,
    results)}."""
    from titan_eval.loading import load
    from titan_eval.run_options import RunOptions
    from titan_eval.tasks.catalog import load_lm_eval_tasks
    from titan_eval.tasks.fewshot import FewShot
    from titan_eval.tasks.lm_eval_run import run_lm_eval_tasks

    num_fewshot, seed = setting
    gen_kwargs = f"max_gen_toks={MAX_GEN_TOKS}"
    options = RunOptions(tasks=tuple(TASKS), data_dir=str(mirror), num_fewshot=num_fewshot, fewshot_seed=seed,
                         gen_kwargs=gen_kwargs)
    tasks = load_lm_eval_tasks(TASKS, str(mirror), None, FewShot(num_fewshot, seed), gen_kwargs)
    loaded = load("mamba", str(hf_dir), device="cpu")
    written: list[dict[str, Any]] = []
    outputs = run_lm_eval_tasks(loaded, options, "ll", TASKS, {}, written.extend, tasks=tasks)
    out = {}
    for name, output in zip(TASKS, outputs):
        out[name] = ({ln["doc_id"]: ln for ln in output.lines}, dict(output.results[0].metrics))
    assert sorted(ln["doc_id"] for ln in written if ln["task"] == "gsm8k") == sorted(out["gsm8k"][0])
    return out


def _by_doc(theirs: dict[str, Any], task: str, filter_key: str = "none") -> dict[int, dict[str, Any]]:
    return {s["doc_id"]: s for s in theirs["samples"][task] if s["filter"] == filter_key}


def _close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(abs(a), abs(b))


def test_multiple_choice_matches_hflm(ours: dict, theirs: dict) -> None:
    lines, results = ours["piqa"]
    samples = _by_doc(theirs, "piqa")
    assert sorted(lines) == sorted(samples) == [0, 1, 2, 3]
    worst = max(abs(r[0][0] - lp) for d, s in samples.items() for r, lp in zip(s["resps"], lines[d]["logprobs"]))
    assert worst <= 1e-4, worst
    assert all(lines[d]["acc"] == s["acc"] and lines[d]["acc_norm"] == s["acc_norm"] for d, s in samples.items())
    for key in ("acc,none", "acc_norm,none"):
        assert results[key] == theirs["results"]["piqa"][key]


def test_loglikelihood_matches_hflm(ours: dict, theirs: dict) -> None:
    """lambada_openai: the passage minus its last word, the word's log-likelihood and is-greedy; perplexity, acc."""
    lines, results = ours["lambada_openai"]
    samples = _by_doc(theirs, "lambada_openai")
    assert sorted(lines) == sorted(samples) == list(range(6))
    worst = 0.0
    for d, s in samples.items():
        (request,) = lines[d]["requests"]
        (args,) = s["arguments"]
        assert (lines[d]["prompt"], request["continuation"]) == tuple(args)
        assert request["n_tokens"] >= 1
        worst = max(worst, abs(request["loglikelihood"] - s["resps"][0][0][0]))
        assert request["is_greedy"] == s["resps"][0][0][1]
        assert lines[d]["acc"] == s["acc"] and lines[d]["doc_metrics"]["acc"] == s["acc"]
        assert lines[d]["perplexity"] == pytest.approx(math.exp(-request["loglikelihood"]))
    assert worst <= 1e-4, worst
    want = theirs["results"]["lambada_openai"]
    assert results["acc,none"] == want["acc,none"] and results["acc_stderr,none"] == want["acc_stderr,none"]
    assert _close(results["perplexity,none"], want["perplexity,none"], 1e-4)
    assert _close(results["perplexity_stderr,none"], want["perplexity_stderr,none"], 1e-3)


def test_rolling_matches_hflm(ours: dict, theirs: dict) -> None:
    """wikitext: one document per page (the long one spans two 2048-token windows), word and byte counts of the
    raw page, word_perplexity / byte_perplexity / bits_per_byte."""
    lines, results = ours["wikitext"]
    samples = _by_doc(theirs, "wikitext")
    assert sorted(lines) == sorted(samples) == [0, 1, 2]
    assert max(ln["n_tokens"] for ln in lines.values()) > 2048
    worst = 0.0
    for d, s in samples.items():
        assert (lines[d]["target"],) == tuple(s["arguments"][0])
        worst = max(worst, abs(lines[d]["loglikelihood"] - s["resps"][0][0]) / abs(s["resps"][0][0]))
        assert lines[d]["words"] == s["word_perplexity"][1]
        assert lines[d]["bytes"] == s["byte_perplexity"][1] == s["bits_per_byte"][1]
    assert worst <= 1e-6, worst
    want = theirs["results"]["wikitext"]
    for metric in ("word_perplexity", "byte_perplexity", "bits_per_byte"):
        assert _close(results[f"{metric},none"], want[f"{metric},none"], 1e-5), metric
        assert results[f"{metric}_stderr,none"] == want[f"{metric}_stderr,none"] == "N/A"


def test_generate_until_matches_hflm(ours: dict, theirs: dict, setting: tuple[int | None, int]) -> None:
    """gsm8k (5-shot or 2-shot, greedy, max_gen_toks 24): identical prompts and generations, each filter's answer and
    exact_match, and the per-filter results."""
    lines, results = ours["gsm8k"]
    assert sorted(lines) == [0, 1, 2, 3]
    for filter_key in ("strict-match", "flexible-extract"):
        samples = _by_doc(theirs, "gsm8k", filter_key)
        assert sorted(samples) == sorted(lines)
        for d, s in samples.items():
            assert lines[d]["prompt"] == s["arguments"][0][0]
            assert lines[d]["prompt"].count("Question:") == (setting[0] or 5) + 1  # the examples, then the question
            assert lines[d]["generation"] == s["resps"][0][0]
            assert lines[d]["filtered"][filter_key] == s["filtered_resps"][0]
            assert lines[d][f"exact_match,{filter_key}"] == s["exact_match"]
            assert 1 <= lines[d]["n_tokens"] <= MAX_GEN_TOKS
        for name in ("exact_match", "exact_match_stderr"):
            key = f"{name},{filter_key}"
            assert results[key] == theirs["results"]["gsm8k"][key], key
    assert any(ln["filtered"]["flexible-extract"] != "[invalid]" for ln in lines.values())  # answers to compare
    assert results["exact_match,flexible-extract"] > 0  # the seed-1 model answers 349, doc 3's answer
