"""`lm_eval --model titan-eval --model_args …`: the adapter built the way lm-eval's evaluator builds it
(`create_from_arg_string` / `create_from_arg_obj` with lm-eval's own batch_size, max_batch_size and device), which
model args it accepts, and the offline data dir reaching the tasks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from titan_eval.adapter import MODEL_ARGS, TitanEvalLM
from titan_eval.errors import UsageError
from titan_eval.paths import TASKS_DIR

LM_EVAL_EXTRA = {"batch_size": 1, "max_batch_size": None, "device": "cuda:0"}
"""What lm-eval 0.4.13's `simple_evaluate` passes beside --model_args (its CLI's device default is cuda:0)."""


def test_device_in_model_args_is_not_passed_twice() -> None:
    lm = TitanEvalLM.create_from_arg_string("card=titan-tiny,device=cpu", LM_EVAL_EXTRA)
    assert str(lm.loaded.device) == "cpu" and lm.batch_size_value == 1 and lm.loaded.card.name == "titan-tiny"


def test_model_args_keep_their_values_over_lm_evals_options() -> None:
    lm = TitanEvalLM.create_from_arg_obj({"card": "titan-tiny", "device": "cpu", "batch_size": "4"},
                                         {**LM_EVAL_EXTRA, "batch_size": 16})
    assert lm.batch_size_value == 4 and str(lm.loaded.device) == "cpu"


def test_unknown_model_args_are_refused_with_the_known_ones() -> None:
    with pytest.raises(UsageError) as err:
        TitanEvalLM.create_from_arg_string("card=titan-tiny,temprature=0.5,device=cpu", LM_EVAL_EXTRA)
    assert str(err.value) == f"unknown titan-eval model arg(s) temprature; known: {', '.join(MODEL_ARGS)}"
    assert {"batch_size", "max_batch_size", "device", "data_dir"} <= set(MODEL_ARGS)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["model_args", "metadata"])
def test_lm_eval_cli_reads_the_data_dir_given_in_model_args_or_metadata(shared: Path, tmp_path: Path,
                                                                         how: str) -> None:
    data = shared / "data"
    model_args = "card=titan-tiny,device=cpu" + (f",data_dir={data}" if how == "model_args" else "")
    extra = ["--metadata", json.dumps({"data_dir": str(data)})] if how == "metadata" else []
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}  # the Hub cannot stand in for the files
    proc = subprocess.run([sys.executable, "-m", "lm_eval", "run", "--model", "titan-eval", "--model_args", model_args,
                           "--tasks", "arc_easy", "--include_path", str(TASKS_DIR), "--limit", "2", "--log_samples",
                           "--output_path", str(tmp_path / "out"), *extra],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = sorted((tmp_path / "out").rglob("samples_arc_easy_*.jsonl"))
    first = json.loads(samples[0].read_text().splitlines()[0])
    release = json.loads((data / "arc" / "ARC-Easy-Test.jsonl").read_text().splitlines()[0])
    assert first["doc"]["id"] == release["id"] and first["doc"]["question"] == release["question"]["stem"]
