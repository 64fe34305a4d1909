"""Acceptance: titan-eval agrees with lm-eval's own HFLM on a random transformers Mamba, request by request."""

from pathlib import Path

import pytest
from model_helpers import tiny_hf_mamba
import torch

pytestmark = pytest.mark.slow  # end-to-end runs: `pytest -m "not slow"` is the quick suite

pytest.importorskip("transformers")

N_DOCS = 100


@pytest.fixture(scope="module")
def hf_dir(shared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random transformers Mamba with the GPT-NeoX tokenizer."""
    return tiny_hf_mamba(tmp_path_factory.mktemp("hf-mamba"), shared, seed=5)


def _evaluate(lm, shared: Path) -> dict:
    from lm_eval.evaluator import evaluate

    from titan_eval.tasks.catalog import load_lm_eval_tasks

    tasks = load_lm_eval_tasks(["arc_easy"], str(shared / "data"))
    return evaluate(lm, tasks, samples={"arc_easy": list(range(N_DOCS))}, log_samples=True, verbosity="ERROR")


@pytest.fixture(scope="module")
def hflm_run(hf_dir: Path, shared: Path) -> tuple:
    """lm-eval's own HFLM on the directory: (the HFLM, its evaluate() output)."""
    from lm_eval.models.huggingface import HFLM

    hflm = HFLM(pretrained=str(hf_dir), backend="causal", device="cpu", batch_size=16, dtype="float32")
    return hflm, _evaluate(hflm, shared)


@pytest.mark.parametrize("tokenizer_args", [[], ["--tokenizer", "{dir}/tokenizer.json"]], ids=["dir", "tokenizer-json"])
def test_cli_on_a_transformers_directory_matches_hflm(hf_dir: Path, shared: Path, hflm_run: tuple, tmp_path: Path,
                                                      tokenizer_args: list[str]) -> None:
    """`titan-eval run arc_easy --model mamba --checkpoint HF_DIR`: tokenizer and EOS come from the directory."""
    import json

    from typer.testing import CliRunner

    from titan_eval.cli.app import app

    args = ["run", "arc_easy", "--model", "mamba", "--checkpoint", str(hf_dir), "--data-dir", str(shared / "data"),
            "--limit", str(N_DOCS), "--device", "cpu", "--output", str(tmp_path / "run")]
    result = CliRunner().invoke(app, args + [a.format(dir=hf_dir) for a in tokenizer_args])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["titan_eval"]["model"]["tokenizer"]["eos_id"] == 0
    ours = {ln["doc_id"]: ln for ln in map(json.loads, (tmp_path / "run" / "samples.jsonl").read_text().splitlines())}
    theirs = {s["doc_id"]: s for s in hflm_run[1]["samples"]["arc_easy"]}
    assert sorted(ours) == sorted(theirs) == list(range(N_DOCS))
    worst = max(abs(r[0][0] - lp) for d, s in theirs.items() for r, lp in zip(s["resps"], ours[d]["logprobs"]))
    assert worst < 1e-4, worst
    assert all(ours[d]["acc"] == theirs[d]["acc"] and ours[d]["acc_norm"] == theirs[d]["acc_norm"] for d in theirs)


def test_titan_eval_matches_lm_eval_hflm(hf_dir: Path, shared: Path, hflm_run: tuple) -> None:
    from titan_eval.adapter import TitanEvalLM

    hflm, theirs = hflm_run
    card = {"arch": "mamba", "tokenizer": {"kind": "hf", "path": str(shared / "tokenizers" / "gpt-neox-20b" / "tokenizer.json"),
                                           "eos": "<|endoftext|>"}}
    ours_lm = TitanEvalLM(card=card, checkpoint=str(hf_dir), device="cpu", batch_size=8)
    ours = _evaluate(ours_lm, shared)

    a = sorted(theirs["samples"]["arc_easy"], key=lambda s: s["doc_id"])
    b = sorted(ours["samples"]["arc_easy"], key=lambda s: s["doc_id"])
    assert len(a) == len(b) == N_DOCS
    worst = 0.0
    for sa, sb in zip(a, b):
        assert sa["arguments"] == sb["arguments"]  # same requests, same prompts
        for ra, rb in zip(sa["resps"], sb["resps"]):
            worst = max(worst, abs(ra[0][0] - rb[0][0]))
            assert ra[0][1] == rb[0][1]  # is_greedy
        assert sa["acc"] == sb["acc"] and sa["acc_norm"] == sb["acc_norm"]
    assert worst < 1e-4, worst
    for metric in ("acc,none", "acc_norm,none"):
        assert theirs["results"]["arc_easy"][metric] == ours["results"]["arc_easy"][metric]

    ids = torch.randint(0, 50277, (2, 50))
    with torch.no_grad():
        logits_theirs = hflm.model(ids).logits
        logits_ours = ours_lm.model(ids)
    assert (logits_theirs - logits_ours).abs().max().item() < 1e-4
