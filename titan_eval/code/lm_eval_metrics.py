"""The code tasks' lm-eval functions (humaneval, humaneval_plus, mbpp, mbpp_plus; YAMLs in the project's tasks/
folder, glue in tasks/code_exec.py): lm-eval's prompts, filters, generation settings and test programs, with the
metric computed by the project's executor (`code.session`) instead of the Hub's `code_eval` — no Hub access, no
HF_ALLOW_CODE_EVAL.

What runs for a document is lm-eval's: the filtered prediction, a newline, the task's target (humaneval:
`{test}\\ncheck({entry_point})`; mbpp: its three test asserts), as code_eval joins them. The filters return exactly
what lm-eval's return (humaneval: prompt + completion; mbpp: the completion, as the default `take_first`) and hand
every document's programs of the call to the executor at once (`session.prefetch`), so they run in parallel; the
per-document metric then reads their verdicts. The tests a filter prefetches for are built from the document the
way the YAML's `doc_to_target` builds them; if the two ever disagreed the metric would still run the right
program, only one at a time.

Metric names stay lm-eval's: humaneval's `pass_at_k` returns {"pass@k": …} for each k ≤ n in the YAML's `k` list
(as code_eval, which omits larger k), mbpp's `pass_at_1` a number.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from titan_eval.code.pass_at_k import mean_pass_at_k
from titan_eval.code.session import session
from titan_eval.errors import DataError


def humaneval_test(doc: dict[str, Any]) -> str:
    """humaneval's test program for `doc`: lm-eval's `doc_to_target`, `{{test}}\\ncheck({{entry_point}})`."""
    return f"{doc['test']}\ncheck({doc['entry_point']})"


def mbpp_test(doc: dict[str, Any]) -> str:
    """mbpp's test program for `doc` (not a few-shot example): lm-eval's `doc_to_target`, its first three asserts."""
    return "\n".join(doc["test_list"][:3])


def humaneval_predictions(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """lm-eval's humaneval filter (each completion after its prompt), its programs prefetched."""
    programs = [[doc["prompt"] + r for r in resp] for resp, doc in zip(resps, docs)]
    session().prefetch([(p, humaneval_test(doc)) for progs, doc in zip(programs, docs) for p in progs])
    return programs


def mbpp_prefetch(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """The responses unchanged (lm-eval's `take_first` follows in the YAML), every one prefetched with its doc's
    tests."""
    session().prefetch([(r, mbpp_test(doc)) for resp, doc in zip(resps, docs) for r in resp])
    return resps


def verdicts(references: Sequence[str], predictions: Sequence[Sequence[str]]) -> list[list[bool]]:
    """Per problem, each candidate's pass/fail with that problem's test (`references[i]` for `predictions[i]`)."""
    if len(references) != len(predictions):
        raise DataError(f"code metric: {len(references)} tests for {len(predictions)} problems")
    run = session()
    return [[run.check(p, test).passed for p in candidates] for test, candidates in zip(references, predictions)]


def pass_at_k(references: Sequence[str], predictions: Sequence[Sequence[str]],
              k: int | Sequence[int] | None = None) -> dict[str, float]:
    """{"pass@k": mean pass@k over the problems} for every k of the YAML's list that every problem's sample count
    reaches (humaneval's metric)."""
    ks = [1] if k is None else [k] if isinstance(k, int) else list(k)
    correct = verdicts(references, predictions)
    n = min(len(v) for v in correct)
    return {f"pass@{kk}": mean_pass_at_k(correct, kk) for kk in ks if kk <= n}


def pass_at_1(references: str | Sequence[str], predictions: str | Sequence[Any]) -> float:
    """mbpp's metric: pass@1 over the problems (one prediction string, or a list of candidates, per problem)."""
    refs = [references] if isinstance(references, str) else list(references)
    preds = [[p] if isinstance(p, str) else list(p) for p in predictions]
    return mean_pass_at_k(verdicts(refs, preds), 1)


@lru_cache(maxsize=1)
def mbpp_fewshot_samples() -> list[dict[str, Any]]:
    """mbpp's three few-shot examples, read as data from the installed lm-eval's `mbpp/utils.py` (the literal its
    `list_fewshot_samples` returns; importing that module would load the Hub's code_eval)."""
    import lm_eval

    path = Path(lm_eval.__file__).parent / "tasks" / "mbpp" / "utils.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "list_fewshot_samples":
            returns = [n for n in ast.walk(node) if isinstance(n, ast.Return)]
            if returns and returns[0].value is not None:
                return list(ast.literal_eval(returns[0].value))
    raise DataError(f"{path}: no literal list_fewshot_samples() to read mbpp's few-shot examples from")
