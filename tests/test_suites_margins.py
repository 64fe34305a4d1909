"""fact_margins: the longest-common-prefix split, margins and ranks against hand-computed bigram probabilities,
a model edited to prefer the correct continuation gives a positive margin, the fact file, and the Helix YAML's
target/retention promotion rule."""

import json
import math

import pytest

from suites_helpers import TOK, BigramLM, loaded
from run_helpers import run_json
from titan_eval.runner import RunOptions
from titan_eval.suites.margin_math import lcp_split
from titan_eval.suites.margins import score_probes
from titan_eval.suites.probe_files import Probe, load_probes
from titan_eval.tokenizers import Tokenizer


class MergingTokenizer(Tokenizer):
    """Greedy longest match over a tiny vocabulary in which "ab" is one token."""

    VOCAB = ["<eos>", "a", "b", "c", "ab", " "]

    def __init__(self) -> None:
        self.name = "merging"
        super().__init__({"<eos>": 0}, "<eos>")

    def _encode_plain(self, text: str) -> list[int]:
        out, i = [], 0
        while i < len(text):
            piece = "ab" if text.startswith("ab", i) else text[i]
            out.append(self.VOCAB.index(piece))
            i += len(piece)
        return out

    def decode(self, ids):
        return "".join(self.VOCAB[i] for i in ids)

    def piece_to_id(self, piece):
        return self.VOCAB.index(piece) if piece in self.VOCAB else None

    @property
    def size(self) -> int:
        return len(self.VOCAB)


def test_lcp_split_handles_a_merge_across_the_boundary() -> None:
    tok = MergingTokenizer()
    assert lcp_split(tok, "ca", "b") == ((3,), (4,))  # "ca"+"b" = c|ab: the prompt's last token is rescored
    assert lcp_split(tok, "c", " a") == ((3,), (5, 1))
    assert lcp_split(tok, "a", "bc") == ((0,), (4, 3))  # nothing in common: condition on EOS


def hand_nll(model: BigramLM, prompt: str, cont: str) -> float:
    ids = TOK.encode(prompt + cont)
    k = len(TOK.encode(prompt))
    return -sum(model.logprob(ids[t - 1], ids[t]) for t in range(k, len(ids))) / (len(ids) - k)


def test_edited_weights_give_a_positive_margin_equal_to_the_hand_value() -> None:
    model = BigramLM(seed=3)
    probe = Probe("p1", "geography", "The capital of France is", " Paris",
                  {"easy": (" banana",), "medium": (" London", " Rome"), "hard": (" Lyon",)}, "en")
    model.boost(TOK.encode(probe.prompt[-1] + probe.correct), 6.0)  # every bigram of " Paris" after "s"
    (m,) = score_probes(loaded(model), [probe], batch_size=2)
    correct = hand_nll(model, probe.prompt, probe.correct)
    assert m.nll_correct == pytest.approx(correct, abs=1e-5)
    for level, texts in probe.distractors.items():
        best = min(hand_nll(model, probe.prompt, d) for d in texts)
        assert m.margin[level] == pytest.approx(best - correct, abs=1e-5)
        assert m.margin[level] > 0 and m.ok[level]
    assert m.strict and m.hardest == "hard"
    assert m.rank == 1  # " " after "s" was boosted to the top


def test_unedited_distractor_wins_when_it_is_boosted_instead() -> None:
    model = BigramLM(seed=3)
    probe = Probe("p1", "geo", "The capital of France is", " Paris", {"hard": (" Lyon",)})
    model.boost(TOK.encode("s Lyon"), 6.0)
    (m,) = score_probes(loaded(model), [probe])
    assert m.margin["hard"] < 0 and not m.strict


def test_rank_matches_the_hand_count() -> None:
    model = BigramLM(seed=5)
    probe = Probe("p", "c", "abc", "x", {"easy": ("y",)})
    (m,) = score_probes(loaded(model), [probe])
    row = [model.logprob(ord("c"), j) for j in range(TOK.size)]
    assert m.rank == 1 + sum(v > row[ord("x")] for v in row)


def test_fact_file_has_enough_bilingual_probes_with_levels() -> None:
    _, probes = load_probes()
    assert len(probes) >= 60
    assert len({p.category for p in probes}) >= 5
    assert {p.lang for p in probes} == {"en", "de"}
    assert all(set(p.levels()) == {"easy", "medium", "hard"} for p in probes)
    assert all(p.correct not in sum(p.distractors.values(), ()) for p in probes)


HELIX_YAML = """
defaults:
  prompt_style: raw
probes:
  - {id: t1, family: capital, split: target, prompt: "Die Hauptstadt ist", correct: " Berlin", wrong: " Paris"}
  - {id: r1, family: capital, split: retention, prompt: "Die alte Hauptstadt war", correct: " Bonn", wrong: [" Rom"]}
"""


def _run(tmp_path, model, name):
    path = tmp_path / "probes.yaml"
    path.write_text(HELIX_YAML)
    out = tmp_path / name
    _, record = run_json(loaded(model), RunOptions(tasks=("fact_margins",), native={"probes": str(path)}, output_dir=str(out)))
    lines = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    return record, lines


def test_helix_promotable_only_when_every_target_and_retention_probe_passes(tmp_path) -> None:
    model = BigramLM(seed=1)
    model.boost(TOK.encode("t Berlin"), 8.0)
    model.boost(TOK.encode("r Bonn"), 8.0)
    record, lines = _run(tmp_path, model, "good")
    res = record["results"]
    assert res["fact_margins"]["promotable,none"] == 1.0
    assert res["fact_margins:target"]["strict,none"] == 1.0 and res["fact_margins:retention"]["strict,none"] == 1.0
    assert {ln["doc_id"]: ln["split"] for ln in lines} == {"t1": "target", "r1": "retention"}
    assert all(ln["margin"] > 0 for ln in lines)
    model.boost(TOK.encode("r Rom"), 20.0)  # the retention probe now fails
    record, lines = _run(tmp_path, model, "bad")
    assert record["results"]["fact_margins"]["promotable,none"] == 0.0
    assert record["results"]["fact_margins"]["target_pass,none"] == 1.0
    assert record["results"]["fact_margins"]["retention_pass,none"] == 0.0
    assert math.isfinite(record["results"]["fact_margins"]["margin,none"])
