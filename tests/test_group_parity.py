"""Acceptance (issue 24, groups): `titan-eval run GROUP` on a group YAML in an --include-path folder that names two
catalogue MMLU subjects runs each subject as a task and aggregates the group as lm-eval 0.4.13 does: on one seeded
random transformers Mamba and a tiny cais/mmlu mirror, the per-request log-likelihoods, per-subject metrics and the
group's acc and stderr equal lm-eval's own `simple_evaluate` with HFLM on the same mirror and group YAML — for a
size-weighted group, and for a nested group with unweighted means (which compare/gate cannot pair per document) —
with the tasks' own few-shot settings and with `--num-fewshot 2 --fewshot-seed 3`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from model_helpers import tiny_hf_mamba

from catalogue_mirror import build_mmlu_mirror

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow  # ≈ 20 s: lm-eval indexes its whole catalogue for the reference side

PAIR = """group: mmlu_pair
task:
  - mmlu_abstract_algebra
  - mmlu_anatomy
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: true
metadata:
  version: 1
"""
NESTED = """group: mmlu_nested
task:
  - group: mmlu_algebra_part
    task: [mmlu_abstract_algebra]
    aggregate_metric_list:
      - metric: acc
        weight_by_size: false
  - mmlu_anatomy
aggregate_metric_list:
  - metric: acc
    aggregation: mean
    weight_by_size: false
"""
GROUPS = ("mmlu_pair", "mmlu_nested")
SUBJECTS = ("mmlu_abstract_algebra", "mmlu_anatomy")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the mirror, the --include-path folder with both group YAMLs)."""
    root = tmp_path_factory.mktemp("groups")
    include = root / "include"
    include.mkdir()
    (include / "pair.yaml").write_text(PAIR)
    (include / "nested.yaml").write_text(NESTED)
    return build_mmlu_mirror(root / "mirror"), include


@pytest.fixture(scope="module")
def hf_dir(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_hf_mamba(tmp_path_factory.mktemp("hf-mamba"), shared, seed=3)


SETTINGS = {"task-defaults": (None, 0), "2-shot-seed-3": (2, 3)}
"""(--num-fewshot, --fewshot-seed) on both sides: mmlu's own number (none: 0-shot), then two dev examples each."""


@pytest.fixture(scope="module", params=list(SETTINGS))
def setting(request: pytest.FixtureRequest) -> tuple[int | None, int]:
    return SETTINGS[request.param]


@pytest.fixture(scope="module")
def theirs(hf_dir: Path, folders: tuple[Path, Path], setting: tuple[int | None, int]) -> dict[str, Any]:
    """{group: lm-eval's own `simple_evaluate` output} with HFLM, the groups built by lm-eval's own TaskManager
    (its catalogue plus the include folder)."""
    import os

    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from titan_eval.tasks.hub_mirror import serving

    mirror, include = folders
    num_fewshot, seed = setting
    hflm = HFLM(pretrained=str(hf_dir), backend="causal", device="cpu", batch_size=1, dtype="float32")
    manager = TaskManager(include_path=str(include))
    out = {}
    os.environ["DISABLE_MULTIPROC"] = "1"  # lm-eval's bootstrap in-process
    try:
        for group in GROUPS:
            with serving(mirror):
                out[group] = simple_evaluate(model=hflm, tasks=[group], num_fewshot=num_fewshot,
                                             fewshot_random_seed=seed, task_manager=manager, log_samples=True,
                                             verbosity="ERROR")
    finally:
        del os.environ["DISABLE_MULTIPROC"]
    return out


@pytest.fixture(scope="module")
def ours(hf_dir: Path, folders: tuple[Path, Path], setting: tuple[int | None, int],
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """{group: (the RunRecord, sample lines by (task, doc_id))} of titan-eval's runner on the same directory."""
    import json

    from titan_eval.loading import load
    from titan_eval.run_options import RunOptions
    from titan_eval.runner import run

    mirror, include = folders
    num_fewshot, seed = setting
    loaded = load("mamba", str(hf_dir), device="cpu")
    out = {}
    for group in GROUPS:
        folder = tmp_path_factory.mktemp("run") / group
        options = RunOptions(tasks=(group,), data_dir=str(mirror), include_path=str(include), output_dir=str(folder),
                             num_fewshot=num_fewshot, fewshot_seed=seed)
        _, record = run(loaded, options)
        lines = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
        out[group] = (record, {(ln["task"], ln["doc_id"]): ln for ln in lines})
    return out


def test_per_request_loglikelihoods_and_subject_metrics_match_hflm(ours: dict, theirs: dict,
                                                                    setting: tuple[int | None, int]) -> None:
    record, lines = ours["mmlu_pair"]
    want = theirs["mmlu_pair"]
    worst = 0.0
    for task in SUBJECTS:
        samples = {s["doc_id"]: s for s in want["samples"][task]}
        assert sorted(d for t, d in lines if t == task) == sorted(samples)
        for d, s in samples.items():
            ours_lp = lines[(task, d)]["logprobs"]
            assert len(ours_lp) == len(s["resps"]) == 4
            worst = max([worst] + [abs(r[0][0] - lp) for r, lp in zip(s["resps"], ours_lp)])
            assert lines[(task, d)]["acc"] == s["acc"]
            assert lines[(task, d)]["prompt"] == s["arguments"][0][0]
            assert lines[(task, d)]["prompt"].count("\nAnswer:") == (setting[0] or 0) + 1  # examples, question
        result = record.result(task)
        assert result is not None and result.n == want["n-samples"][task]["effective"]
        for key in ("acc,none", "acc_stderr,none"):
            assert result.metrics[key] == want["results"][task][key], (task, key)
    assert worst <= 1e-4, worst


@pytest.mark.parametrize("group", GROUPS)
def test_group_metrics_equal_lm_evals_aggregation(ours: dict, theirs: dict, group: str) -> None:
    record, _ = ours[group]
    want = theirs[group]
    for name in want["group_subtasks"]:
        result = record.result(name)
        assert result is not None, name
        for key in ("acc,none", "acc_stderr,none"):
            assert result.metrics[key] == want["groups"][name][key], (name, key)
    top = record.result(group)
    assert top.n == sum(record.result(t).n for t in SUBJECTS) == 13
    raw = record.to_json()
    assert raw["group_subtasks"] == want["group_subtasks"]
    assert set(raw["groups"]) == set(want["groups"])


def test_pooled_documents_only_where_the_group_is_their_mean(ours: dict) -> None:
    pair, _ = ours["mmlu_pair"]
    result = pair.result("mmlu_pair")
    assert len(result.per_doc["acc"]) == 13
    assert sum(result.per_doc["acc"]) / 13 == pytest.approx(result.metrics["acc,none"], rel=1e-12)
    nested, _ = ours["mmlu_nested"]
    assert "acc" in nested.result("mmlu_nested").meta["group"]["not_pooled"]  # 5 and 8 documents, unweighted
    inline = nested.result("mmlu_nested::mmlu_algebra_part")  # lm-eval names an inline group under its parent
    assert "acc" in inline.per_doc  # one subtask: its unweighted mean is its documents' mean
