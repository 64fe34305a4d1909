"""bits per byte = total NLL / (UTF-8 bytes · ln 2), checked against a hand computation on mamba-tiny, in one
window and in several (each conditioned on EOS), and through `titan-eval run bpb --text`."""

import math

import pytest
import torch

import titan_eval
from suites_helpers import TOK
from titan_eval.errors import DataError
from titan_eval.loading import load
from run_helpers import run_json
from titan_eval.runner import RunOptions
from titan_eval.suites.bpb import bits_per_byte

TEXT = "Grüße aus München! The cat sat on the mat.\nÜber 3 Brücken."


@pytest.fixture(scope="module")
def model():
    return titan_eval.load_model("mamba-tiny")


def hand_nll(model, ids: list[int]) -> float:
    """−Σ log P(ids[t] | EOS, ids[:t]) from one full forward pass."""
    seq = torch.tensor([[TOK.eos_id] + ids])
    with torch.no_grad():
        logp = torch.log_softmax(model(seq)[0].double(), -1)
    return -sum(float(logp[t, seq[0, t + 1]]) for t in range(len(ids)))


def test_bpb_equals_total_nll_over_bytes_ln2(model) -> None:
    ids = TOK.encode(TEXT)
    n_bytes = len(TEXT.encode("utf-8"))
    assert n_bytes > len(TEXT)  # multi-byte characters are counted as bytes, not characters
    res = bits_per_byte(model, TOK, TEXT, window=4096)
    nll = hand_nll(model, ids)
    assert res.bytes == n_bytes and res.tokens == len(ids) and res.roundtrip_exact
    assert res.nll == pytest.approx(nll, rel=1e-5)
    assert res.bpb == pytest.approx(nll / (n_bytes * math.log(2)), rel=1e-5)


def test_windows_each_start_from_eos_and_cover_every_token_once(model) -> None:
    ids = TOK.encode(TEXT)
    res = bits_per_byte(model, TOK, TEXT, window=9, batch_size=3)
    windows = [ids[s : s + 9] for s in range(0, len(ids), 9)]
    assert res.window_tokens == tuple(len(w) for w in windows) and sum(res.window_tokens) == len(ids)
    nll = sum(hand_nll(model, w) for w in windows)
    assert res.nll == pytest.approx(nll, rel=1e-5)
    assert res.bpb == pytest.approx(nll / (len(TEXT.encode()) * math.log(2)), rel=1e-5)
    assert res.bpb != pytest.approx(bits_per_byte(model, TOK, TEXT, window=4096).bpb, rel=1e-6)


def test_run_bpb_records_tokens_bytes_and_rejects_non_utf8(tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(TEXT, encoding="utf-8")
    loaded = load("mamba-tiny", device="cpu")
    _, record = run_json(loaded, RunOptions(tasks=("bpb",), native={"text": str(path)}, output_dir=str(tmp_path / "r")))
    meta = record["titan_eval"]["tasks"]["bpb"]
    assert meta["bytes"] == len(TEXT.encode()) and meta["tokens"] == len(TOK.encode(TEXT))
    expected = meta["nll_nats"] / (meta["bytes"] * math.log(2))
    assert record["results"]["bpb"]["bpb,none"] == pytest.approx(expected, rel=1e-12)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe")
    with pytest.raises(DataError, match="not UTF-8"):
        run_json(loaded, RunOptions(tasks=("bpb",), native={"text": str(bad)}, output_dir=str(tmp_path / "r2")))
