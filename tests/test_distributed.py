"""Data-parallel runs (titan_eval.distributed): the shard partition; `torchrun --nproc-per-node 2` on CPU (gloo)
gives the samples and results of one process in ll and cot mode (and for the sharded native suites); a failing
rank stops every rank with an error naming it and leaves run.json `status: error` without results."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch.multiprocessing as mp

from run_helpers import assert_same_tree

from titan_eval.distributed import partition, shard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_partition_covers_every_doc_once_balanced_and_deterministic() -> None:
    rng = random.Random(0)
    ids = list(range(100, 197))
    costs = [rng.randint(20, 400) for _ in ids]
    for world in (1, 2, 3, 8):
        shards = partition(ids, costs, world)
        assert sorted(d for s in shards for d in s) == ids
        assert all(s == sorted(s) for s in shards)  # each shard keeps the selection order
        loads = [sum(costs[ids.index(d)] for d in s) for s in shards]
        assert max(loads) - min(loads) <= max(costs)
        assert shards == partition(ids, costs, world)
        assert [shard(ids, costs, r, world) for r in range(world)] == shards


def test_partition_breaks_ties_by_position_then_rank() -> None:
    assert partition(["a", "b", "c", "d"], [5, 5, 5, 5], 2) == [["a", "c"], ["b", "d"]]
    assert partition([7, 8, 9], [1, 9, 1], 2) == [[8], [7, 9]]
    assert partition([], [], 3) == [[], [], []]


# -- end to end under torchrun ---------------------------------------------------------------------------------

def _run_args(shared: Path, out: Path) -> list[str]:
    return ["-m", "titan_eval", "run", "arc_easy", "reasoning85", "fact_margins", "--model", "mamba-tiny",
            "--data-dir", str(shared / "data"), "--limit", "40", "--mode", "ll,cot", "--think-budget", "4",
            "--answer-budget", "4", "--output", str(out)]


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]


def _same(a: Any, b: Any, where: str = "") -> None:
    """Equal, except that floats may differ by 1e-5 (batches differ between ranks, so the last bits can)."""
    assert_same_tree(a, b, where)


@pytest.mark.slow
def test_torchrun_two_ranks_equals_one_process(shared: Path, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
              "--master-port", str(_free_port())]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for cmd in ([sys.executable, *_run_args(shared, one)], [*launch, *_run_args(shared, two)])]
    (out1, err1), (out2, err2) = (p.communicate(timeout=600) for p in procs)
    assert procs[0].returncode == 0, err1
    assert procs[1].returncode == 0, err2
    assert out2.count("| arc_easy_cot ") == 2 and out2.count("| task ") == 1  # rank 0 alone prints the table
    assert out1 == out2
    a, b = _lines(one), _lines(two)
    assert [(x["task"], x["doc_id"]) for x in a] == [(x["task"], x["doc_id"]) for x in b]  # same lines, same order
    assert [sum(x["task"] == t for x in a) for t in ("arc_easy", "arc_easy_cot")] == [40, 40]
    assert {"reasoning85", "fact_margins"} <= {x["task"] for x in a}
    for x, y in zip(a, b):
        _same(x, y, f"{x['task']}/{x['doc_id']}")
    cot = [x for x in b if x["task"] == "arc_easy_cot"]
    assert all(x["think"]["text"] is not None for x in cot)
    assert [x["think"] for x in cot] == [x["think"] for x in a if x["task"] == "arc_easy_cot"]  # traces: exact
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (one, two))
    assert ra["results"]["arc_easy"] == rb["results"]["arc_easy"]  # acc and its stderr: exact
    _same(ra["results"], rb["results"], "results")
    assert ra["n-samples"] == rb["n-samples"]
    assert rb["titan_eval"]["status"] == "complete"
    assert rb["titan_eval"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert sorted(p.name for p in two.iterdir()) == ["run.json", "samples.jsonl"]


# -- a failing rank --------------------------------------------------------------------------------------------

def _rank_main(rank: int, port: int, out: str, report: str, data_dir: str) -> None:
    """One rank of a 2-rank gloo run of `runner.run`; rank 1's model has too few embedding rows for the
    tokenizer, so its first forward pass fails (IndexError) as a broken model would."""
    os.environ.update(RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    from titan_eval import distributed
    from titan_eval.loading import LoadedModel, load
    from titan_eval.models.registry import get_architecture
    from titan_eval.runner import RunOptions, run

    result: dict[str, Any] = {}
    with distributed.session("cpu") as dist:
        loaded = load("mamba-tiny", device="cpu")
        if rank == 1:
            small = get_architecture("mamba").from_config({**loaded.card.config, "vocab_size": 40,
                                                            "init_seed": 0}).eval()
            loaded = LoadedModel(small, loaded.tokenizer, loaded.card, None, loaded.device, loaded.dtype)
        options = RunOptions(tasks=("arc_easy",), modes=("ll",), data_dir=data_dir, limit=8, output_dir=out)
        try:
            run(loaded, options, None, dist)
            result["ok"] = True
        except Exception as err:
            result = {"type": type(err).__name__, "message": str(err), "exit_code": getattr(err, "exit_code", None)}
    Path(report, f"rank{rank}.json").write_text(json.dumps(result))


@pytest.mark.slow
def test_a_failing_rank_stops_every_rank_and_leaves_no_results(shared: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "run", tmp_path / "report"
    report.mkdir()
    mp.spawn(_rank_main, args=(_free_port(), str(out), str(report), str(shared / "data")), nprocs=2, join=True)
    seen = {r: json.loads((report / f"rank{r}.json").read_text()) for r in (0, 1)}
    for r in (0, 1):
        assert seen[r]["type"] == "RankFailure", seen[r]
        assert seen[r]["message"].startswith("rank 1 of 2 failed"), seen[r]
        assert "IndexError" in seen[r]["message"] and seen[r]["exit_code"] == 3
    state = json.loads((out / "run.json").read_text())
    assert state["results"] == {} and state["titan_eval"]["status"] == "error"
    assert "rank 1 of 2 failed" in state["titan_eval"]["error"]
    assert (out / "samples.jsonl").read_text() == ""  # the failed round wrote nothing, not even rank 0's half
