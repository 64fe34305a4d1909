"""humaneval and mbpp end to end through `titan-eval run`, offline (HF_HUB_OFFLINE=1) from tiny local mirrors,
with a scripted model: canonical solutions pass (pass@1 = 1), wrong ones fail (pass@1 = 0); the YAMLs are
lm-eval's but for the metric and filter functions; a missing bubblewrap is refused in one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from code_helpers import HUMANEVAL, MBPP, MBPP_WRONG, WRONG, build_code_mirror, lines, script_model
from titan_eval.paths import TASKS_DIR
from titan_eval.tasks.task_yaml import read_task_yaml

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="needs bubblewrap (`apt-get install bubblewrap`): bwrap is not on PATH")


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.delenv("HF_ALLOW_CODE_EVAL", raising=False)
    return build_code_mirror(tmp_path / "mirror")


def _run(mirror: Path, out: Path, task: str, *extra: str) -> Any:
    result = invoke("run", task, "--model", "titan-tiny", "--data-dir", str(mirror), "--output", str(out), *extra)
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    return json.loads((out / "run.json").read_text())


def _humaneval(doc: dict[str, Any], wrong: bool) -> str:
    row = next(r for r in HUMANEVAL if r["task_id"] == doc["task_id"])
    return WRONG[row["task_id"]] if wrong else row["canonical_solution"]


def _mbpp(doc: dict[str, Any], wrong: bool) -> str:
    row = next(r for r in MBPP if r["task_id"] == doc["task_id"])
    return (MBPP_WRONG[row["task_id"]] if wrong else row["code"]) + "\n"


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("task", ["humaneval", "humaneval_plus"])
def test_humaneval_canonical_passes_and_wrong_fails(task: str, offline: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from titan_eval.code.executor import Executor

    batches: list[int] = []
    run_many = Executor.run_many
    monkeypatch.setattr(Executor, "run_many", lambda self, progs: batches.append(len(progs)) or run_many(self, progs))
    for wrong, expected in ((False, 1.0), (True, 0.0)):
        script_model(monkeypatch, lambda doc: _humaneval(doc, wrong))
        batches.clear()
        record = _run(offline, tmp_path / f"run-{wrong}", task)
        assert batches == [len(HUMANEVAL)]  # every program at once (the filter), none again by the metric
        assert record["results"][task]["pass@1,create_test"] == expected
        code = record["titan_eval"]["code"]
        assert code["sandbox"] == "bubblewrap" and code["limits"]["wall_s"] == 10.0
        got = lines(tmp_path / f"run-{wrong}")
        assert [ln["code"][0]["outcome"] for ln in got] == ["failed" if wrong else "passed"] * len(HUMANEVAL)
        assert got[0]["filtered"]["create_test"] == [HUMANEVAL[0]["prompt"] + _humaneval(HUMANEVAL[0], wrong)]


@needs_bwrap
@pytest.mark.slow
@pytest.mark.parametrize("task", ["mbpp", "mbpp_plus"])
def test_mbpp_canonical_passes_and_wrong_fails(task: str, offline: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for wrong, expected in ((False, 1.0), (True, 0.0)):
        asked = script_model(monkeypatch, lambda doc: _mbpp(doc, wrong))
        record = _run(offline, tmp_path / f"run-{wrong}", task, "--code-workers", "2")
        assert record["results"][task]["pass_at_1,none"] == expected
        got = lines(tmp_path / f"run-{wrong}")
        assert [ln["code"][0]["outcome"] for ln in got] == ["failed" if wrong else "passed"] * len(MBPP)
        assert got[0]["prompt"].count("[BEGIN]") == 4  # lm-eval's three few-shot examples, then the question
        assert {d["task_id"] for d in asked} == {r["task_id"] for r in MBPP}


def test_yamls_are_lm_evals_but_for_the_scoring_functions() -> None:
    import lm_eval

    theirs_dir = Path(lm_eval.__file__).parent / "tasks"
    for name, folder in (("humaneval", "humaneval"), ("humaneval_plus", "humaneval"), ("mbpp", "mbpp"),
                         ("mbpp_plus", "mbpp")):
        ours, theirs = read_task_yaml(TASKS_DIR / f"{name}.yaml"), read_task_yaml(theirs_dir / folder / f"{name}.yaml")
        for cfg in (ours, theirs):
            cfg.pop("unsafe_code", None)
            cfg.pop("metric_list", None)
            cfg.pop("filter_list", None)
            cfg.pop("fewshot_config", None)
            cfg.get("metadata", {}).pop("sandboxed_code", None)
        assert ours == theirs, name
    ours = read_task_yaml(TASKS_DIR / "humaneval.yaml")
    assert ours["metric_list"][0]["k"] == [1] and ours["filter_list"][0]["name"] == "create_test"


def test_mbpp_fewshot_examples_are_lm_evals() -> None:
    from titan_eval.code.lm_eval_metrics import mbpp_fewshot_samples

    samples = mbpp_fewshot_samples()
    assert [s["task_id"] for s in samples] == [2, 3, 4] and all(s["is_fewshot"] for s in samples)


def test_a_missing_bubblewrap_is_refused_in_one_line(offline: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import titan_eval.code.sandbox as sandbox
    import titan_eval.code.session as session

    monkeypatch.setattr(session.shutil, "which", lambda name: None)
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    result = invoke("run", "humaneval", "--data-dir", str(offline), "--output", str(tmp_path / "r"))
    assert result.returncode == 2
    error = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(error) == 1 and "bubblewrap" in error[0] and "--unsafe-code" in error[0], result.stderr
    assert not (tmp_path / "r" / "run.json").exists()


@pytest.mark.slow
def test_unsafe_code_records_no_sandbox(offline: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script_model(monkeypatch, lambda doc: _humaneval(doc, False))
    result = invoke("run", "humaneval", "--model", "titan-tiny", "--data-dir", str(offline), "--output",
                    str(tmp_path / "r"), "--unsafe-code")
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    code = record["titan_eval"]["code"]
    assert code["sandbox"] == "none" and code["user_namespace"] is False
    assert code["uid"] == (65534 if os.geteuid() == 0 else os.getuid())  # never root, also without the sandbox
    assert record["titan_eval"]["options"]["unsafe_code"] is True
    assert record["results"]["humaneval"]["pass@1,create_test"] == 1.0
    assert [ln["code"][0]["outcome"] for ln in lines(tmp_path / "r")] == ["passed"] * len(HUMANEVAL)
