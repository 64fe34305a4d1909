"""`titan-eval run GROUP` (issue 24, groups) on a two-subject cais/mmlu mirror with group YAMLs in an --include-path
folder: the group's result key, lm-eval's `groups` / `group_subtasks` sections and the printed row with its n; an
unknown group name; --limit per subtask and --limit N --stratify across the subtasks; resume; a group without an
aggregation; and `compare` / `gate` on group keys (pooled documents, or a one-line refusal)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from catalogue_mirror import build_mmlu_mirror
from cli_helpers import invoke
from test_group_parity import NESTED, PAIR

PLAIN = "group: mmlu_plain\ntask: [mmlu_abstract_algebra, mmlu_anatomy]\n"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("groups")
    include = root / "include"
    include.mkdir()
    for name, text in (("pair", PAIR), ("nested", NESTED), ("plain", PLAIN)):
        (include / f"{name}.yaml").write_text(text)
    return build_mmlu_mirror(root / "mirror"), include


def _run(folders: tuple[Path, Path], out: Path, *args: str) -> Any:
    mirror, include = folders
    return invoke("run", *args, "--include-path", str(include), "--model", "mamba-tiny", "--data-dir", str(mirror),
                  "--output", str(out))


def _json(run: Path) -> dict[str, Any]:
    return json.loads((run / "run.json").read_text())


@pytest.fixture(scope="module")
def stored(folders: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(a run of mmlu_pair, its stdout)."""
    out = tmp_path_factory.mktemp("runs") / "pair"
    result = _run(folders, out, "mmlu_pair")
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    return out, result.stdout


def test_run_writes_the_group_result_and_row(stored: tuple[Path, str]) -> None:
    run, stdout = stored
    raw = _json(run)
    leaves = [raw["results"][t] for t in ("mmlu_abstract_algebra", "mmlu_anatomy")]
    group = raw["results"]["mmlu_pair"]
    assert group["acc,none"] == pytest.approx((5 * leaves[0]["acc,none"] + 8 * leaves[1]["acc,none"]) / 13)
    assert raw["groups"] == {"mmlu_pair": group}
    assert raw["group_subtasks"] == {"mmlu_pair": ["mmlu_abstract_algebra", "mmlu_anatomy"]}
    assert raw["n-samples"]["mmlu_pair"] == {"original": 13, "effective": 13}
    entry = raw["titan_eval"]["tasks"]["mmlu_pair"]
    assert entry["scorer"] == "lm-eval-group-v1" and entry["group"]["tasks"] == ["mmlu_abstract_algebra",
                                                                                 "mmlu_anatomy"]
    row = next(x for x in stdout.splitlines() if x.startswith("| mmlu_pair "))
    assert row.split("|")[3].strip() == "acc" and row.split("|")[-2].strip() == "13"


def test_unknown_group_is_a_usage_error_with_suggestions(folders: tuple[Path, Path], tmp_path: Path) -> None:
    result = _run(folders, tmp_path / "x", "mmlu_pairr")
    assert result.returncode == 2 and result.exception is None
    assert "did you mean mmlu_pair" in result.stderr, result.stderr


def test_limit_is_per_subtask_and_stratify_splits_it_across_subtasks(folders: tuple[Path, Path],
                                                                     tmp_path: Path) -> None:
    assert _run(folders, tmp_path / "limit", "mmlu_pair", "--limit", "2").returncode == 0
    assert _json(tmp_path / "limit")["n-samples"]["mmlu_pair"]["effective"] == 4
    for name in ("s1", "s2"):
        done = _run(folders, tmp_path / name, "mmlu_pair", "--limit", "6", "--stratify", "--seed", "7")
        assert done.returncode == 0, done.stderr
    raw = _json(tmp_path / "s1")
    tasks = raw["titan_eval"]["tasks"]
    sizes = {t: tasks[t]["selection"]["strata"] for t in ("mmlu_abstract_algebra", "mmlu_anatomy")}
    assert sizes == {"mmlu_abstract_algebra": {"mmlu_abstract_algebra": 2}, "mmlu_anatomy": {"mmlu_anatomy": 4}}
    assert "subtask of group mmlu_pair" in tasks["mmlu_anatomy"]["selection"]["stratify"]
    assert raw["n-samples"]["mmlu_pair"]["effective"] == 6
    assert tasks["mmlu_anatomy"]["selection"]["doc_ids"] == _json(tmp_path / "s2")["titan_eval"]["tasks"][
        "mmlu_anatomy"]["selection"]["doc_ids"]  # seeded


def test_resumed_group_run_gives_the_same_results(stored: tuple[Path, str], folders: tuple[Path, Path],
                                                  tmp_path: Path) -> None:
    run, _ = stored
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    kept = [x for x in (run / "samples.jsonl").read_text().splitlines() if '"task": "mmlu_anatomy"' not in x]
    (resumed / "samples.jsonl").write_text("".join(x + "\n" for x in kept))
    raw = _json(run)
    raw["titan_eval"]["status"] = "interrupted"
    (resumed / "run.json").write_text(json.dumps(raw))
    mirror, include = folders
    done = invoke("run", "mmlu_pair", "--include-path", str(include), "--model", "mamba-tiny", "--data-dir",
                  str(mirror), "--resume", str(resumed))
    assert done.returncode == 0, done.stderr
    assert _json(resumed)["results"] == _json(run)["results"]


def test_group_without_aggregation_has_no_metrics(folders: tuple[Path, Path], tmp_path: Path) -> None:
    assert _run(folders, tmp_path / "plain", "mmlu_plain", "--limit", "2").returncode == 0
    raw = _json(tmp_path / "plain")
    assert raw["results"]["mmlu_plain"] == {"alias": "mmlu_plain"}
    assert "groups" not in raw and raw["group_subtasks"] == {"mmlu_plain": ["mmlu_abstract_algebra", "mmlu_anatomy"]}


def test_compare_and_gate_pair_a_group_over_its_subtasks_documents(stored: tuple[Path, str], tmp_path: Path) -> None:
    from titan_eval.report import GateConfig, evaluate_gate, load_run

    run, _ = stored
    twin = tmp_path / "twin"
    shutil.copytree(run, twin)
    verdict = evaluate_gate(load_run(run), load_run(twin), GateConfig(metrics=("acc",), tasks=("mmlu_pair",),
                                                                           max_drop=0.9))
    (check,) = verdict.checks
    assert (check.key, check.metric, check.n, check.drop) == ("mmlu_pair", "acc", 13, 0)
    both = invoke("gate", str(run), str(twin), "--metric", "acc", "--max-drop", "0.9")  # subjects and group
    assert both.returncode == 0, both.stdout + both.stderr
    table = invoke("compare", str(run), str(twin), "--format", "json")
    assert table.returncode == 0, table.stderr
    rows = [r for r in json.loads(table.stdout)["rows"] if r["key"] == "mmlu_pair" and r["kind"] == "run"]
    assert rows and all(r["n"] == 13 for r in rows) and rows[1]["n_paired"] == 13


def test_gate_refuses_an_unweighted_group_of_unequal_subtasks(folders: tuple[Path, Path], tmp_path: Path) -> None:
    assert _run(folders, tmp_path / "nested", "mmlu_nested").returncode == 0
    done = invoke("gate", str(tmp_path / "nested"), str(tmp_path / "nested"), "--tasks", "mmlu_nested",
                  "--metric", "acc")
    assert done.returncode == 2
    errors = [x for x in done.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "mmlu_nested" in errors[0] and "unweighted mean" in errors[0], done.stderr
    table = invoke("compare", str(tmp_path / "nested"), "--format", "csv")
    assert table.returncode == 0 and "not paired: an unweighted mean" in table.stdout


@pytest.mark.slow  # ≈ 25 s: 57 subject tasks built
def test_catalogue_mmlu_runs_its_nested_groups(tmp_path: Path) -> None:
    """mmlu from lm-eval's catalogue: 57 subjects under four groups, aggregated bottom-up, n summed per group."""
    from titan_eval.tasks.catalog import expand_names

    subjects = tuple(t[len("mmlu_"):] for t in expand_names(["mmlu"]))
    mirror = build_mmlu_mirror(tmp_path / "mirror", subjects)
    done = invoke("run", "mmlu", "--model", "mamba-tiny", "--data-dir", str(mirror), "--limit", "1", "--output",
                  str(tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    raw = _json(tmp_path / "run")
    assert raw["group_subtasks"]["mmlu"] == ["mmlu_stem", "mmlu_other", "mmlu_social_sciences", "mmlu_humanities"]
    assert set(raw["groups"]) == {"mmlu", "mmlu_stem", "mmlu_other", "mmlu_social_sciences", "mmlu_humanities"}
    counts = {k: raw["n-samples"][k]["effective"] for k in raw["group_subtasks"]}
    assert counts["mmlu"] == 57 == sum(v for k, v in counts.items() if k != "mmlu")
    leaves = [k for k in raw["results"] if k not in raw["group_subtasks"]]
    assert len(leaves) == 57
    mean = sum(raw["results"][k]["acc,none"] for k in leaves) / 57
    assert raw["results"]["mmlu"]["acc,none"] == pytest.approx(mean)


def test_a_group_in_cot_mode_aggregates_its_cot_leaves(folders: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "cot"
    result = _run(folders, out, "mmlu_pair", "--cot", "--think-budget", "3", "--limit", "2")
    assert result.returncode == 0, (result.stdout, result.stderr, result.exception)
    raw = _json(out)
    leaves = [raw["results"][f"{t}_cot"]["acc,none"] for t in ("mmlu_abstract_algebra", "mmlu_anatomy")]
    assert raw["results"]["mmlu_pair_cot"]["acc,none"] == pytest.approx(sum(leaves) / 2)  # 2 + 2 documents
    assert raw["n-samples"]["mmlu_pair_cot"]["effective"] == 4
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(lines) == 4 and all(ln["think"]["length"] >= 1 for ln in lines)
