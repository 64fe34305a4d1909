"""Provenance travels in each run's record: two data dirs in one process, and the cot prompt forms."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from run_helpers import run_json
from titan_eval.loading import load
from titan_eval.runner import RunOptions
from titan_eval.hashing import sha256_json
import pytest

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite


def _subset_dir(shared: Path, root: Path, n_test: int, n_dev: int) -> Path:
    """A data dir holding the first lines of the ARC-Easy release files (different bytes, same layout)."""
    target = root / "arc"
    target.mkdir(parents=True)
    for name, n in (("ARC-Easy-Test.jsonl", n_test), ("ARC-Easy-Dev.jsonl", n_dev)):
        lines = (shared / "data" / "arc" / name).read_text(encoding="utf-8").splitlines(keepends=True)[:n]
        (target / name).write_text("".join(lines), encoding="utf-8")
    return root


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_data_dirs_in_one_process_each_record_only_their_own_files(shared: Path, tmp_path: Path) -> None:
    loaded = load("mamba-tiny", device="cpu")
    small = _subset_dir(shared, tmp_path / "small", 30, 5)
    metas = {}
    for label, data_dir in (("full", shared / "data"), ("small", small), ("full-again", shared / "data")):
        _, rec = run_json(loaded, RunOptions(tasks=("arc_easy",), data_dir=str(data_dir), limit=3,
                                             output_dir=str(tmp_path / label)))
        metas[label] = rec["titan_eval"]["tasks"]["arc_easy"]
    for label, data_dir in (("full", shared / "data" / "arc"), ("small", small / "arc"), ("full-again", shared / "data" / "arc")):
        files = metas[label]["data_files"]
        expected = {str(data_dir / n): _sha(data_dir / n) for n in ("ARC-Easy-Test.jsonl", "ARC-Easy-Dev.jsonl")}
        assert files == expected, label
        assert metas[label]["data_sha256"] == sha256_json(sorted(expected.values()))
    assert metas["small"]["data_sha256"] != metas["full"]["data_sha256"] == metas["full-again"]["data_sha256"]
    assert metas["small"]["selection"]["total"] == 30 and metas["full"]["selection"]["total"] == 2376


def test_cot_lists_the_choices_by_default_and_the_plain_form_is_selectable(shared: Path, tmp_path: Path) -> None:
    loaded = load("titan-tiny", device="cpu")
    prompts, fingerprints = {}, {}
    for label, listing in (("listed", True), ("plain", False)):
        out, rec = run_json(loaded, RunOptions(tasks=("arc_challenge",), modes=("cot",), data_dir=str(shared / "data"),
                                               limit=2, think={"think_budget": 2, "list_choices": listing},
                                               output_dir=str(tmp_path / label)))
        lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
        prompts[label] = [(ln["think"]["prompt"], ln["choices"], ln["prompt"]) for ln in lines]
        fingerprints[label] = rec["titan_eval"]["tasks"]["arc_challenge_cot"]["prompt_sha256"]
        assert rec["titan_eval"]["tasks"]["arc_challenge_cot"]["think"]["list_choices"] is listing
    for (listed, choices, context), (plain, _, _) in zip(prompts["listed"], prompts["plain"]):
        question = context[len("Question: "):-len("\nAnswer:")]
        letters = " ".join(f"({'ABCDE'[i]}) {c.strip()}" for i, c in enumerate(choices))
        assert f"{question}\nChoices: {letters}\n" in listed  # the card template follows the choice line
        assert "Choices:" not in plain and context in plain
    assert fingerprints["listed"] != fingerprints["plain"]
