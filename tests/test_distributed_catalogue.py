"""Catalogue tasks under torchrun (issue 24): `torchrun --nproc-per-node 2` (gloo, CPU) on every lm-eval output type
beside multiple choice — lambada_openai (loglikelihood), wikitext (rolling), gsm8k (generate_until, in ll and cot
mode) — and a two-subject MMLU group, from tiny local mirrors, gives the lines and results of one process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from catalogue_mirror import build_mirror, build_mmlu_mirror
from run_helpers import assert_same_tree

pytestmark = pytest.mark.slow

GROUP = """group: mmlu_pair
task: [mmlu_abstract_algebra, mmlu_anatomy]
aggregate_metric_list:
  - metric: acc
    weight_by_size: true
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _args(mirror: Path, include: Path, out: Path, *tasks: str, mode: str = "ll", extra: tuple[str, ...] = ()
          ) -> list[str]:
    return ["-m", "titan_eval", "run", *tasks, "--data-dir", str(mirror),
            "--include-path", str(include), "--limit", "5", "--mode", mode, "--gen-kwargs", "max_gen_toks=6",
            "--think-budget", "4", "--output", str(out), *(extra or ("--model", "mamba-tiny"))]


def _lines(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal, floats within 1e-5 relative (ranks batch differently, so the last bits can differ)."""
    assert_same_tree(a, b, where, rel=1e-5, abs_=1e-6)


SAMPLED = ("--model", "titan-tiny", "--samples", "4", "--temperature", "0.8")


@pytest.mark.parametrize(("tasks", "mode", "extra"), [(("lambada_openai", "wikitext", "gsm8k", "mmlu_pair"), "ll", ()),
                                                      (("gsm8k",), "cot", ()), (("gsm8k",), "cot", SAMPLED)])
def test_two_ranks_equal_one_process(tmp_path: Path, tasks: tuple[str, ...], mode: str,
                                     extra: tuple[str, ...]) -> None:
    mirror = build_mmlu_mirror(build_mirror(tmp_path / "mirror", long_page_words=200))
    include = tmp_path / "include"
    include.mkdir()
    (include / "pair.yaml").write_text(GROUP)
    one, two = tmp_path / "one", tmp_path / "two"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
              str(_free_port())]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for cmd in ([sys.executable, *_args(mirror, include, one, *tasks, mode=mode, extra=extra)],
                         [*launch, *_args(mirror, include, two, *tasks, mode=mode, extra=extra)])]
    (out1, err1), (out2, err2) = (p.communicate(timeout=900) for p in procs)
    assert procs[0].returncode == 0, err1
    assert procs[1].returncode == 0, err2
    a, b = _lines(one), _lines(two)
    assert [(x["task"], x["doc_id"]) for x in a] == [(x["task"], x["doc_id"]) for x in b]
    for x, y in zip(a, b):
        _close(x, y, f"{x['task']}/{x['doc_id']}")
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (one, two))
    _close(ra["results"], rb["results"], "results")
    assert ra["n-samples"] == rb["n-samples"]
    assert rb["titan_eval"]["distributed"] == {"world_size": 2, "backend": "gloo"}
    if mode == "ll":
        assert {"lambada_openai", "wikitext", "gsm8k", "mmlu_abstract_algebra", "mmlu_anatomy"} <= {x["task"] for x in a}
        assert rb["results"]["mmlu_pair"]["acc,none"] == ra["results"]["mmlu_pair"]["acc,none"]
    else:
        assert [x["think"] for x in a] == [x["think"] for x in b]  # traces exactly
        if extra:  # K = 4 sampled traces and answers per document
            assert all(len(x["sampled"]["samples"]) == 4 for x in b)
            assert [[s["think"]["ids"] for s in x["sampled"]["samples"]] for x in a] == \
                [[s["think"]["ids"] for s in x["sampled"]["samples"]] for x in b]
