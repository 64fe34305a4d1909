"""Acceptance for `titan-eval run`: results layout, sample lines, determinism, batch-size invariance."""

import json
from pathlib import Path

import pytest

from cli_helpers import titan_eval

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite

TASKS = ("arc_easy", "arc_challenge", "hellaswag")


@pytest.fixture(scope="module")
def three_task_run(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "r"
    proc = titan_eval("run", *TASKS, "--model", "mamba-tiny", "--data-dir", str(shared / "data"), "--limit", "100",
                      "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "| task" in proc.stdout and "arc_challenge" in proc.stdout
    return out


def test_run_json_has_metrics_stderr_and_provenance(three_task_run: Path) -> None:
    run = json.loads((three_task_run / "run.json").read_text())
    for task in TASKS:
        res = run["results"][task]
        for key in ("acc,none", "acc_stderr,none", "acc_norm,none", "acc_norm_stderr,none"):
            assert isinstance(res[key], float)
        assert run["n-samples"][task]["effective"] == 100
        meta = run["titan_eval"]["tasks"][task]
        assert meta["mode"] == "ll" and len(meta["data_sha256"]) == 64 and meta["selection"]["doc_ids"] == list(range(100))
    prov = run["titan_eval"]
    from titan_eval.models.ops import cpu_scan

    want_backend = "cpu-scan" if cpu_scan.available() else "torch"  # titan-tiny's scan: compiled when it builds
    assert prov["model"]["tokenizer"]["fingerprint"] and prov["model"]["backend"] == want_backend
    assert prov["environment"]["packages"]["torch"] and "commit" in prov["environment"]["git"]
    assert prov["seeds"]["seed"] == 0 and run["config"]["numpy_seed"] == 0


def test_samples_lines_per_task(three_task_run: Path) -> None:
    lines = [json.loads(x) for x in (three_task_run / "samples.jsonl").read_text().splitlines()]
    for task in TASKS:
        mine = [x for x in lines if x["task"] == task]
        assert len(mine) == 100
        first = mine[0]
        for key in ("doc_id", "prompt", "choices", "logprobs", "n_tokens", "pred", "gold", "acc", "acc_norm"):
            assert key in first
        assert len(first["logprobs"]) == len(first["choices"]) == len(first["n_tokens"])
        assert all(isinstance(n, int) and n > 0 for n in first["n_tokens"])
        assert first["acc"] == float(first["pred"] == first["gold"])


def test_same_seed_gives_identical_samples_and_batch_size_does_not_change_predictions(shared: Path, tmp_path: Path) -> None:
    args = ("run", "arc_challenge", "--model", "mamba-tiny", "--data-dir", str(shared / "data"), "--limit", "40",
            "--stratify", "--seed", "3")
    outs = []
    for i, bs in enumerate(("8", "8", "1")):
        proc = titan_eval(*args, "--batch-size", bs, "--output", str(tmp_path / f"r{i}"))
        assert proc.returncode == 0, proc.stderr
        outs.append((tmp_path / f"r{i}" / "samples.jsonl").read_bytes())
    assert outs[0] == outs[1]  # byte-identical
    preds = [[(json.loads(x)["pred"], json.loads(x)["pred_norm"]) for x in o.splitlines()] for o in outs]
    assert preds[0] == preds[2]
    run = json.loads((tmp_path / "r0" / "run.json").read_text())
    sel = run["titan_eval"]["tasks"]["arc_challenge"]["selection"]
    assert sel["stratify"] and sum(sel["strata"].values()) == 40 and sel["doc_ids"] != list(range(40))
