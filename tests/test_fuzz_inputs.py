"""Fuzzing the input readers: for mutated, wrong-typed, garbled or truncated files, every reader either returns or
raises a `TitanEvalError` subclass (the CLI's exit 2/3 with one `error:` line), never another exception.

Each target starts from a valid file (the project's own where there is one), then either replaces or deletes
fields of one record with arbitrary JSON/YAML values, or flips, inserts, deletes and truncates bytes. Hypothesis
runs derandomized with a small budget, so CI sees the same examples every time.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from report_helpers import write_run
from titan_eval.cards import load_card
from titan_eval.errors import TitanEvalError
from titan_eval.jsonl import read_jsonl
from titan_eval.paths import CARDS_DIR, TASKS_DIR
from titan_eval.report import CompareConfig, GateConfig, compare_runs, evaluate_gate, load_literature, load_run
from titan_eval.suites.probe_files import load_probes
from titan_eval.suites.suite_file import load_suite
from titan_eval.tasks.data import _arc_row, _hellaswag_row, _to_datasets, load_rows

# 40 examples per target keeps the file well under 40 s on one core; TITAN_FUZZ_EXAMPLES=1000 for a deeper local run.
FUZZ = settings(max_examples=int(os.environ.get("TITAN_FUZZ_EXAMPLES", "40")), deadline=None, derandomize=True,
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# ---- strategies -------------------------------------------------------------------------------------------------

SCALARS = (st.none() | st.booleans() | st.integers() | st.just(10**400) | st.just(-(10**400))
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["", " ", "..", "/etc/passwd", "acc"]))
KEYS = st.text(max_size=6) | st.sampled_from(["text", "label", "source", "metric"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=8)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into nested dicts/lists (the root included)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw: Callable, seed: Any, keys: st.SearchStrategy = st.integers() | st.none() | st.booleans()) -> Any:
    """`seed` with 1–3 nodes replaced by an arbitrary value, deleted, or given an extra key (YAML can have non-str
    keys, so `keys` may add ints/None/bools)."""
    obj = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(obj)))
        if not path:
            return draw(VALUES)
        parent = obj
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(keys | st.text(max_size=6))] = draw(VALUES)
    return obj


@st.composite
def garbled(draw: Callable, data: bytes) -> bytes:
    """`data` with 1–4 byte edits (flip, insert incl. invalid UTF-8, delete a span) and maybe truncated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(out) - 1)))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and out:
            out[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            out[at:at] = draw(st.binary(max_size=4) | st.sampled_from([b"\xff\xfe", b"\x00", b"{", b"[", b":", b"- "]))
        else:
            del out[at: at + draw(st.integers(1, 16))]
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def _jsonl_files(lines: list[str]) -> st.SearchStrategy[bytes]:
    """A JSONL file from valid `lines` with one record mutated, or the whole file garbled."""
    rows = [json.loads(ln) for ln in lines]

    @st.composite
    def one_row_mutated(draw: Callable) -> bytes:
        k = draw(st.integers(0, len(rows) - 1))
        new = list(rows)
        new[k] = draw(mutated(rows[k], st.nothing()))
        return "".join(json.dumps(r) + "\n" for r in new).encode()

    return one_row_mutated() | garbled("".join(ln + "\n" for ln in lines).encode())


def _yaml_files(doc: Any) -> st.SearchStrategy[bytes]:
    """A YAML file from a valid `doc` with nodes mutated (non-str keys allowed), or its text garbled."""
    dump = lambda d: yaml.safe_dump(d, allow_unicode=True, sort_keys=False).encode()  # noqa: E731
    return mutated(doc).map(dump) | garbled(dump(doc))


def only_titan_errors(call: Callable[[], Any]) -> None:
    """Run `call`; a TitanEvalError is a fine answer, any other exception fails the example."""
    try:
        call()
    except TitanEvalError as err:
        event(f"refused: {type(err).__name__}")
    else:
        event("accepted")


def _head(path: Path, n: int) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[:n]


@pytest.fixture()
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---- targets ----------------------------------------------------------------------------------------------------

NASTY_YAML = [b"!!python/object/apply:os.system ['echo pwned']\n", b"[" * 5000, b"a: &a [*a, *a]\nb: *a\n",
              b"- \xff\xfe\n", b"{? [1]: 2}\n", b"key: !function os.getcwd\n", b"name: 2020-13-45\n",
              b"x: " + b"1" * 5000 + b"\n", b"\x00\x01\x02", b"", b"--- a\n--- b\n"]
NASTY_JSON = [b"[" * 5000 + b"\n", b"\xff\xfe{}\n", b'{"a": ' + b"1" * 5000 + b"}\n", b"\xef\xbb\xbf{}\n"]


def nasty(blobs: list[bytes]) -> Callable:
    """Add every blob in `blobs` as an explicit example (run before the generated ones)."""
    def add(test: Callable) -> Callable:
        for blob in blobs:
            test = example(data=blob)(test)
        return test
    return add


@FUZZ
@given(data=_jsonl_files(['{"a": 1}', '{"b": [1, 2]}']))
@nasty(NASTY_JSON)
def test_read_jsonl(scratch: Path, data: bytes) -> None:
    path = scratch / "x.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: list(read_jsonl(path)))


@FUZZ
@given(data=_jsonl_files(_head(TASKS_DIR / "reasoning85" / "suite.jsonl", 3)))
def test_reasoning_suite_file(scratch: Path, data: bytes) -> None:
    path = scratch / "suite.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: load_suite(path))


@FUZZ
@given(data=_jsonl_files(_head(TASKS_DIR / "fact_margins" / "facts.jsonl", 3)))
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
@given(data=_yaml_files(HELIX_PROBES))
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
@given(data=_jsonl_files(_head(TASKS_DIR / "sample" / "titan_sample.jsonl", 3)))
def test_arc_release_rows_to_a_dataset(scratch: Path, data: bytes) -> None:
    path = scratch / "ARC-Easy-Test.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: _to_datasets({"test": load_rows(path, _arc_row, "fuzz_arc")}))


@FUZZ
@given(data=_jsonl_files([json.dumps(HELLASWAG_ROW), json.dumps({**HELLASWAG_ROW, "ind": 25, "label": 0})]))
@example(data=(json.dumps({**HELLASWAG_ROW, "ind": 10**30}) + "\n").encode()).via("ind beyond int64")
def test_hellaswag_rows_to_a_dataset(scratch: Path, data: bytes) -> None:
    path = scratch / "hellaswag_val.jsonl"
    path.write_bytes(data)
    only_titan_errors(lambda: _to_datasets({"validation": load_rows(path, _hellaswag_row, "fuzz_hellaswag")}))


CARD = yaml.safe_load((CARDS_DIR / "mamba-tiny.yaml").read_text())


@FUZZ
@given(data=_yaml_files(CARD))
@nasty(NASTY_YAML + [b"arch: mamba\nname: ../../escape\n", b"arch: mamba\nprompt: {template: '{q}'}\n"])
def test_model_card(scratch: Path, data: bytes) -> None:
    path = scratch / "card.yaml"
    path.write_bytes(data)
    only_titan_errors(lambda: load_card(str(path)))


LITERATURE = {"label": "Mamba-130M (paper)", "source": "Gu & Dao 2023, Table 3", "metric": "acc_norm",
              "scores": {"arc_easy": {"acc": 0.48, "acc_norm": 0.452}, "hellaswag": 0.353,
                         "arc_challenge": {"literature": 0.329, "author_base": 0.301, "metric": "acc", "source": "x"}}}


@FUZZ
@given(data=_yaml_files(LITERATURE))
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
    st.tuples(st.just("samples.jsonl"), _jsonl_files(SAMPLES)),
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
def task_yaml_files(draw: Callable) -> bytes:
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
@given(data=task_yaml_files())
@nasty(NASTY_YAML[:1] + NASTY_YAML[3:4] + [TASK_YAML.replace("!function titan_data.titan_sample",
                                                             "!function titan_data.no_such_function").encode()])
def test_task_yaml_under_the_include_path(include_path: Path, data: bytes) -> None:
    from titan_eval.tasks import catalog

    (include_path / "titan_sample.yaml").write_bytes(data)
    catalog.lm_eval_task_files.cache_clear()
    only_titan_errors(lambda: catalog.load_lm_eval_tasks(["titan_sample"], None)["titan_sample"].eval_docs)
