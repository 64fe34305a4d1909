"""bpb per language: a `.jsonl` text with `lang` fields gives `bpb_<lang>` from that language's texts alone (hand
computation from full forwards), the overall bpb over every text, malformed lines named, and the sweep's per-language
values with CIs and paired tests over that language's windows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

import titan_eval
from run_helpers import run_json
from suites_helpers import TOK
from titan_eval.errors import DataError
from titan_eval.loading import load
from titan_eval.runner import RunOptions
from titan_eval.suites.bpb import read_texts

TEXTS = [("de", "Grüße aus München! Über drei Brücken musst du gehen."),
         ("en", "The cat sat on the mat, and the dog lay by the door."),
         ("de", "Schöne Grüße — bis bald."),
         (None, "A line without a language counts only overall."),
         ("en", "Plain ASCII text: the quick brown fox jumps over the lazy dog.")]


def _write(path: Path, rows: list[tuple[str | None, str]]) -> Path:
    path.write_text("".join(json.dumps({"text": t, **({"lang": lang} if lang else {})}) + "\n" for lang, t in rows),
                    encoding="utf-8")
    return path


def _hand_nll(model: torch.nn.Module, text: str, window: int) -> float:
    """−Σ log P over every window of `text`'s tokens, each window after EOS, from full forwards in float64."""
    ids, total = TOK.encode(text), 0.0
    for s in range(0, len(ids), window):
        seq = torch.tensor([[TOK.eos_id] + ids[s : s + window]])
        with torch.no_grad():
            logp = torch.log_softmax(model(seq)[0].double(), -1)
        total -= sum(float(logp[t, seq[0, t + 1]]) for t in range(seq.shape[1] - 1))
    return total


def test_each_language_is_its_own_texts_nll_over_their_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path / "valid.jsonl", TEXTS)
    loaded = load("mamba-tiny", device="cpu")
    model = titan_eval.load_model("mamba-tiny")
    folder, record = run_json(loaded, RunOptions(tasks=("bpb",), native={"text": str(path), "window": 7},
                                                output_dir=str(tmp_path / "r")))
    nll = {i: _hand_nll(model, t, 7) for i, (_, t) in enumerate(TEXTS)}
    results = record["results"]["bpb"]
    for lang in ("de", "en"):
        mine = [i for i, (la, _) in enumerate(TEXTS) if la == lang]
        n_bytes = sum(len(TEXTS[i][1].encode("utf-8")) for i in mine)
        want = sum(nll[i] for i in mine) / (n_bytes * math.log(2))
        assert results[f"bpb_{lang},none"] == pytest.approx(want, rel=1e-5)
    all_bytes = sum(len(t.encode("utf-8")) for _, t in TEXTS)
    assert results["bpb,none"] == pytest.approx(sum(nll.values()) / (all_bytes * math.log(2)), rel=1e-5)
    assert results["bpb_de,none"] != pytest.approx(results["bpb_en,none"], rel=1e-3)
    meta = record["titan_eval"]["tasks"]["bpb"]
    assert meta["texts"] == 5 and set(meta["languages"]) == {"de", "en"} and meta["bytes"] == all_bytes
    assert meta["languages"]["de"]["texts"] == 2 and meta["roundtrip_exact"]
    lines = [json.loads(x) for x in (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    bpb_lines = [ln for ln in lines if ln["task"] == "bpb"]
    assert [ln["doc_id"] for ln in bpb_lines] == list(range(len(bpb_lines)))
    assert {ln["text_line"] for ln in bpb_lines} == {1, 2, 3, 4, 5}
    assert sum(ln["n_tokens"] for ln in bpb_lines if ln["lang"] == "en") == meta["languages"]["en"]["tokens"]
    for text_line in {1, 2, 3, 4, 5}:  # each text's windows restart at its own first token
        assert min(ln["start_token"] for ln in bpb_lines if ln["text_line"] == text_line) == 0


@pytest.mark.parametrize("content, message", [
    ('{"text": "ok", "lang": "en"}\nnot json\n', r"valid\.jsonl:2: not a JSON object"),
    ('{"text": ""}\n', r"valid\.jsonl:1: each line needs a non-empty string field \"text\""),
    ('\n{"text": "ok", "lang": "e n"}\n', r"valid\.jsonl:2: lang must be"),
    ('\n\n', r"valid\.jsonl: no text lines"),
])
def test_a_malformed_line_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "valid.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_texts(path)


def test_a_plain_file_stays_one_text_without_language_fields(tmp_path: Path) -> None:
    path = tmp_path / "valid.txt"
    path.write_text('{"text": "a plain file is never parsed as JSON"}', encoding="utf-8")
    assert [(t.line, t.lang) for t in read_texts(path)] == [(None, None)]


def test_the_sweep_tracks_each_language_with_its_own_windows(tmp_path: Path) -> None:
    from sweep_helpers import make_checkpoints, sweep
    from titan_eval.sweep.sweep_record import read_record
    from titan_eval.sweep.trend import bpb_shares, build_trend, read_steps

    rows = [("de", TEXTS[0][1] * 6), ("en", TEXTS[1][1] * 6), ("de", TEXTS[2][1] * 8), ("en", TEXTS[4][1] * 6)]
    text = _write(tmp_path / "valid.jsonl", rows)
    ckpts = tmp_path / "ckpt"
    make_checkpoints(ckpts, [100, 200])
    out = tmp_path / "sweep"
    sweep(out, [str(ckpts)], text, tasks=("bpb",))
    steps = read_steps(out, read_record(out).complete())
    trend = build_trend(steps)
    values = {(v.step, v.metric): v for v in trend.values}
    for step in steps:
        for lang in ("de", "en"):
            v = values[(step.step, f"bpb_{lang}")]
            x = bpb_shares(step, f"bpb_{lang}")
            assert x is not None and x.size >= 20 and float(x.mean()) == pytest.approx(v.value, rel=1e-9)
            assert v.ci_low is not None and v.ci_low < v.value < v.ci_high
    tested = {c.metric for c in trend.changes}
    assert {"bpb", "bpb_de", "bpb_en"} <= tested
    from titan_eval.report.compare import compare_runs
    from titan_eval.report.runs import load_run

    first, last = (load_run(s.path) for s in (steps[0], steps[-1]))
    rows = {r.metric: r for r in compare_runs([first, last]).rows if r.key == "bpb"}
    want = values[(steps[-1].step, "bpb")].value - values[(steps[0].step, "bpb")].value
    assert rows["bpb"].cells[0].estimate.value == pytest.approx(values[(steps[0].step, "bpb")].value, rel=1e-12)
    assert rows["bpb"].cells[1].paired.delta == pytest.approx(want, rel=1e-9)  # compare pairs the window shares
    assert "titan-eval sweep" in rows["bpb_de"].cells[1].note  # a language's windows: paired by the sweep only
