"""Fuzzing the input readers: for mutated, wrong-typed, garbled or truncated files, every reader either returns or
raises a `TitanEvalError` subclass (the CLI's exit 2/3 with one `error:` line), never another exception.

Each target starts from a valid file (the project's own where there is one), then either replaces or deletes
fields of one record with arbitrary JSON/YAML values, or flips, inserts, deletes and truncates bytes. Hypothesis
runs derandomized with a small budget, so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fuzz_helpers import (FUZZ, NASTY_JSON, NASTY_YAML, VALUES, garbled, jsonl_files, mutated, nasty,
                          only_titan_errors, yaml_files)
from report_helpers import write_run
from titan_eval.cards import load_card
from titan_eval.jsonl import read_jsonl
from titan_eval.paths import CARDS_DIR, TASKS_DIR
from titan_eval.report import CompareConfig, GateConfig, compare_runs, evaluate_gate, load_literature, load_run
from titan_eval.suites.probe_files import load_probes
from titan_eval.suites.suite_file import load_suite
from titan_eval.tasks.data import _arc_row, _hellaswag_row, _to_datasets, load_rows


def _head(path: Path, n: int) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture()
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@FUZZ
@given(data=jsonl_files(['{"a": 1}', '{"b": [1, 2]}']))
@nasty(NASTY_JSON)
def test_read_jsonl(scratch: Path, data: bytes) -> None:
    path = scratch / "x.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: list(read_jsonl(path)))


@FUZZ
@given(data=jsonl_files(_head(TASKS_DIR / "reasoning85" / "suite.jsonl", 3)))
def test_reasoning_suite_file(scratch: Path, data: bytes) -> None:
    path = scratch / "suite.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: load_suite(path))


@FUZZ
@given(data=jsonl_files(_head(TASKS_DIR / "fact_margins" / "facts.jsonl", 3)))
def test_fact_probe_file(scratch: Path, data: bytes) -> None:
    path = scratch / "facts.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: load_probes(path))


HELIX_PROBES = {"defaults": {"prompt_style": "raw"},
                "probes": [{"id": "p1", "family": "capitals", "split": "target", "prompt": "The capital of France is",
                            "correct": " Paris", "wrong": [" Lyon", " Rome"]},
                           {"id": "p2", "family": "capitals", "split": "retention", "prompt": "Q: 2+2?\nA:",
                            "correct": " 4", "wrong": " 5", "prompt_style": "chat"}]}


@FUZZ
@given(data=yaml_files(HELIX_PROBES))
@nasty(NASTY_YAML)
def test_helix_probe_yaml(scratch: Path, data: bytes) -> None:
    path = scratch / "probes.yaml"
    path.write_bytes(data)
    only_titan_errors(lambda: load_probes(path))


HELLASWAG_ROW = {"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.",
                 "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "split": "val", "split_type": "indomain",
                 "label": 3, "endings": ["is using wrap.", "is ripping level tiles off.", "is holding a rubik's cube.",
                                         "starts pulling up roofing."], "source_id": "activitynet~v_-JhWjGDPHMY"}


@FUZZ
@given(data=jsonl_files(_head(TASKS_DIR / "sample" / "titan_sample.jsonl", 3)))
def test_arc_release_rows_to_a_dataset(scratch: Path, data: bytes) -> None:
    path = scratch / "ARC-Easy-Test.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: _to_datasets({"test": load_rows(path, _arc_row)}))


@FUZZ
@given(data=jsonl_files([json.dumps(HELLASWAG_ROW), json.dumps({**HELLASWAG_ROW, "ind": 25, "label": 0})]))
@example(data=(json.dumps({**HELLASWAG_ROW, "ind": 10**30}) + "\n").encode()).via("ind beyond int64")
def test_hellaswag_rows_to_a_dataset(scratch: Path, data: bytes) -> None:
    path = scratch / "hellaswag_val.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: _to_datasets({"validation": load_rows(path, _hellaswag_row)}))


CARD = yaml.safe_load((CARDS_DIR / "mamba-tiny.yaml").read_text())


@FUZZ
@given(data=yaml_files(CARD))
@nasty(NASTY_YAML + [b"arch: mamba\nname: ../../escape\n", b"arch: mamba\nprompt: {template: '{q}'}\n"])
def test_model_card(scratch: Path, data: bytes) -> None:
    path = scratch / "card.yaml"
    path.write_bytes(data)
    only_titan_errors(lambda: load_card(str(path)))


LITERATURE = {"label": "Mamba-130M (paper)", "source": "Gu & Dao 2023, Table 3", "metric": "acc_norm",
              "scores": {"arc_easy": {"acc": 0.48, "acc_norm": 0.452}, "hellaswag": 0.353,
                         "arc_challenge": {"literature": 0.329, "author_base": 0.301, "metric": "acc", "source": "x"}}}


@FUZZ
@given(data=yaml_files(LITERATURE))
@nasty(NASTY_YAML + [b"scores: {arc_easy: 1" + b"0" * 400 + b"}\n"])
def test_literature_file(scratch: Path, data: bytes) -> None:
    path = scratch / "lit.yaml"
    path.write_bytes(data)
    only_titan_errors(lambda: load_literature(path))


def _write_valid_run(directory: Path) -> Path:
    return write_run(directory, {"arc_easy": {"acc": [1, 0, 1, 1, 0, 1], "acc_norm": [1, 1, 0, 1, 0, 0]}},
                     categories={"arc_easy": ["a", "b", "a", "b", "a", "b"]})


def _stored_run_files() -> tuple[dict, list[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        run = _write_valid_run(Path(tmp))
        return json.loads((run / "run.json").read_text()), (run / "samples.jsonl").read_text().splitlines()


RUN_JSON, SAMPLES = _stored_run_files()
RUN_FILES = st.one_of(
    st.tuples(st.just("run.json"), mutated(RUN_JSON, st.nothing()).map(lambda d: json.dumps(d).encode())),
    st.tuples(st.just("run.json"), garbled(json.dumps(RUN_JSON, indent=1).encode())),
    st.tuples(st.just("samples.jsonl"), jsonl_files(SAMPLES)),
)


@FUZZ
@given(file=RUN_FILES)
@example(file=("run.json", NASTY_JSON[0])).via("deep nesting")
@example(file=("run.json", NASTY_JSON[1])).via("invalid UTF-8")
@example(file=("run.json", NASTY_JSON[2])).via("integer beyond int() digit limit")
@example(file=("samples.jsonl", SAMPLES[0].replace('"acc": 1', '"acc": 1' + "0" * 400).encode())).via("huge int")
def test_stored_run_through_compare_and_gate(scratch: Path, file: tuple[str, bytes]) -> None:
    base = scratch / "base"
    if not base.exists():
        _write_valid_run(base)
    cand = _write_valid_run(scratch / "cand")
    name, data = file
    (cand / name).write_bytes(data)

    def read_compare_gate() -> None:
        runs = [load_run(base), load_run(cand)]
        compare_runs(runs, config=CompareConfig(n_resamples=200, by="category")).to_markdown()
        evaluate_gate(*runs, GateConfig(metrics=("acc", "acc_norm"), n_resamples=200)).to_markdown()

    only_titan_errors(read_compare_gate)


TASK_YAML = (TASKS_DIR / "titan_sample.yaml").read_text(encoding="utf-8")


@st.composite
def taskyaml_files(draw: Callable) -> bytes:
    """titan_sample.yaml with one `key: value` line given an arbitrary value or dropped, or its bytes garbled."""
    if draw(st.booleans()):
        return draw(garbled(TASK_YAML.encode()))
    lines = TASK_YAML.splitlines()
    k = draw(st.sampled_from([i for i, ln in enumerate(lines) if ":" in ln and not ln.startswith("#")]))
    key = lines[k].split(":", 1)[0]
    value = yaml.safe_dump(draw(VALUES), default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
    lines[k] = draw(st.sampled_from([f"{key}: {value}", ""]))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture()
def include_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tasks/ that titan-eval's catalog uses as its (only) include path."""
    from titan_eval.tasks import catalog

    folder = tmp_path_factory.mktemp("include") / "tasks"
    shutil.copytree(TASKS_DIR, folder)
    monkeypatch.setattr(catalog, "TASKS_DIR", folder)
    yield folder
    catalog.lm_eval_task_files.cache_clear()


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 15))
@given(data=taskyaml_files())
@nasty(NASTY_YAML[:1] + NASTY_YAML[3:4] + [TASK_YAML.replace("!function titan_data.titan_sample",
                                                             "!function titan_data.no_such_function").encode()])
def test_task_yaml_under_the_include_path(include_path: Path, data: bytes) -> None:
    from titan_eval.tasks import catalog

    (include_path / "titan_sample.yaml").write_bytes(data)
    catalog.lm_eval_task_files.cache_clear()
    only_titan_errors(lambda: catalog.load_lm_eval_tasks(["titan_sample"], None)["titan_sample"].eval_docs)
