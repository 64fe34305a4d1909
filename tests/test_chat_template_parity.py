"""`titan-eval run --apply-chat-template --system-instruction …` (issue 24): lm-eval's prompts rendered in the card's
chat template, few-shot examples as turns, as lm-eval's own `--apply_chat_template` renders them with a transformers
tokenizer's template. A seeded random transformers Mamba whose tokenizer carries the card's `user-assistant` format
as a Jinja template is run both ways on a tiny mirror (piqa: multiple choice, where lm-eval drops the target
delimiter under a chat template; gsm8k: two examples as turns, generation): identical prompts, log-likelihoods
within 1e-4, identical generations, answers and metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from model_helpers import tiny_hf_mamba

from catalogue_mirror import build_mirror
from cli_helpers import invoke

pytest.importorskip("transformers")

TASKS = ("piqa", "gsm8k")
SYSTEM = "Answer briefly."
FEWSHOT = ("--num-fewshot", "2", "--fewshot-seed", "3")
USER_ASSISTANT_JINJA = (
    "{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n"
    "{% elif m['role'] == 'user' %}User: {{ m['content'] }}\n"
    "{% else %}Assistant: {{ m['content'] }}\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}")
"""The `user-assistant` chat template (titan_eval.chat_templates) written as transformers renders templates."""


@pytest.fixture(scope="module")
def hf_dir(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import transformers

    out = tiny_hf_mamba(tmp_path_factory.mktemp("hf-mamba-chat"), shared, seed=1)
    tok = transformers.AutoTokenizer.from_pretrained(out)
    tok.chat_template = USER_ASSISTANT_JINJA
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_mirror(tmp_path_factory.mktemp("mirror"), long_page_words=50)


@pytest.fixture(scope="module")
def theirs(hf_dir: Path, mirror: Path) -> dict[str, Any]:
    import os

    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from titan_eval.tasks.hub_mirror import serving

    hflm = HFLM(pretrained=str(hf_dir), backend="causal", device="cpu", batch_size=1, dtype="float32")
    os.environ["DISABLE_MULTIPROC"] = "1"
    try:
        with serving(mirror):
            return simple_evaluate(model=hflm, tasks=list(TASKS), num_fewshot=2, fewshot_random_seed=3,
                                   apply_chat_template=True, fewshot_as_multiturn=True, system_instruction=SYSTEM,
                                   gen_kwargs="max_gen_toks=16", task_manager=TaskManager(), log_samples=True,
                                   verbosity="ERROR")
    finally:
        del os.environ["DISABLE_MULTIPROC"]


@pytest.fixture(scope="module")
def ours(hf_dir: Path, mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import yaml

    folder = tmp_path_factory.mktemp("ours")
    card = folder / "hf-mamba-chat.yaml"
    card.write_text(yaml.safe_dump({"name": "hf-mamba-chat", "arch": "mamba", "checkpoint": str(hf_dir),
                                    "prompt": {"template": "User: {question}\nAssistant:",
                                               "chat_template": "user-assistant"}}))
    result = invoke("run", *TASKS, "--model", str(card), "--data-dir", str(mirror), *FEWSHOT, "--apply-chat-template",
                    "--system-instruction", SYSTEM, "--gen-kwargs", "max_gen_toks=16", "--output", str(folder / "run"))
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    lines = [json.loads(x) for x in (folder / "run" / "samples.jsonl").read_text().splitlines()]
    return {"lines": {t: {ln["doc_id"]: ln for ln in lines if ln["task"] == t} for t in TASKS},
            "run": json.loads((folder / "run" / "run.json").read_text())}


def _samples(theirs: dict[str, Any], task: str, filter_key: str = "none") -> dict[int, dict[str, Any]]:
    return {s["doc_id"]: s for s in theirs["samples"][task] if s["filter"] == filter_key}


def test_multiple_choice_prompts_and_scores_match(ours: dict, theirs: dict) -> None:
    lines, samples = ours["lines"]["piqa"], _samples(theirs, "piqa")
    assert sorted(lines) == sorted(samples) == [0, 1, 2, 3]
    for d, s in samples.items():
        context, first_choice = s["arguments"][0][0], s["arguments"][0][1]
        assert lines[d]["prompt"] == context
        assert context.startswith(SYSTEM + "\nUser: ") and context.endswith("\nAssistant: ")
        assert context.count("\nAssistant: ") == 3  # two examples as turns, then the question's cue
        assert not first_choice.startswith(" ")  # lm-eval's chat rule: no target delimiter
        assert max(abs(r[0][0] - lp) for r, lp in zip(s["resps"], lines[d]["logprobs"])) <= 1e-4
        assert lines[d]["acc"] == s["acc"] and lines[d]["acc_norm"] == s["acc_norm"]
    for key in ("acc,none", "acc_norm,none"):
        assert ours["run"]["results"]["piqa"][key] == theirs["results"]["piqa"][key]


def test_generation_prompts_answers_and_metrics_match(ours: dict, theirs: dict) -> None:
    lines = ours["lines"]["gsm8k"]
    for filter_key in ("strict-match", "flexible-extract"):
        samples = _samples(theirs, "gsm8k", filter_key)
        assert sorted(samples) == sorted(lines) == [0, 1, 2, 3]
        for d, s in samples.items():
            assert lines[d]["prompt"] == s["arguments"][0][0]
            assert lines[d]["prompt"].count("User: Question:") == 3
            assert lines[d]["generation"] == s["resps"][0][0]
            assert lines[d]["filtered"][filter_key] == s["filtered_resps"][0]
        key = f"exact_match,{filter_key}"
        assert ours["run"]["results"]["gsm8k"][key] == theirs["results"]["gsm8k"][key]


def test_recorded_and_refused_where_it_cannot_apply(ours: dict, tmp_path: Path) -> None:
    assert ours["run"]["titan_eval"]["options"]["apply_chat_template"] is True
    no_template = invoke("run", "piqa", "--model", "h64lm-tiny", "--apply-chat-template", "--output", str(tmp_path / "a"))
    assert no_template.returncode == 2 and "names no chat template" in no_template.stdout + no_template.stderr
    cot = invoke("run", "arc_easy", "--cot", "--apply-chat-template", "--output", str(tmp_path / "b"))
    assert cot.returncode == 2 and "--apply-chat-template is for ll mode" in cot.stdout + cot.stderr
