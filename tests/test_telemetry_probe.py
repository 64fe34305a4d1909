"""`titan-eval probe` and `run --telemetry` outputs, and telemetry being off (no hooks, same logits) by default."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from titan_eval.cli.app import app
from titan_eval.engine import ScoreRequest, score
from titan_eval.loading import load
from run_helpers import run_json
from titan_eval.runner import RunOptions
from titan_eval.telemetry import probe
from titan_eval.telemetry.activations import ActivationRecorder
from titan_eval.telemetry.routing import RouteRecorder
from titan_eval.telemetry.signal import StreamRecorder

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite


def hooks(model: nn.Module) -> list[str]:
    """Names of modules carrying any forward (pre-)hook, plus 'global' for module-wide hooks."""
    from torch.nn.modules import module as m

    out = [n for n, mod in model.named_modules() if mod._forward_hooks or mod._forward_pre_hooks]
    return out + (["global"] if m._global_forward_hooks or m._global_forward_pre_hooks else [])


def figures(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


def test_probe_writes_numbers_plots_and_a_report(tmp_path: Path) -> None:
    out = tmp_path / "p"
    result = CliRunner().invoke(app, ["probe", "--model", "titan-tiny", "--suite", "reasoning85", "--per-category", "2",
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    numbers = json.loads((out / "probe.json").read_text())
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert len(pngs) >= 4 and sorted(figures((out / "probe.md").read_text())) == pngs
    assert set(numbers["routing"]) == set(numbers["categories"])
    assert numbers["vault"]["tokens"]["</think>"]["id"] == 258
    assert len(numbers["signal"]["growth"]) == 7  # embedding + 6 layers


def test_probe_falls_back_to_built_in_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "SUITE_DIR", tmp_path / "absent")
    out = tmp_path / "p"
    result = CliRunner().invoke(app, ["probe", "--model", "titan-tiny", "--per-category", "1", "--output", str(out)])
    assert result.exit_code == 0, result.output
    numbers = json.loads((out / "probe.json").read_text())
    assert numbers["suite"].startswith("built-in fallback")
    assert set(numbers["categories"]) == {c for c, _ in probe.FALLBACK_SUITE}


def test_probe_covers_the_think_span_of_a_suite_file(tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    suite.write_text('{"id": "m1", "category": "math", "prompt": "What is 2+2?"}\n'
                     '{"id": "g1", "category": "geo", "prompt": "What is the capital of France?"}\n')
    out = tmp_path / "p"
    result = CliRunner().invoke(app, ["probe", "--model", "titan-tiny", "--suite", str(suite), "--span", "think",
                                      "--positions", "all", "--think-budget", "3", "--answer-budget", "1",
                                      "--output", str(out)])
    assert result.exit_code == 0, result.output
    numbers = json.loads((out / "probe.json").read_text())
    lengths = numbers["think"]["lengths"]
    assert (out / "think_lengths.png").is_file() and all(0 <= n <= 3 for n in lengths)
    positions = sum(v["domain_router"]["n_positions"] for v in numbers["routing"].values())
    assert positions == sum(lengths) == numbers["blackboard_kl"]["all"]["n"]


def test_run_with_telemetry_writes_it_beside_run_json_and_leaves_no_hooks(tmp_path: Path) -> None:
    loaded = load("titan-tiny")
    run_dir, record = run_json(loaded, RunOptions(tasks=("titan_sample",), limit=2, output_dir=str(tmp_path / "r"),
                                             telemetry=True))
    stored = json.loads((run_dir / "run.json").read_text())["titan_eval"]["telemetry"]
    assert stored["report"] == "telemetry.md" and (run_dir / "telemetry.json").is_file()
    assert all((run_dir / name).is_file() for name in stored["figures"].values())
    assert "margins" in stored["figures"]  # from the run's own samples.jsonl
    assert hooks(loaded.model) == []


@pytest.mark.parametrize("card", ["titan-tiny", "h64lm-tiny"])
def test_telemetry_is_off_by_default_and_does_not_change_logits(card: str) -> None:
    model = load(card).model
    requests = [ScoreRequest((1, 2, 3, 4), (5, 6)), ScoreRequest((7, 8), (9,))]
    plain = score(model, requests, batch_size=2)
    assert hooks(model) == []  # scoring registers nothing
    ids = torch.tensor([[72, 101, 108, 108, 111], [84, 105, 0, 0, 0]])
    lengths = torch.tensor([5, 2])
    with torch.no_grad():
        off = model(ids, lengths)
        with RouteRecorder(model), ActivationRecorder(model), StreamRecorder(model):
            assert hooks(model)
            on = model(ids, lengths)
            recorded = score(model, requests, batch_size=2)
    assert hooks(model) == []
    assert torch.equal(on, off)
    # Titan scores whole rows while recorders are attached (they must see the full forward) and through its prefix
    # cache otherwise: the same values up to float rounding
    assert [(r.n_tokens, r.is_greedy) for r in recorded] == [(r.n_tokens, r.is_greedy) for r in plain]
    assert [r.logprob for r in recorded] == pytest.approx([r.logprob for r in plain], abs=1e-5)
