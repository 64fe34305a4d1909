"""Math tasks the way their own checkers score them (issue 30): lm-eval's minerva_math (answer equivalence through
sympy's LaTeX parser and math-verify) and aime24 (exact match after normalisation), from tiny local mirrors in the
real Hub column layouts, with a scripted model whose K = 4 samples per problem are the right answer, the same answer
in another form, a wrong one and the right one again. samples.jsonl carries each sample's extracted answer and the
checker's verdict; maj@K votes over the extracted answers (so two forms of one answer do not split the vote)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import invoke
from code_helpers import lines, script_model, write_jsonl

pytest.importorskip("math_verify", reason="minerva_math needs the math extra (pip install 'titan-eval[math]')")

ALGEBRA = [  # EleutherAI/hendrycks_math, config algebra: problem, level, type, solution
    {"problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?", "level": "Level 1", "type": "Algebra",
     "solution": "We have $\\frac{1}{2} + \\frac{1}{4} = \\frac{2}{4} + \\frac{1}{4} = \\boxed{\\frac{3}{4}}$."},
    {"problem": "Solve $2x + 3 = 11$ for $x$.", "level": "Level 1", "type": "Algebra",
     "solution": "Subtracting 3 gives $2x = 8$, so $x = \\boxed{4}$."},
]
AIME = [  # Maxwell-Jia/AIME_2024: ID, Problem, Solution, Answer
    {"ID": "2024-I-1", "Problem": "Find the remainder when $2^{10}$ is divided by $1000$.",
     "Solution": "$2^{10} = 1024$, so the remainder is $\\boxed{24}$.", "Answer": 24},
    {"ID": "2024-I-2", "Problem": "What is $7 \\cdot 11 \\cdot 13$?", "Solution": "It is $1001$.", "Answer": 1001},
]
# per problem: right, right in another form, wrong, right again (minerva's answer line; aime's \boxed{})
MINERVA_SAMPLES = {
    "What is $\\frac{1}{2} + \\frac{1}{4}$?": ["\\frac{3}{4}", "0.75", "\\frac{1}{2}", "\\frac{3}{4}"],
    "Solve $2x + 3 = 11$ for $x$.": ["4", "4.0", "7", "4"],
}
AIME_SAMPLES = {"Find the remainder when $2^{10}$ is divided by $1000$.": ["24", "24^\\circ", "23", "24"],
                "What is $7 \\cdot 11 \\cdot 13$?": ["1001", "1001\\%", "1000", "1001"]}
# (aime's checker drops units like ^\\circ and \\% but not leading zeros or thousands separators: "024" and
# "1,001" are wrong to it, and so they are here)


def _mirror(root: Path) -> Path:
    write_jsonl(root / "EleutherAI" / "hendrycks_math" / "algebra" / "test.jsonl", ALGEBRA)
    write_jsonl(root / "EleutherAI" / "hendrycks_math" / "algebra" / "train.jsonl", ALGEBRA[:1])
    write_jsonl(root / "Maxwell-Jia" / "AIME_2024" / "default" / "train.jsonl", AIME)
    return root


def _scripted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sample k of a problem answers with the k-th entry of its list (calls come per sample, in sample order)."""
    seen: dict[str, int] = {}

    def completion(doc: dict[str, Any]) -> str:
        if "problem" in doc:
            key, table = doc["problem"], MINERVA_SAMPLES
            fmt = "The sum follows.\nFinal Answer: The final answer is ${}$. I hope it is correct."
        else:
            key, table = doc["Problem"], AIME_SAMPLES
            fmt = "So the answer is $\\boxed{{{}}}$."
        k = seen.get(key, 0)
        seen[key] = k + 1
        return fmt.format(table[key][k % 4])

    script_model(monkeypatch, completion)


@pytest.mark.parametrize("task, table", [("minerva_math_algebra", MINERVA_SAMPLES), ("aime24", AIME_SAMPLES)])
def test_each_sample_records_its_answer_and_the_checkers_verdict(task: str, table: dict[str, list[str]],
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _scripted(monkeypatch)
    out = tmp_path / "run"
    done = invoke("run", task, "--model", "titan-tiny", "--data-dir", str(_mirror(tmp_path / "mirror")),
                  "--samples", "4", "--temperature", "0.8", "--pass-k", "1,2,4", "--num-fewshot", "0",
                  "--gen-kwargs", "max_gen_toks=64", "--output", str(out))  # aime asks 32768: above any card's length
    assert done.returncode == 0, (done.stdout, done.stderr, done.exception)
    rows = lines(out)
    assert len(rows) == 2
    for row in rows:
        samples = row["sampled"]["samples"]
        verdicts = [s["metrics"]["exact_match"] for s in samples]
        # right, the same answer in another form (sympy / strip_string equivalence), wrong, right
        assert verdicts == [1, 1, 0, 1], [s["answer"] for s in samples]
        answers = [s["answer"] for s in samples]
        assert answers[0] == answers[3] and answers[2] != answers[0]
        assert row["answer"] == answers[0]  # the line's answer: sample 0's, as lm-eval scores sample 0
        values = row["sampled"]["values"]
        assert values["exact_match_avg@4"] == 0.75 and values["exact_match_maj@4"] == 1.0
        assert values["exact_match_pass@1"] == pytest.approx(0.75) and values["exact_match_pass@4"] == 1.0
    results = json.loads((out / "run.json").read_text())["results"][task]
    assert results["exact_match_avg@4,none"] == 0.75 and results["exact_match,none"] == 1.0
    if task.startswith("minerva"):
        assert all("math_verify" in s["metrics"] for s in rows[0]["sampled"]["samples"])


def test_extractors_by_task_family() -> None:
    from types import SimpleNamespace

    from titan_eval.tasks.math_answers import extractor

    def named(name: str) -> Any:
        return SimpleNamespace(config=SimpleNamespace(task=name))

    aime = extractor(named("aime24"))
    assert aime is not None and aime("so $\\boxed{24}$") == aime("$24$") == "24"
    assert aime("no dollars: 7") == "nodollars:7"  # strip_string drops spaces, as is_equiv compares
    minerva = extractor(named("minerva_math_prealgebra"))
    assert minerva is not None
    assert minerva("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.") == "\\frac{1}{2}"
    assert minerva("no final line") == "[invalidanswer]"
    assert extractor(named("gsm8k")) is None  # its filters extract
