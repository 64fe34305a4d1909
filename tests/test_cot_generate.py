"""Acceptance (issue 24): think mode on a generate_until task (gsm8k, titan-tiny, a tiny local mirror). The trace
is generated first (card format, --think-budget, seeded), then the answer with the task's own `until` and
`max_gen_toks` after the closer; only the answer reaches lm-eval's filters and metrics. Two runs are byte-identical;
a planted trace holding another number never reaches the filters; budget-forced traces are closed, marked and
answered."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalogue_mirror import build_mirror
from cli_helpers import invoke

ARGS = ("--model", "titan-tiny", "--cot", "--limit", "2", "--gen-kwargs", "max_gen_toks=8", "--num-fewshot", "1")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"), long_page_words=50)


def _run(mirror: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    result = invoke("run", "gsm8k", *ARGS, "--data-dir", str(mirror), "--output", str(out), *extra)
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]


def test_two_runs_are_byte_identical_and_record_trace_then_answer(mirror: Path, tmp_path: Path) -> None:
    lines = _run(mirror, tmp_path / "a", "--think-budget", "6", "--temperature", "0.8", "--seed", "5")
    _run(mirror, tmp_path / "b", "--think-budget", "6", "--temperature", "0.8", "--seed", "5")
    assert (tmp_path / "a" / "samples.jsonl").read_bytes() == (tmp_path / "b" / "samples.jsonl").read_bytes()
    assert [ln["task"] for ln in lines] == ["gsm8k_cot", "gsm8k_cot"]
    for ln in lines:
        think = ln["think"]
        assert think["prompt"].endswith(" <think>\n") and "Question:" in think["prompt"]
        assert not think["prompt"].rstrip().endswith("Answer:")  # the task's cue moves after the think block
        assert think["stop_reason"] in {"closed", "forced", "eos"} and 0 < think["length"] <= 6
        assert set(ln["filtered"]) == {"strict-match", "flexible-extract"}
        assert ln["n_tokens"] <= 8 and ln["stop_reason"] in {"stop_id", "stop_string", "max_tokens", "eos_in_think"}
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    meta = run["titan_eval"]["tasks"]["gsm8k_cot"]
    assert meta["think"]["think_budget"] == 6 and meta["think"]["preamble"] == ""
    assert meta["think_stats"]["n"] == 2
    assert set(run["results"]["gsm8k_cot"]) >= {"exact_match,strict-match", "exact_match,flexible-extract"}


def test_budget_forced_traces_are_closed_marked_and_answered(mirror: Path, tmp_path: Path) -> None:
    lines = _run(mirror, tmp_path / "f", "--think-budget", "3", "--min-think", "3")
    for ln in lines:
        assert ln["think"]["stop_reason"] == "forced" and ln["think"]["length"] == 3
        assert ln["n_tokens"] >= 1 and ln["stop_reason"] != "eos_in_think"


def test_a_planted_trace_never_reaches_the_filters(mirror: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The trace says `#### 42`, the answer `#### 7` (gsm8k doc 0's gold): strict-match takes the first `#### N`
    and flexible-extract the last number, so a trace that leaked into the filtered text would give 42 or fail."""
    from titan_eval.engine import Generation
    from titan_eval.suites import think_answer
    from titan_eval.think import Trace

    planted = "Three plus four... I say 42. #### 42"
    contexts: list[tuple[int, ...]] = []

    def traces(model: Any, tok: Any, opts: Any, prompts: Any, seeds: Any, *args: Any, **kw: Any) -> list[Trace]:
        ids = tuple(tok.encode(planted))
        return [Trace(planted, ids, "forced", len(ids), None, s) for s in seeds]

    def answers(model: Any, tok: Any, prompts: Any, config: Any, *args: Any, **kw: Any) -> list[Generation]:
        contexts.extend(tuple(p) for p in prompts)
        assert "Question:" in config.stop_strings and config.max_new_tokens == 8  # the task's own until
        return [Generation(tuple(tok.encode(" 3 + 4 = 7\n#### 7")), " 3 + 4 = 7\n#### 7", "max_tokens")
                for _ in prompts]

    monkeypatch.setattr(think_answer, "generate_traces", traces)
    monkeypatch.setattr(think_answer, "generate", answers)
    lines = _run(mirror, tmp_path / "p")
    from titan_eval.loading import load
    from titan_eval.think import ThinkOptions

    loaded = load("titan-tiny", device="cpu")
    closer = loaded.tokenizer.encode(ThinkOptions.from_card(loaded.card).think_close + loaded.card.prompt.answer_cue)
    planted_ids = loaded.tokenizer.encode(planted)
    for ctx in contexts:  # the answer was generated after prompt + planted trace + closer + answer cue
        assert list(ctx[-len(closer):]) == closer
        assert list(ctx[-len(closer) - len(planted_ids):-len(closer)]) == planted_ids
    first = lines[0]
    assert first["think"]["text"] == planted and first["think"]["stop_reason"] == "forced"
    assert first["generation"] == " 3 + 4 = 7\n#### 7" and "42" not in first["generation"]
    assert first["filtered"] == {"strict-match": "7", "flexible-extract": "7"}
    assert first["exact_match,strict-match"] == 1.0 and first["exact_match,flexible-extract"] == 1.0
