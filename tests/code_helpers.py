"""Tiny local Hub mirrors of the code tasks' datasets, in the real column layouts the lm-eval 0.4.13 YAMLs read
(openai/openai_humaneval and evalplus/humanevalplus: task_id, prompt, canonical_solution, test, entry_point;
google-research-datasets/mbpp, config full: task_id, text, code, test_list, test_setup_code, challenge_test_list;
evalplus/mbppplus: task_id, code, prompt, source_file, test_imports, test_list, test), and a scripted model: the
adapter's generation replaced by a function of the document, so `titan-eval run` runs its real path otherwise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

HUMANEVAL = [
    {"task_id": "HumanEval/0",
     "prompt": 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n'
               '    5\n    """\n',
     "canonical_solution": "    return a + b\n",
     "test": "\n\nMETADATA = {}\n\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n"
             "    assert candidate(-1, 1) == 0\n",
     "entry_point": "add"},
    {"task_id": "HumanEval/1",
     "prompt": 'def reverse(s: str) -> str:\n    """Return s reversed.\n    >>> reverse("ab")\n    \'ba\'\n    """\n',
     "canonical_solution": "    return s[::-1]\n",
     "test": "\n\ndef check(candidate):\n    assert candidate('abc') == 'cba'\n    assert candidate('') == ''\n",
     "entry_point": "reverse"},
]
WRONG = {"HumanEval/0": "    return a - b\n", "HumanEval/1": "    return s\n"}
MBPP = [
    {"task_id": 11, "text": "Write a function to add two numbers.", "code": "def add(a, b):\r\n  return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0", "assert add(-1, 1) == 0"],
     "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 12, "text": "Write a function to square a number.", "code": "def square(x):\r\n  return x * x",
     "test_list": ["assert square(2) == 4", "assert square(0) == 0", "assert square(-3) == 9"],
     "test_setup_code": "", "challenge_test_list": []},
]
MBPP_WRONG = {11: "def add(a, b):\n  return a * b\n", 12: "def square(x):\n  return x + x\n"}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_code_mirror(root: Path, humaneval: list[dict[str, Any]] = HUMANEVAL) -> Path:
    """The mirror folder (`--data-dir`) with humaneval(+), mbpp and mbpp_plus test splits."""
    write_jsonl(root / "openai" / "openai_humaneval" / "default" / "test.jsonl", humaneval)
    write_jsonl(root / "evalplus" / "humanevalplus" / "default" / "test.jsonl", humaneval)
    write_jsonl(root / "google-research-datasets" / "mbpp" / "full" / "test.jsonl", MBPP)
    plus = [{"task_id": r["task_id"], "code": r["code"], "prompt": r["text"], "source_file": "x.py",
             "test_imports": [], "test_list": r["test_list"], "test": "\n".join(r["test_list"])} for r in MBPP]
    write_jsonl(root / "evalplus" / "mbppplus" / "default" / "test.jsonl", plus)
    return root


def script_model(monkeypatch: pytest.MonkeyPatch, completion: Callable[[dict[str, Any]], str]) -> list[dict]:
    """Make every generation `completion(doc)`; returns the list of documents it was asked about."""
    from titan_eval.adapter import TitanEvalLM

    asked: list[dict] = []

    def scripted(self: Any, requests: list, config: Any, positions: list[int], *samples: Any) -> list[str]:
        asked.extend(inst.doc for inst in requests)
        return [completion(inst.doc) for inst in requests]

    monkeypatch.setattr(TitanEvalLM, "_generate", scripted)
    return asked


def lines(run: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]
